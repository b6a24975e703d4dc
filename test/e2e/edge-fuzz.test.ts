/**
 * A bounded property-based fuzz of the gateway's edge, in both protocol eras: fast-check generates
 * requests nobody wrote down (methods, paths, the protocol headers, credentials, Origin,
 * Content-Encoding, JSON-RPC bodies of both eras, valid and mutated) and sends each over real HTTP
 * to one in-process gateway. Whatever comes, the gateway must answer, in time, with a documented
 * error (or a JSON-RPC answer to the very requests sent), and disturb nothing else: a bystander
 * 2025 session and a 2026-07-28 client keep being answered, and nothing rejects or throws
 * unhandled. The seed is fixed (FUZZ_SEED overrides it), and printed with the shrunk case on failure.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import zlib from 'node:zlib';
import fc from 'fast-check';
import type { Client } from '@modelcontextprotocol/client';
import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  PROTOCOL_VERSION_META_KEY,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '@modelcontextprotocol/server';
import { GATEWAY_ERRORS } from '../../src/gateway/errors.js';
import {
  connectClient,
  fixtureModule,
  openRawSession,
  rawRequest,
  startInProcessGateway,
  textOf,
  type InProcessGateway,
  type RawAnswer,
} from '../helpers/gateway.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20260728);
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
/** An answer must have begun within this; a POST's answer (its stream included) must have ended too. */
const ANSWER_WITHIN = 10_000;
/** How long a GET stream or a listen, which stay open by design, is read before the client closes it. */
const OPEN_STREAM_FOR = 150;
const MODERN = '2026-07-28';
const KEY = 'fuzz-key-0123456789abcdef';

const yaml = `
servers:
  echo:
    module: ${fixtureModule('echo')}
  keyed:
    module: ${fixtureModule('echo')}
    auth: { kind: apiKey, keys: ["\${FUZZ_KEY}"] }
  quick:
    module: ${fixtureModule('echo')}
    sessions: stateless
`;

let gw: InProcessGateway;
/** A 2025 session opened with raw HTTP, whose id the generator may send (to any route). */
let sessionId: string;
/** Clients the generator knows nothing of: they must keep being answered. */
let bystander: Client;
let modernClient: Client;
const unexpected: unknown[] = [];
const onUnexpected = (error: unknown) => unexpected.push(error);

before(async () => {
  process.on('unhandledRejection', onUnexpected);
  process.on('uncaughtException', onUnexpected);
  gw = await startInProcessGateway(yaml, { env: { FUZZ_KEY: KEY } });
  sessionId = await openRawSession(`${gw.url}/mcp/echo`);
  bystander = (await connectClient(`${gw.url}/mcp/echo`, 'fuzz-bystander')).client;
  modernClient = (await connectClient(`${gw.url}/mcp/quick`, 'fuzz-modern', { era: 'auto' })).client;
});
after(async () => {
  await bystander?.close();
  await modernClient?.close();
  await gw?.close();
  process.off('unhandledRejection', onUnexpected);
  process.off('uncaughtException', onUnexpected);
});

// ---- what a request is made of ----

const MODERN_META = {
  [PROTOCOL_VERSION_META_KEY]: MODERN,
  [CLIENT_CAPABILITIES_META_KEY]: {},
  [CLIENT_INFO_META_KEY]: { name: 'fuzz', version: '1.0.0' },
};

/** Any JSON value, unicode strings (lone surrogates too) and deep nesting included. */
const anyJson = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom(2 ** 53, -(2 ** 53) - 2, 1e308, 1.5, -0, 0, '', null, true, [], {}),
  fc.integer({ min: 2, max: 140 }).map((depth) => nested(depth)),
);

function nested(depth: number): unknown {
  let value: unknown = 'bottom';
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { a: value };
  return value;
}

const requestId = fc.oneof(fc.integer({ min: 0, max: 20 }), fc.constantFrom('1', 'x', 'é🙂', 2 ** 53 - 1, -1));

const toolCall = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 12 }).map((text) => ({ name: 'echo', arguments: { text } })),
  fc.constant({ name: 'whoami', arguments: {} }),
  fc.constant({ name: 'fail', arguments: { message: 'fuzz' } }),
  fc.integer({ min: 0, max: 30 }).map((ms) => ({ name: 'slow', arguments: { ms, text: 'slow' } })),
  fc.constant({ name: 'announce_tools_changed', arguments: {} }),
  fc.constant({ name: 'missing', arguments: {} }),
  anyJson.map((args) => ({ name: 'echo', arguments: args })),
);

