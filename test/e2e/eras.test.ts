/**
 * Both protocol eras on one URL: MCP 2026-07-28 (no session, `_meta` on every request, served by
 * the SDK's createMcpHandler) and the 2025 handshake with the gateway's resumable sessions, on the
 * real gateway with the SDK v2 client in each of its modes and raw requests for the edges.
 */
import assert from 'node:assert/strict';
import { rawPost, unreadingClient } from '../helpers/raw-http.js';
import { after, before, describe, it } from 'node:test';
import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  Client,
  PROTOCOL_VERSION_META_KEY,
  ProtocolError,
  StreamableHTTPClientTransport,
} from '@modelcontextprotocol/client';
import { MAX_LISTEN_STREAMS_PER_OWNER } from '../../src/gateway/protocol/listeners.js';
import {
  fixtureModule,
  initializeBody,
  MCP_POST_HEADERS,
  shippedModule,
  startInProcessGateway,
  textOf,
  type InProcessGateway,
} from '../helpers/gateway.js';
import { watchConsoleErrors } from '../helpers/console.js';
import { until } from '../helpers/until.js';

const MODERN = '2026-07-28';
const KEY = 'a-key-for-the-eras-test-0123456789';
const OTHER_KEY = 'another-key-for-the-eras-test-98765';

let gw: InProcessGateway;
before(async () => {
  gw = await startInProcessGateway(
    `servers:\n` +
      `  time:\n    module: ${shippedModule('time')}\n    listTtl: 1h\n` +
      `  echo:\n    module: ${fixtureModule('echo')}\n` +
      `  quick:\n    module: ${fixtureModule('echo')}\n    sessions: stateless\n` +
      `  limited:\n    module: ${fixtureModule('echo')}\n    tools:\n      allow: [echo, slow]\n      deny: [slow]\n` +
      `  keyed:\n    module: ${fixtureModule('echo')}\n    listTtl: 30s\n    auth:\n      kind: apiKey\n      keys: ["${KEY}"]\n` +
      `  chatty:\n    module: ${fixtureModule('chatty')}\n    listTtl: 1h\n` +
      `  chatty-limited:\n    module: ${fixtureModule('chatty')}\n    listTtl: 20s\n    tools:\n      deny: [hidden]\n` +
      `  chatty-keyed:\n    module: ${fixtureModule('chatty')}\n    listTtl: 30s\n    auth:\n      kind: apiKey\n      keys: ["${KEY}"]\n` +
      `  rounds-keyed:\n    module: ${fixtureModule('conformance')}\n    auth:\n      kind: apiKey\n      keys: ["${KEY}", "${OTHER_KEY}"]\n`,
  );
});
after(() => gw.close());