/** A method and its params, as a client of either era would send them. */
const call = fc.oneof(
  fc.constant({
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'fuzz', version: '1.0.0' } },
  }),
  fc.constant({ method: 'ping', params: undefined }),
  fc.constant({ method: 'tools/list', params: undefined }),
  toolCall.map((params) => ({ method: 'tools/call', params })),
  fc.constant({ method: 'resources/list', params: undefined }),
  fc.constant({ method: 'prompts/list', params: undefined }),
  fc.constant({ method: 'server/discover', params: undefined }),
  fc.constant({ method: 'subscriptions/listen', params: { notifications: { toolsListChanged: true } } }),
  fc.constant({ method: 'logging/setLevel', params: { level: 'debug' } }),
  fc.constant({ method: 'no/such/method', params: undefined }),
);

const notification = fc.oneof(
  fc.constant({ method: 'notifications/initialized', params: undefined }),
  requestId.map((requestId) => ({ method: 'notifications/cancelled', params: { requestId } })),
  fc.constant({ method: 'notifications/roots/list_changed', params: undefined }),
);

type Message = Record<string, unknown>;

/** A well-formed message of either era: a request, a notification or a response. */
const message: fc.Arbitrary<Message> = fc.oneof(
  fc
    .record({ id: requestId, call, modern: fc.boolean() })
    .map(({ id, call, modern }) => withParams({ jsonrpc: '2.0', id, method: call.method }, call.params, modern)),
  fc
    .record({ note: notification, modern: fc.boolean() })
    .map(({ note, modern }) => withParams({ jsonrpc: '2.0', method: note.method }, note.params, modern)),
  requestId.map((id) => ({ jsonrpc: '2.0', id, result: {} })),
  requestId.map((id) => ({ jsonrpc: '2.0', id, error: { code: -32601, message: 'no' } })),
);

function withParams(message: Message, params: unknown, modern: boolean): Message {
  if (!modern) return params === undefined ? message : { ...message, params };
  return { ...message, params: { ...(params as object | undefined), _meta: MODERN_META } };
}

/** A message with one thing wrong (or odd) about it. */
const mutated: fc.Arbitrary<unknown> = fc.oneof(
  fc
    .tuple(message, fc.constantFrom('id', 'method', 'params', 'jsonrpc', 'result', 'error', '_meta', 'extra'), anyJson)
    .map(([base, member, value]) => {
      if (member === '_meta') {
        const params = (base.params as Record<string, unknown> | undefined) ?? {};
        return { ...base, params: { ...params, _meta: value } };
      }
      if (member === 'extra') return { ...base, [String(value).slice(0, 8) || 'x']: value };
      return { ...base, [member]: value };
    }),
  fc.tuple(message, fc.constantFrom(...SUPPORTED_PROTOCOL_VERSIONS, 'garbage', '2099-01-01', '')).map(([base, version]) => ({
    ...base,
    params: { ...(base.params as object | undefined), _meta: { ...MODERN_META, [PROTOCOL_VERSION_META_KEY]: version } },
  })),
  message.map((base) => omit(base, 'jsonrpc')),
);

function omit(record: Message, key: string): Message {
  const { [key]: _, ...rest } = record;
  return rest;
}

/** A body's JSON value: one message, a batch, or any JSON at all. */
const bodyValue = fc.oneof(
  { weight: 5, arbitrary: message },
  { weight: 4, arbitrary: mutated },
  { weight: 2, arbitrary: fc.array(fc.oneof(message, mutated), { minLength: 0, maxLength: 4 }) },
  { weight: 1, arbitrary: anyJson },
);

/** The bytes of a body: its JSON, cut short, not JSON at all, or nothing. */
const bodyText = fc.oneof(
  { weight: 8, arbitrary: bodyValue.map((value) => JSON.stringify(value) ?? '') },
  { weight: 2, arbitrary: fc.tuple(bodyValue, fc.nat()).map(([value, cut]) => truncate(JSON.stringify(value) ?? '', cut)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', '{', '[]', 'null', '"x"', '{"jsonrpc":"2.0"', '\u0000', '\ufeff{}') },
);

function truncate(text: string, cut: number): string {
  return text.length === 0 ? text : text.slice(0, cut % text.length);
}

/** How the body is encoded on the wire, with the Content-Encoding that says so (or lies). */
const encoding = fc.constantFrom('none', 'gzip', 'gzip-broken', 'deflate', 'br-raw', 'identity', 'compress');

const route = fc.constantFrom('echo', 'keyed', 'quick');

/** Where the request goes: a route, or what is not one. */
const pathFor = fc.oneof(
  { weight: 10, arbitrary: route.map((name) => `/mcp/${name}`) },
  { weight: 1, arbitrary: fc.constantFrom('/mcp/ech%6f', '/mcp/%65cho', '/mcp/quick?x=1', '/mcp/echo/', '/mcp/echo/extra') },
  {
    weight: 1,
    arbitrary: fc.constantFrom('/mcp/nope', '/mcp', '/mcp/', '/mcp/%2e%2e', '/mcp/%ZZ', '/mcp/%00', '/mcp/a%2Fb', '/mcp//echo'),
  },
  { weight: 1, arbitrary: fc.integer({ min: 200, max: 8000 }).map((length) => `/mcp/${'a'.repeat(length)}`) },
  { weight: 1, arbitrary: fc.constantFrom('/', '/healthz', '/status.json', '/nothing', '/.well-known/oauth-protected-resource/mcp/echo') },
);

/** A header's value: absent, one, or the field repeated. */
const header = <T extends string>(values: fc.Arbitrary<T>) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 6, arbitrary: values },
    { weight: 1, arbitrary: fc.array(values, { minLength: 2, maxLength: 3 }) },
  );

const SESSION = '<session>';
const ASCII = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 30 });

const headers = fc.record({
  contentType: header(
    fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'APPLICATION/JSON',
      'application/json; charset=latin1',
      'text/plain',
      'application/jsonx',
      '',
    ),
  ),
  accept: header(
    fc.constantFrom(
      'application/json, text/event-stream',
      'Application/JSON, Text/Event-Stream',
      'text/event-stream, application/json;q=0.5',
      'application/json',
      'text/event-stream',
      '*/*',
      '',
    ),
  ),
  version: header(
    fc.constantFrom(
      MODERN,
      '2025-11-25',
      '2025-06-18',
      '2024-11-05',
      ' 2025-06-18 ',
      'garbage',
      '2099-01-01',
      '',
      '2025-06-18, 2026-07-28',
    ),
  ),
  session: header(
    fc.oneof(
      { weight: 4, arbitrary: fc.constant(SESSION) },
      { weight: 2, arbitrary: ASCII },
      { weight: 1, arbitrary: fc.constantFrom('', ' ', `x`.repeat(4096)) },
    ),
  ),
  mcpMethod: header(fc.constantFrom('<method>', 'tools/call', 'tools/list', 'ping', 'x')),
  mcpName: header(fc.constantFrom('<name>', 'echo', 'other')),
  origin: header(fc.constantFrom('http://localhost:5173', 'http://127.0.0.1', 'https://evil.example', 'null')),
  apiKey: header(fc.constantFrom(KEY, 'wrong-key-0123456789', '')),
  authorization: header(fc.constantFrom(`Bearer ${KEY}`, 'Bearer wrong', 'Basic Zm9vOmJhcg==', '')),
});

const exchange = fc.record({
  method: fc.oneof(
    { weight: 12, arbitrary: fc.constant('POST') },
    { weight: 4, arbitrary: fc.constantFrom('GET', 'DELETE', 'OPTIONS', 'PUT') },
  ),
  path: pathFor,
  headers,
  body: bodyText,
  encoding,
});

type Exchange = typeof exchange extends fc.Arbitrary<infer T> ? T : never;

// ---- sending it ----