/** A v2 SDK client in `mode`, connected to a route. */
async function connect(route: string, mode: 'auto' | 'legacy' | { pin: string }, headers: Record<string, string> = {}) {
  const client = new Client({ name: `eras-${JSON.stringify(mode)}`, version: '1.0.0' }, { versionNegotiation: { mode } });
  const transport = new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp/${route}`), { requestInit: { headers } });
  await client.connect(transport);
  return { client, transport };
}

/** A raw 2026-07-28 request's body (id 1): `params` with the envelope in `_meta`. */
function modernBody(method: string, params: Record<string, unknown> = {}): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method,
    params: {
      ...params,
      _meta: {
        [PROTOCOL_VERSION_META_KEY]: MODERN,
        [CLIENT_CAPABILITIES_META_KEY]: {},
        [CLIENT_INFO_META_KEY]: { name: 'raw', version: '1.0.0' },
        ...(params._meta as object),
      },
    },
  });
}

/** A raw 2026-07-28 request: the envelope in `_meta` and the SEP-2243 headers. */
function modernPost(route: string, method: string, params: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const named = params.name ?? params.uri;
  const name: Record<string, string> = typeof named === 'string' ? { 'mcp-name': named } : {};
  return fetch(`${gw.url}/mcp/${route}`, {
    method: 'POST',
    headers: { ...MCP_POST_HEADERS, 'mcp-protocol-version': MODERN, 'mcp-method': method, ...name, ...headers },
    body: modernBody(method, params),
  });
}

describe('two protocol eras on one route', () => {
  it('serves the v2 client in auto mode on 2026-07-28, without a session', async () => {
    const { client, transport } = await connect('time', 'auto');
    assert.equal(client.getNegotiatedProtocolVersion(), MODERN);
    assert.equal(transport.sessionId, undefined);
    const result = await client.callTool({ name: 'get_current_time', arguments: { timezone: 'Asia/Tokyo' } });
    assert.equal((result.structuredContent as { timezone: string }).timezone, 'Asia/Tokyo');
    await client.close();
  });

  it('serves a client pinned to 2026-07-28, and one in the default mode on 2025 with a session, side by side', async () => {
    const pinned = await connect('echo', { pin: MODERN });
    const legacy = await connect('echo', 'legacy');
    assert.equal(pinned.client.getNegotiatedProtocolVersion(), MODERN);
    assert.equal(legacy.client.getNegotiatedProtocolVersion(), '2025-11-25');
    assert.ok(legacy.transport.sessionId, 'the 2025 client has a session id');
    assert.equal(pinned.transport.sessionId, undefined);
    assert.equal(textOf(await pinned.client.callTool({ name: 'echo', arguments: { text: 'modern' } })), 'modern');
    assert.equal(textOf(await legacy.client.callTool({ name: 'echo', arguments: { text: 'legacy' } })), 'legacy');
    await pinned.client.close();
    await legacy.client.close();
  });

  it('never sends a session id to a modern request, and ignores a stale one', async () => {
    const plain = await modernPost('echo', 'tools/list');
    assert.equal(plain.status, 200);
    assert.equal(plain.headers.get('mcp-session-id'), null);
    const stale = await modernPost('echo', 'tools/list', {}, { 'mcp-session-id': 'not-a-session-of-ours' });
    assert.equal(stale.status, 200, 'a modern request does not look at Mcp-Session-Id');
    assert.equal(stale.headers.get('mcp-session-id'), null);
    const body = (await stale.json()) as { result: { tools: Array<{ name: string }> } };
    assert.ok(body.result.tools.some((tool) => tool.name === 'echo'));
  });

  it('refuses an Mcp-Method header that does not match the body with 400 and -32020', async () => {
    const response = await modernPost('echo', 'tools/list', {}, { 'mcp-method': 'prompts/list' });
    assert.equal(response.status, 400);
    const body = (await response.json()) as { error: { code: number } };
    assert.equal(body.error.code, -32020);
  });

  it('refuses an Mcp-Name header that does not match the tool called with 400 and -32020', async () => {
    const response = await modernPost('echo', 'tools/call', { name: 'echo', arguments: { text: 'x' } }, { 'mcp-name': 'fail' });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { error: { code: number } }).error.code, -32020);
  });

  it('answers an unsupported version with -32022 and the versions it supports', async () => {
    const response = await modernPost(
      'echo',
      'tools/list',
      { _meta: { [PROTOCOL_VERSION_META_KEY]: '2027-01-01' } },
      { 'mcp-protocol-version': '2027-01-01' },
    );
    assert.equal(response.status, 400);
    const body = (await response.json()) as { error: { code: number; data: { supported: string[] } } };
    assert.equal(body.error.code, -32022);
    assert.deepEqual(body.error.data.supported, [MODERN]);
  });

  it("answers a batch of the 2026-07-28 era with 400 invalid_request, as JSON-RPC batches are not of that era (was the SDK's 400 without data.code)", async () => {
    // Found by test/e2e/edge-fuzz.test.ts.
    const meta = (version: string) => ({
      _meta: {
        [PROTOCOL_VERSION_META_KEY]: version,
        [CLIENT_CAPABILITIES_META_KEY]: {},
        [CLIENT_INFO_META_KEY]: { name: 'raw', version: '1.0.0' },
      },
    });
    const batches: Array<[Record<string, string>, unknown[]]> = [
      [{}, [{ jsonrpc: '2.0', id: 1, method: 'tools/list', params: meta(MODERN) }]],
      [
        {},
        [
          { jsonrpc: '2.0', id: 1, method: 'ping' },
          { jsonrpc: '2.0', id: 2, method: 'tools/list', params: meta('2025-11-25') },
        ],
      ],
      [{ 'mcp-protocol-version': MODERN }, [{ jsonrpc: '2.0', id: 1, method: 'tools/list', params: meta(MODERN) }]],
    ];
    for (const route of ['echo', 'time']) {
      for (const [headers, batch] of batches) {
        const response = await fetch(`${gw.url}/mcp/${route}`, {
          method: 'POST',
          headers: { ...MCP_POST_HEADERS, ...headers },
          body: JSON.stringify(batch),
        });
        const body = (await response.json()) as { id: unknown; error: { code: number; message: string; data?: { code: string } } };
        assert.equal(response.status, 400, JSON.stringify(body));
        assert.equal(body.error.code, -32600);
        assert.equal(body.error.data?.code, 'invalid_request');
        assert.equal(body.error.message, 'Invalid Request: a 2026-07-28 request cannot come in a JSON-RPC batch; send each on its own');
        assert.equal(body.id, null);
      }
    }
  });

  it('answers a 2026-07-28 initialize as a removed method (404, -32601), not as a session to open', async () => {
    const response = await modernPost('echo', 'initialize', {
      protocolVersion: MODERN,
      capabilities: {},
      clientInfo: { name: 'raw', version: '1' },
    });
    assert.equal(response.status, 404);
    assert.equal(((await response.json()) as { error: { code: number } }).error.code, -32601);
    assert.equal(response.headers.get('mcp-session-id'), null);
  });

  it('answers GET and DELETE of the modern era with 405: it has no session to stream or end', async () => {
    for (const method of ['GET', 'DELETE']) {
      const response = await fetch(`${gw.url}/mcp/echo`, {
        method,
        headers: { accept: 'text/event-stream', 'mcp-protocol-version': MODERN },
      });
      assert.equal(response.status, 405, method);
      assert.equal(response.headers.get('allow'), 'POST');
    }
  });

  it("answers JSON-RPC responses sent in the modern era's version with 400 invalid_request, on stateful and stateless routes alike (a stateless one gave the SDK's 'Unsupported protocol version: 2026-07-28')", async () => {
    const bodies = [
      { jsonrpc: '2.0', id: 5, result: {} },
      [
        { jsonrpc: '2.0', id: 6, error: { code: -1, message: 'no' } },
        { jsonrpc: '2.0', id: 7, result: {} },
      ],
    ];
    for (const route of ['echo', 'quick']) {
      for (const body of bodies) {
        const response = await fetch(`${gw.url}/mcp/${route}`, {
          method: 'POST',
          headers: { ...MCP_POST_HEADERS, 'mcp-protocol-version': MODERN },
          body: JSON.stringify(body),
        });
        assert.equal(response.status, 400, `${route} ${JSON.stringify(body)}`);
        const { error } = await response.json();
        assert.equal(error.data.code, 'invalid_request');
        assert.equal(
          error.message,
          `Invalid Request: a ${MODERN} client sends no JSON-RPC responses (a server asks it with input_required results); a 2025 session's responses carry its Mcp-Session-Id`,
        );
      }
    }
  });

  it('serves a 2025 client after modern requests on the same route, and the log and status name each era', async () => {
    await (await modernPost('time', 'tools/list')).text();
    const legacy = await fetch(`${gw.url}/mcp/time`, { method: 'POST', headers: MCP_POST_HEADERS, body: JSON.stringify(initializeBody()) });
    assert.equal(legacy.status, 200);
    assert.ok(legacy.headers.get('mcp-session-id'));
    await legacy.text();
    const lines = gw.logs.filter((l) => l.msg === 'request' && l.route === 'time');
    assert.equal(lines.at(-2)?.era, 'modern');
    assert.equal(lines.at(-1)?.era, 'legacy');
    const status = (await (await fetch(`${gw.url}/status.json`)).json()) as {
      routes: Array<{ name: string; served: { legacy: number; modern: number } }>;
    };
    const time = status.routes.find((r) => r.name === 'time')!;
    assert.ok(time.served.modern > 0 && time.served.legacy > 0, JSON.stringify(time.served));
  });
});

describe('change notifications in both eras', () => {
  it('reaches a 2026-07-28 listener and a 2025 session alike when a module calls ctx.notify', async () => {
    const listener = await connect('echo', { pin: MODERN });
    const session = await connect('echo', 'legacy');
    const heard: string[] = [];
    listener.client.setNotificationHandler('notifications/tools/list_changed', () => void heard.push('modern'));
    session.client.setNotificationHandler('notifications/tools/list_changed', () => void heard.push('legacy'));
    const subscription = await listener.client.listen({ toolsListChanged: true });
    assert.equal(subscription.honoredFilter.toolsListChanged, true);
    // Wait until the 2025 client's GET stream is open, where its session's notifications travel.
    const echo = gw.gateway.routes.get('echo')!;
    await until(() => (echo.sessions.peek(session.transport.sessionId!)?.active ?? 0) > 0, "the 2025 session's GET stream to open");

    const caller = await connect('echo', { pin: MODERN });
    assert.equal(textOf(await caller.client.callTool({ name: 'announce_tools_changed', arguments: {} })), 'announced');
    await until(() => heard.length >= 2, 'both listeners to hear of the change');
    assert.deepEqual(heard.sort(), ['legacy', 'modern']);
    await subscription.close();
    for (const { client } of [listener, session, caller]) await client.close();
  });
});