function requestOf(ex: Exchange): { headers: Record<string, string | string[]>; body: Buffer | undefined } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(ex.body);
  } catch {
    parsed = undefined;
  }
  const first = (Array.isArray(parsed) ? parsed[0] : parsed) as { method?: unknown; params?: { name?: unknown } } | undefined;
  const fill = (value: string) =>
    value === SESSION
      ? sessionId
      : value === '<method>'
        ? String(first?.method ?? 'ping')
        : value === '<name>'
          ? String(first?.params?.name ?? 'echo')
          : value;
  // What a client can put in a header (node:http refuses the rest before sending).
  const sendable = (value: string) => value.replace(/[^\t\x20-\x7e]/g, '?');
  const out: Record<string, string | string[]> = {};
  const set = (name: string, value: string | string[] | undefined) => {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.map((v) => sendable(fill(v))) : sendable(fill(value));
  };
  set('content-type', ex.headers.contentType);
  set('accept', ex.headers.accept);
  set('mcp-protocol-version', ex.headers.version);
  set('mcp-session-id', ex.headers.session);
  set('mcp-method', ex.headers.mcpMethod);
  set('mcp-name', ex.headers.mcpName);
  set('origin', ex.headers.origin);
  set('x-api-key', ex.headers.apiKey);
  set('authorization', ex.headers.authorization);
  if (ex.method === 'GET' || ex.method === 'OPTIONS') {
    if (ex.method === 'OPTIONS' && ex.headers.origin !== undefined) out['access-control-request-method'] = 'POST';
    return { headers: out, body: undefined };
  }
  const raw = Buffer.from(ex.body);
  switch (ex.encoding) {
    case 'gzip':
      out['content-encoding'] = 'gzip';
      return { headers: out, body: zlib.gzipSync(raw) };
    case 'gzip-broken': {
      out['content-encoding'] = 'gzip';
      const zipped = zlib.gzipSync(raw);
      return { headers: out, body: zipped.subarray(0, Math.max(1, zipped.length - 9)) };
    }
    case 'deflate':
      out['content-encoding'] = 'deflate';
      return { headers: out, body: zlib.deflateSync(raw) };
    case 'br-raw':
      out['content-encoding'] = 'br';
      return { headers: out, body: raw };
    case 'identity':
    case 'compress':
      out['content-encoding'] = ex.encoding;
      return { headers: out, body: raw };
    default:
      return { headers: out, body: raw };
  }
}

/** A GET stream or a listen stays open by design; every other answer must end. */
function staysOpen(ex: Exchange): boolean {
  return ex.method === 'GET' || ex.body.includes('subscriptions/listen');
}

async function send(ex: Exchange): Promise<RawAnswer> {
  const { headers, body } = requestOf(ex);
  // node:http frames a DELETE's body with no length (its bytes would be a second request, pipelined).
  if (body !== undefined) headers['content-length'] = String(body.length);
  return rawRequest(`${gw.url}${ex.path}`, {
    method: ex.method,
    headers,
    ...(body === undefined ? {} : { body }),
    timeout: ANSWER_WITHIN,
    streamFor: staysOpen(ex) ? OPEN_STREAM_FOR : ANSWER_WITHIN,
  });
}

// ---- what must hold ----

const CODES = new Set(Object.keys(GATEWAY_ERRORS));

interface RpcError {
  code?: unknown;
  message?: unknown;
  data?: { code?: unknown };
}

/** The JSON-RPC messages of an answer: its JSON body, or each `data:` line of an event stream. */
function messagesOf(answer: RawAnswer): Array<Record<string, unknown>> {
  const type = String(answer.headers['content-type'] ?? '');
  const texts = type.startsWith('text/event-stream')
    ? answer.body
        .split('\n')
        .filter((line) => line.startsWith('data: '))
        .map((line) => line.slice(6))
        .filter((line) => line.trim() !== '')
    : answer.body === ''
      ? []
      : [answer.body];
  return texts.flatMap((text) => {
    const value = JSON.parse(text) as unknown;
    return (Array.isArray(value) ? value : [value]) as Array<Record<string, unknown>>;
  });
}

/** Request ids of what was sent (ids of requests, not of responses or notifications), as JSON. */
function sentIds(body: string): Set<string> {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return new Set();
  }
  const messages = (Array.isArray(value) ? value : [value]) as Array<Record<string, unknown> | null>;
  return new Set(
    messages.filter((m) => m !== null && typeof m === 'object' && 'method' in m && 'id' in m).map((m) => JSON.stringify(m!.id)),
  );
}