describe('listen streams of one caller', () => {
  it(`refuses a caller its listen streams past ${MAX_LISTEN_STREAMS_PER_OWNER}, as the SDK refuses past its cap`, async () => {
    // An open route: every client here is one caller, its address.
    const { client } = await connect('echo', { pin: MODERN });
    const streams = await Promise.all(
      Array.from({ length: MAX_LISTEN_STREAMS_PER_OWNER }, () => client.listen({ toolsListChanged: true })),
    );
    await assert.rejects(client.listen({ toolsListChanged: true }), (error: unknown) => {
      assert.ok(error instanceof ProtocolError, String(error));
      assert.equal(error.code, -32603);
      assert.match(error.message, new RegExp(`this caller has ${MAX_LISTEN_STREAMS_PER_OWNER} listen streams open on this route`));
      return true;
    });
    // One that ends gives its place back.
    await streams.pop()!.close();
    streams.push(await client.listen({ toolsListChanged: true }));
    await Promise.all(streams.map((stream) => stream.close()));
    await client.close();
  });
});

describe('a listen stream its client does not read', () => {
  it('is cut once it holds 16 MiB unread, with a warning; the caller listens again and everyone else goes on', async () => {
    const consoleErrors = watchConsoleErrors();
    const uri = `probe://${'z'.repeat(1024 * 1024)}`;
    const body = modernBody('subscriptions/listen', { notifications: { resourceSubscriptions: [uri] } });
    // A client that listens and never reads its stream (a suspended laptop): the bytes pile up.
    const { socket, closed } = unreadingClient(
      Number(new URL(gw.url).port),
      rawPost('/mcp/echo', body, { 'Mcp-Protocol-Version': MODERN, 'Mcp-Method': 'subscriptions/listen' }),
    );
    const other = await connect('echo', { pin: MODERN });
    const heard: string[] = [];
    other.client.setNotificationHandler('notifications/resources/updated', (n) => void heard.push(n.params.uri));
    const stream = await other.client.listen({ resourceSubscriptions: ['probe://small'] });
    try {
      const warned = () => gw.logs.find((l) => String(l.msg).includes('listen stream is not read'));
      // Each call sends 20 updates of a megabyte to the stream; the kernel's buffers take some first.
      for (let n = 0; n < 5 && !warned(); n++) {
        const answer = await modernPost('echo', 'tools/call', { name: 'announce_resource_updated', arguments: { uri, times: 20 } });
        assert.equal(answer.status, 200);
        await answer.text();
        if (!warned()) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const warning = warned();
      assert.ok(warning, 'a warning once the stream is cut');
      assert.ok((warning.unreadBytes as number) > 16 * 1024 * 1024);
      assert.equal(warning.route, 'echo');
      // The connection is cut: the client would listen again, as after any drop.
      socket.resume();
      await closed;
      // The other listener hears its own updates, and the route answers calls.
      assert.equal(
        textOf(await other.client.callTool({ name: 'announce_resource_updated', arguments: { uri: 'probe://small' } })),
        'announced',
      );
      await until(() => heard.includes('probe://small'), 'the other listener to hear its update');
      assert.equal(textOf(await other.client.callTool({ name: 'echo', arguments: { text: 'undisturbed' } })), 'undisturbed');
      consoleErrors.check();
    } finally {
      consoleErrors.restore();
      socket.destroy();
      await stream.close();
      await other.client.close();
    }
  });
});

describe("a 2026-07-28 call's event stream its client does not read", () => {
  it('is cut once it holds 16 MiB unread, with a warning; everyone else goes on', async () => {
    const consoleErrors = watchConsoleErrors();
    // 40 MiB of log messages before the answer.
    const body = modernBody('tools/call', { name: 'chatter', arguments: { times: 40, size: 1024 * 1024 } });
    const { socket, closed } = unreadingClient(
      Number(new URL(gw.url).port),
      rawPost('/mcp/echo', body, { 'Mcp-Protocol-Version': MODERN, 'Mcp-Method': 'tools/call', 'Mcp-Name': 'chatter' }),
    );
    const other = await connect('echo', { pin: MODERN });
    try {
      const warned = () => gw.logs.find((l) => String(l.msg).includes("call's event stream is not read"));
      await until(() => warned() !== undefined, 'the warning');
      const warning = warned()!;
      assert.ok((warning.unreadBytes as number) > 16 * 1024 * 1024);
      assert.equal(warning.route, 'echo');
      socket.resume();
      await closed;
      assert.equal(textOf(await other.client.callTool({ name: 'echo', arguments: { text: 'undisturbed' } })), 'undisturbed');
      consoleErrors.check();
    } finally {
      consoleErrors.restore();
      socket.destroy();
      await other.client.close();
    }
  });
});

describe('input_required request state on the modern era', () => {
  const tool = 'test_input_required_result_request_state';
  const confirmed = { confirm: { action: 'accept', content: { ok: true } } };
  /** One round of the tool as the holder of `key`: its JSON-RPC answer. */
  async function round(key: string, extra: Record<string, unknown> = {}) {
    const response = await modernPost(
      'rounds-keyed',
      'tools/call',
      { name: tool, arguments: {}, _meta: { [CLIENT_CAPABILITIES_META_KEY]: { elicitation: {} } }, ...extra },
      { 'x-api-key': key },
    );
    return (await response.json()) as {
      result?: { resultType?: string; requestState?: string; content?: unknown };
      error?: { code: number };
    };
  }

  it("refuses one caller's request state to another caller of the route, and takes it back from its own", async () => {
    const first = await round(KEY);
    assert.equal(first.result?.resultType, 'input_required', JSON.stringify(first));
    const requestState = first.result!.requestState!;
    assert.equal(typeof requestState, 'string');
    const stolen = await round(OTHER_KEY, { inputResponses: confirmed, requestState });
    assert.equal(stolen.error?.code, -32602, JSON.stringify(stolen));
    const own = await round(KEY, { inputResponses: confirmed, requestState });
    assert.match(textOf(own.result), /^state-ok/);
  });
});

describe('caching hints (SEP-2549) on the modern era', () => {
  it("puts the route's listTtl and cacheScope public on the lists and server/discover of an open route", async () => {
    for (const method of ['tools/list', 'server/discover']) {
      const body = (await (await modernPost('time', method)).json()) as { result: { ttlMs: number; cacheScope: string } };
      assert.equal(body.result.ttlMs, 3_600_000, method);
      assert.equal(body.result.cacheScope, 'public', method);
    }
  });

  it('says private where an answer can depend on the caller: authentication, or tool lists', async () => {
    const keyed = (await (await modernPost('keyed', 'tools/list', {}, { 'x-api-key': KEY })).json()) as {
      result: { ttlMs: number; cacheScope: string };
    };
    assert.deepEqual([keyed.result.ttlMs, keyed.result.cacheScope], [30_000, 'private']);
    const limited = (await (await modernPost('limited', 'tools/list')).json()) as { result: { ttlMs: number; cacheScope: string } };
    assert.deepEqual([limited.result.ttlMs, limited.result.cacheScope], [0, 'private']);
  });

  it('asks for credentials on a modern request to an authenticated route, as on the 2025 one', async () => {
    const response = await modernPost('keyed', 'tools/list');
    assert.equal(response.status, 401);
    assert.equal(((await response.json()) as { error: { data: { code: string } } }).error.data.code, 'unauthorized');
  });
});

describe('tool allow/deny lists on the modern era', () => {
  it('leaves hidden tools out of tools/list and refuses calls to them as the SDK refuses an unknown tool', async () => {
    const { client } = await connect('limited', { pin: MODERN });
    const { tools } = await client.listTools();
    assert.deepEqual(
      tools.map((t) => t.name),
      ['echo'],
    );
    for (const name of ['slow', 'whoami']) {
      await assert.rejects(client.callTool({ name, arguments: { ms: 1, text: 'x' } }), (error: { code?: number; message?: string }) => {
        assert.equal(error.code, -32602);
        assert.match(error.message ?? '', new RegExp(`Tool ${name} not found`));
        return true;
      });
    }
    assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'ok' } })), 'ok');
    await client.close();
  });
});

/** The JSON-RPC messages of an SSE answer, in order (keep-alive comments and other fields ignored). */
async function sseMessages(response: Response): Promise<Array<Record<string, unknown>>> {
  const text = await response.text();
  return text
    .split(/\r?\n\r?\n/)
    .map((event) =>
      event
        .split(/\r?\n/)
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trimStart()),
    )
    .filter((data) => data.length > 0)
    .map((data) => JSON.parse(data.join('\n')) as Record<string, unknown>);
}

describe('the modern era rewrites an answer the SDK streams (a notification came before the result)', () => {
  type Answer = { method?: string; id?: number; result?: { tools?: Array<{ name: string }>; ttlMs?: number; cacheScope?: string } };

  async function streamed(route: string, method: string, params: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
    const response = await modernPost(route, method, params, headers);
    assert.equal(response.status, 200, method);
    assert.match(response.headers.get('content-type') ?? '', /text\/event-stream/, method);
    const messages = (await sseMessages(response)) as Answer[];
    assert.equal(messages.at(0)?.method, 'notifications/message', 'the log message is passed through first');
    assert.equal(messages.at(-1)?.id, 1, 'the result is the last message');
    return { messages, result: messages.at(-1)!.result! };
  }

  it("leaves hidden tools out of a streamed tools/list and sets the route's hints", async () => {
    const { messages, result } = await streamed('chatty-limited', 'tools/list');
    assert.equal(messages.length, 2);
    assert.deepEqual(
      result.tools!.map((tool) => tool.name),
      ['echo'],
    );
    assert.deepEqual([result.ttlMs, result.cacheScope], [20_000, 'private']);
  });

  it("sets an open route's hints on a streamed tools/list, and lists every tool", async () => {
    const { result } = await streamed('chatty', 'tools/list');
    assert.deepEqual(
      result.tools!.map((tool) => tool.name),
      ['echo', 'hidden'],
    );
    assert.deepEqual([result.ttlMs, result.cacheScope], [3_600_000, 'public']);
  });

  it("makes a streamed read's public scope private behind authentication, and keeps it on an open route", async () => {
    const keyed = await streamed('chatty-keyed', 'resources/read', { uri: 'chatty://note' }, { 'x-api-key': KEY });
    assert.deepEqual([keyed.result.ttlMs, keyed.result.cacheScope], [60_000, 'private']);
    const open = await streamed('chatty', 'resources/read', { uri: 'chatty://note' });
    assert.deepEqual([open.result.ttlMs, open.result.cacheScope], [60_000, 'public']);
  });

  it('sets the private scope on a streamed tools/list behind authentication', async () => {
    const { result } = await streamed('chatty-keyed', 'tools/list', {}, { 'x-api-key': KEY });
    assert.deepEqual([result.ttlMs, result.cacheScope], [30_000, 'private']);
  });

  it('still refuses a call to a hidden tool before the module runs, and the v2 client lists only the visible one', async () => {
    const refused = await modernPost('chatty-limited', 'tools/call', { name: 'hidden', arguments: { text: 'x' } });
    assert.equal(refused.status, 200);
    assert.match(refused.headers.get('content-type') ?? '', /application\/json/);
    const body = (await refused.json()) as { error: { code: number; message: string } };
    assert.deepEqual([body.error.code, body.error.message], [-32602, 'Tool hidden not found']);
    const { client } = await connect('chatty-limited', { pin: MODERN });
    assert.deepEqual(
      (await client.listTools()).tools.map((tool) => tool.name),
      ['echo'],
    );
    assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'ok' } })), 'ok');
    await client.close();
  });
});