function checkAnswer(ex: Exchange, answer: RawAnswer): void {
  const what = `${answer.status} ${JSON.stringify(answer.body.slice(0, 400))}`;
  // Every 5xx this setup can reach is a defect: no upstream, no drain, no cap that is full.
  assert.ok(answer.status < 500, `a 5xx: ${what}`);
  // The path as sent: node:http, as any WHATWG URL client, resolves `%2e%2e` and the like first.
  if (!new URL(`${gw.url}${ex.path}`).pathname.startsWith('/mcp')) return;
  if (answer.open) {
    assert.ok(staysOpen(ex), `a POST's answer did not end: ${what}`);
    assert.equal(answer.status, 200, what);
    return;
  }
  if (answer.status === 204 && ex.method === 'OPTIONS') return; // a preflight
  if (answer.status === 202) {
    assert.equal(answer.body, '', `a 202 with a body: ${what}`);
    return;
  }
  const messages = messagesOf(answer);
  if (answer.status >= 300) {
    assert.equal(messages.length, 1, `a refusal is one JSON-RPC error: ${what}`);
    const error = messages[0]!.error as RpcError | undefined;
    assert.ok(error && typeof error.message === 'string' && Number.isInteger(error.code), `no JSON-RPC error: ${what}`);
    const code = error.data?.code;
    if (code === undefined && sdkRefusal(ex, answer.status, error)) return;
    assert.ok(typeof code === 'string' && CODES.has(code), `no documented data.code: ${what}`);
    const registered = GATEWAY_ERRORS[code as keyof typeof GATEWAY_ERRORS];
    assert.equal(answer.status, registered.status, `${code} with another status: ${what}`);
    assert.equal(error.code, registered.rpc, `${code} with another JSON-RPC code: ${what}`);
    return;
  }
  // Answers go to the requests they answer: every id in an answer is one the body sent.
  const ids = sentIds(ex.body);
  for (const message of messages) {
    if (!('result' in message) && !('error' in message)) continue; // a notification on the stream
    const id = JSON.stringify(message.id ?? null);
    assert.ok(ids.has(id) || (id === 'null' && 'error' in message), `an answer to a request not sent (${id}): ${what}`);
  }
}

/**
 * The 2026-07-28 refusals the SDK answers itself and the README documents (Protocol eras): 400
 * -32022 with `data.supported` for a version claimed in `_meta` that the gateway does not speak,
 * 400 -32020 for MCP-Protocol-Version, Mcp-Method or Mcp-Name headers that differ from the body.
 * Only for a request of that era: one with a 2026-07-28 header or a version claimed in `_meta`.
 */
function sdkRefusal(ex: Exchange, status: number, error: RpcError): boolean {
  const modern = ex.body.includes(PROTOCOL_VERSION_META_KEY) || [ex.headers.version].flat().some((v) => v?.trim() === MODERN);
  if (!modern || status !== 400) return false;
  const data = error.data as { supported?: unknown; mismatch?: unknown } | undefined;
  if (error.code === -32022) return Array.isArray(data?.supported);
  // A 2026-07-28 header on a body without the era's `_meta`: the SDK names the envelope keys missing.
  if (error.code === -32602) return /missing the required per-request envelope/.test(String(error.message));
  return error.code === -32020;
}

let checks = 0;
async function othersUndisturbed(): Promise<void> {
  const text = `bystander ${++checks}`;
  assert.equal(textOf(await bystander.callTool({ name: 'echo', arguments: { text } })), text, 'the bystander 2025 session');
  assert.equal(textOf(await modernClient.callTool({ name: 'echo', arguments: { text } })), text, 'the 2026-07-28 client');
}

describe('the edge, fuzzed', () => {
  it('answers every generated request with a documented error or the answers to it, and disturbs nothing else', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(exchange, async (ex) => {
        const answer = await send(ex);
        checkAnswer(ex, answer);
        // A DELETE the generator sent with the session's id ended it: the next cases get a live one again.
        if (ex.method === 'DELETE' && answer.status === 200) sessionId = await openRawSession(`${gw.url}/mcp/echo`);
        assert.deepEqual(unexpected, [], 'an unhandled rejection or uncaught exception');
        if (++run % 10 === 0) await othersUndisturbed();
      }),
      { numRuns: RUNS, seed: SEED, includeErrorInReport: true },
    );
    await othersUndisturbed();
    assert.ok(run >= RUNS, `ran ${run} of ${RUNS}`);
  });
});
