/**
 * Origin validation and CORS on /mcp/<name>, over real HTTP against the real gateway: browser
 * origins that are loopback, the gateway's own or in allowedOrigins get CORS answers (preflights
 * before auth, every response readable, 401 challenges included); any other, null included, gets
 * 403 invalid_origin before auth and before the body is read; requests without Origin are as before.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CLIENT_CAPABILITIES_META_KEY, CLIENT_INFO_META_KEY, PROTOCOL_VERSION_META_KEY } from '@modelcontextprotocol/server';
import {
  initializeBody,
  MCP_POST_HEADERS,
  rawRequest,
  rpcOf,
  shippedModule,
  startGatewayProcess,
  startInProcessGateway,
  type InProcessGateway,
  type RawAnswer,
} from '../helpers/gateway.js';
import { rawExchange } from '../helpers/raw-http.js';

const KEY = 'origin-cors-key-0123456789abcdef';
const APP = 'https://app.example.com';
const yaml = `
servers:
  time:
    module: ${shippedModule('time')}
  keyed:
    module: ${shippedModule('time')}
    auth: { kind: apiKey, keys: ["${KEY}"], header: X-Time-Key }
allowedHosts: [gateway.example.com]
allowedOrigins: [${APP}]
`;

let gw: InProcessGateway;
before(async () => {
  gw = await startInProcessGateway(yaml, { allowedHosts: ['gateway.example.com'] });
});
after(async () => {
  await gw.close();
});
const port = () => Number(new URL(gw.url).port);

const init = JSON.stringify(initializeBody());
const post = (route: string, headers: Record<string, string>, body = init) =>
  rawRequest(`${gw.url}/mcp/${route}`, { headers: { ...MCP_POST_HEADERS, ...headers }, body });
const preflight = (route: string, headers: Record<string, string>) =>
  rawRequest(`${gw.url}/mcp/${route}`, {
    method: 'OPTIONS',
    headers: { 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, mcp-session-id', ...headers },
  });

function assertCors(answer: RawAnswer, origin: string): void {
  assert.equal(answer.headers['access-control-allow-origin'], origin);
  assert.match(String(answer.headers.vary), /\bOrigin\b/);
  assert.equal(answer.headers['access-control-expose-headers'], 'Mcp-Session-Id, MCP-Protocol-Version, WWW-Authenticate, Retry-After');
}

function assertNoCors(answer: RawAnswer): void {
  for (const name of Object.keys(answer.headers)) assert.ok(!name.startsWith('access-control-'), `${name} on a request without Origin`);
  assert.doesNotMatch(String(answer.headers.vary ?? ''), /Origin/);
}

function assertRefused(answer: RawAnswer, origin: string): void {
  assert.equal(answer.status, 403, answer.body);
  const { error } = rpcOf(answer);
  assert.equal(error?.data?.code, 'invalid_origin');
  assert.ok(error!.message.includes(origin), error!.message);
  assert.match(error!.message, /add it to allowedOrigins in gateway\.yaml/);
  assert.equal(answer.headers['access-control-allow-origin'], undefined, 'a refused origin may not read the answer');
}

describe('Origin on /mcp/<name>', () => {
  it('accepts a loopback origin unconfigured, and answers with CORS', async () => {
    const answer = await post('time', { origin: 'http://localhost:6274' });
    assert.equal(answer.status, 200, answer.body);
    assert.equal(rpcOf(answer).result?.protocolVersion, '2025-06-18');
    assertCors(answer, 'http://localhost:6274');
  });

  it('accepts an origin of allowedOrigins', async () => {
    const answer = await post('time', { origin: APP });
    assert.equal(answer.status, 200, answer.body);
    assertCors(answer, APP);
  });

  it('refuses any other origin with 403 invalid_origin, logged', async () => {
    const answer = await post('time', { origin: 'https://evil.example' });
    assertRefused(answer, 'https://evil.example');
    const line = gw.logs.findLast((entry) => entry.msg === 'request' && entry.error === 'invalid_origin');
    assert.ok(line, 'the request log line records the code');
    assert.equal((line.http as { status: number }).status, 403);
  });

  it('refuses the null origin (sandboxed frames, file: pages)', async () => {
    assertRefused(await post('time', { origin: 'null' }), 'null');
  });

  it("accepts the gateway's own origin, as the client named it (X-Forwarded-Host behind the Functions host)", async () => {
    const answer = await post('time', { 'x-forwarded-host': 'gateway.example.com', origin: 'https://gateway.example.com' });
    assert.equal(answer.status, 200, answer.body);
    assertCors(answer, 'https://gateway.example.com');
    assertRefused(await post('time', { origin: 'https://gateway.example.com' }), 'https://gateway.example.com');
  });

  it('refuses the http: own origin of a request that came over https (X-Forwarded-Proto), and accepts both when it cannot tell', async () => {
    const forwarded = { 'x-forwarded-host': 'gateway.example.com', 'x-forwarded-proto': 'https' };
    assertRefused(await post('time', { ...forwarded, origin: 'http://gateway.example.com' }), 'http://gateway.example.com');
    const secure = await post('time', { ...forwarded, origin: 'https://gateway.example.com' });
    assert.equal(secure.status, 200, secure.body);
    assertCors(secure, 'https://gateway.example.com');
    // A plain connection that says nothing of its scheme (the Functions host's): either is its own.
    const plain = await post('time', { 'x-forwarded-host': 'gateway.example.com', origin: 'http://gateway.example.com' });
    assert.equal(plain.status, 200, plain.body);
    assertCors(plain, 'http://gateway.example.com');
  });

  it('checks the origin before authentication and before the body, on every method', async () => {
    assertRefused(await post('keyed', { origin: 'https://evil.example' }), 'https://evil.example');
    assertRefused(await post('time', { origin: 'https://evil.example' }, '{"jsonrpc": "2.0", "id": 1, "method": '), 'https://evil.example');
    for (const method of ['GET', 'DELETE']) {
      const answer = await rawRequest(`${gw.url}/mcp/time`, {
        method,
        headers: { accept: 'text/event-stream', 'mcp-session-id': 'x', origin: 'https://evil.example' },
      });
      assertRefused(answer, 'https://evil.example');
    }
  });

  it('answers a preflight from an allowed origin with 204, before auth, allowing what an MCP client sends', async () => {
    for (const route of ['time', 'keyed']) {
      const answer = await preflight(route, { origin: APP });
      assert.equal(answer.status, 204, `${route}: ${answer.body}`);
      assert.equal(answer.body, '');
      assert.equal(answer.headers['access-control-allow-origin'], APP);
      assert.equal(answer.headers['access-control-allow-methods'], 'GET, POST, DELETE');
      assert.equal(answer.headers['access-control-max-age'], '600');
      assert.match(String(answer.headers.vary), /\bOrigin\b/);
      const allowed = String(answer.headers['access-control-allow-headers']).toLowerCase().split(', ');
      for (const header of ['content-type', 'accept', 'authorization', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id']) {
        assert.ok(allowed.includes(header), `${route} allows ${header}: ${allowed.join(', ')}`);
      }
      assert.equal(allowed.includes('x-time-key'), route === 'keyed', "the API-key route's header is allowed on that route");
    }
  });

  it('allows the SEP-2243 Mcp-Param-* headers a preflight of a 2026-07-28 tools/call asks for, and only those it asks for', async () => {
    // A tool whose argument declares `x-mcp-header: Region` is called with `Mcp-Param-Region`
    // (2026-07-28 Streamable HTTP): the names depend on the tool, so no fixed list can hold them.
    const answer = await preflight('keyed', {
      origin: APP,
      'access-control-request-headers': 'content-type, mcp-method, mcp-name, mcp-param-region, mcp-param-x_1, mcp-protocol-version',
    });
    assert.equal(answer.status, 204, answer.body);
    const allowed = String(answer.headers['access-control-allow-headers']).toLowerCase().split(', ');
    for (const header of ['mcp-param-region', 'mcp-param-x_1', 'mcp-method', 'mcp-name', 'x-time-key']) {
      assert.ok(allowed.includes(header), `allows ${header}: ${allowed.join(', ')}`);
    }
    assert.match(String(answer.headers.vary), /\bAccess-Control-Request-Headers\b/, 'the answer depends on what was asked');
    const other = await preflight('keyed', { origin: APP, 'access-control-request-headers': 'content-type, x-other, mcp-param-' });
    const others = String(other.headers['access-control-allow-headers']).toLowerCase().split(', ');
    assert.ok(!others.includes('x-other') && !others.includes('mcp-param-'), `no other header is reflected: ${others.join(', ')}`);
  });

  it('refuses a preflight from another origin with 403', async () => {
    assertRefused(await preflight('keyed', { origin: 'https://evil.example' }), 'https://evil.example');
  });

  it('keeps the answer to OPTIONS that is no preflight: 405 (401 first on a route with auth)', async () => {
    for (const headers of [{}, { origin: APP }]) {
      const open = await rawRequest(`${gw.url}/mcp/time`, { method: 'OPTIONS', headers });
      assert.equal(open.status, 405, open.body);
      assert.equal(open.headers.allow, 'GET, POST, DELETE');
      assert.equal((await rawRequest(`${gw.url}/mcp/keyed`, { method: 'OPTIONS', headers })).status, 401);
    }
  });

  it('lets a browser read the 401 of an API-key route and its WWW-Authenticate', async () => {
    const answer = await post('keyed', { origin: APP });
    assert.equal(answer.status, 401);
    assert.equal(rpcOf(answer).error?.data?.code, 'unauthorized');
    assert.equal(answer.headers['www-authenticate'], 'ApiKey header="x-time-key"');
    assertCors(answer, APP);
    const keyed = await post('keyed', { origin: APP, 'x-time-key': KEY });
    assert.equal(keyed.status, 200, keyed.body);
    assertCors(keyed, APP);
  });

  it('serves a whole 2025 session to an allowed cross origin: initialize, initialized, tools/list, DELETE', async () => {
    const origin = 'http://127.0.0.1:5173';
    const opened = await post('time', { origin });
    assert.equal(opened.status, 200, opened.body);
    assertCors(opened, origin);
    assert.match(String(opened.headers['content-type']), /^text\/event-stream/, 'the SDK transport wrote this answer, as SSE');
    const session = opened.headers['mcp-session-id'] as string;
    assert.ok(session);
    const headers = { origin, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' };
    const initialized = await post('time', headers, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    assert.equal(initialized.status, 202);
    assertCors(initialized, origin);
    const listed = await post('time', headers, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }));
    assert.equal(listed.status, 200, listed.body);
    assertCors(listed, origin);
    const tools = (rpcOf(listed).result?.tools as Array<{ name: string }>).map((tool) => tool.name);
    assert.ok(tools.includes('get_current_time'), tools.join(', '));
    const closed = await rawRequest(`${gw.url}/mcp/time`, { method: 'DELETE', headers });
    assert.equal(closed.status, 200, closed.body);
    assertCors(closed, origin);
  });

  it('lets an allowed cross origin read a 2026-07-28 answer (the per-request handler writes it)', async () => {
    const meta = {
      [PROTOCOL_VERSION_META_KEY]: '2026-07-28',
      [CLIENT_CAPABILITIES_META_KEY]: {},
      [CLIENT_INFO_META_KEY]: { name: 'web-client', version: '1.0.0' },
    };
    const answer = await post(
      'time',
      { origin: APP, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' },
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: meta } }),
    );
    assert.equal(answer.status, 200, answer.body);
    assert.ok(Array.isArray(rpcOf(answer).result?.tools), answer.body);
    assertCors(answer, APP);
  });

  it('adds no CORS header to requests without Origin', async () => {
    const answer = await post('time', {});
    assert.equal(answer.status, 200, answer.body);
    assertNoCors(answer);
    const unauthorized = await post('keyed', {});
    assert.equal(unauthorized.status, 401);
    assertNoCors(unauthorized);
    const options = await rawRequest(`${gw.url}/mcp/time`, { method: 'OPTIONS', headers: { 'access-control-request-method': 'POST' } });
    assert.equal(options.status, 405, 'no Origin: no preflight, whatever it asks');
    assertNoCors(options);
  });
});

describe('CORS on the refusals before the Origin check', () => {
  const refusedHost = (headers: Record<string, string>) => post('time', { host: 'rebound.example', ...headers });

  it('lets an allowed or loopback origin read a refused Host (invalid_host) and its fix', async () => {
    for (const origin of [APP, 'http://localhost:6274']) {
      const answer = await refusedHost({ origin });
      assert.equal(answer.status, 403, answer.body);
      const { error } = rpcOf(answer);
      assert.equal(error?.data?.code, 'invalid_host');
      assert.match(error!.message, /add it to allowedHosts in gateway\.yaml/);
      assertCors(answer, origin);
    }
  });

  it("gives no CORS to a refused Host's own origin, nor to any origin the policy refuses", async () => {
    for (const origin of ['http://rebound.example', 'https://rebound.example', 'https://evil.example', 'null']) {
      const answer = await refusedHost({ origin });
      assert.equal(answer.status, 403, answer.body);
      assert.equal(rpcOf(answer).error?.data?.code, 'invalid_host', 'the Host check still answers first');
      assert.equal(answer.headers['access-control-allow-origin'], undefined, origin);
    }
    assertNoCors(await refusedHost({}));
  });

  it('lets an allowed origin read the 400 for a repeated Host field, on /mcp/* only', async () => {
    const head = (target: string) =>
      `POST ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: 127.0.0.1\r\nOrigin: ${APP}\r\nContent-Type: application/json\r\n` +
      `Accept: application/json, text/event-stream\r\nContent-Length: ${Buffer.byteLength(init)}\r\nConnection: close\r\n\r\n${init}`;
    const { response } = await rawExchange(port(), head('/mcp/time'));
    assert.match(response, /^HTTP\/1\.1 400 /);
    assert.match(response, /"code":"invalid_header"/);
    assert.match(response, new RegExp(`\r\naccess-control-allow-origin: ${APP}\r\n`, 'i'));
    const status = await rawExchange(port(), head('/healthz'));
    assert.match(status.response, /^HTTP\/1\.1 400 /);
    assert.doesNotMatch(status.response, /access-control-/i, 'no CORS off /mcp/*, as for every answer there');
  });
});

describe("CORS on requestTimeout's 408", () => {
  let slow: InProcessGateway;
  before(async () => {
    slow = await startInProcessGateway(
      `servers:\n  time:\n    module: ${shippedModule('time')}\nallowedOrigins: [${APP}]\nrequestTimeout: 1s\n`,
    );
  });
  after(() => slow.close());
  const slowPort = () => Number(new URL(slow.url).port);
  const head = (origin: string) =>
    `POST /mcp/time HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: ${origin}\r\nContent-Type: application/json\r\n` +
    `Accept: application/json, text/event-stream\r\nContent-Length: 200\r\n\r\n`;

  it('lets an allowed origin read the 408 of a body that stalled', async () => {
    const { response, closed } = await rawExchange(slowPort(), `${head(APP)}{"jsonrpc":"2.0","id":1,`);
    assert.ok(closed);
    assert.match(response, /^HTTP\/1\.1 408 /);
    assert.match(response, /"code":"request_timeout"/);
    const headers = response.slice(0, response.indexOf('\r\n\r\n')).toLowerCase();
    assert.ok(headers.includes(`\r\naccess-control-allow-origin: ${APP}`), headers);
    assert.ok(headers.includes('\r\nvary: origin'), headers);
    assert.ok(
      headers.includes('\r\naccess-control-expose-headers: mcp-session-id, mcp-protocol-version, www-authenticate, retry-after'),
      headers,
    );
  });

  it("lets an allowed origin read the 400 of a chunked body Node's parser refuses", async () => {
    const chunked = head(APP).replace('Content-Length: 200', 'Transfer-Encoding: chunked');
    const { response } = await rawExchange(slowPort(), `${chunked}5\r\n{"jso\r\nzz\r\n`);
    assert.match(response, /^HTTP\/1\.1 400 /);
    assert.ok(response.toLowerCase().includes(`\r\naccess-control-allow-origin: ${APP}\r\n`), response);
  });

  it('gives none to headers that stalled: no Origin was read', async () => {
    const { response } = await rawExchange(slowPort(), `POST /mcp/time HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: ${APP}\r\n`);
    assert.match(response, /^HTTP\/1\.1 408 /);
    assert.match(response, /"code":"request_timeout"/);
    assert.doesNotMatch(response, /access-control-/i);
  });
});

describe('CORS on a draining gateway', () => {
  it('lets an allowed origin read the 503 shutting_down and its Retry-After (not a CORS-safelisted header)', async () => {
    const draining = await startInProcessGateway(`servers:\n  time:\n    module: ${shippedModule('time')}\n`);
    try {
      const drained = draining.gateway.drain(AbortSignal.abort());
      const answer = await rawRequest(`${draining.url}/mcp/time`, {
        headers: { ...MCP_POST_HEADERS, origin: 'http://localhost:6274' },
        body: init,
      });
      await drained;
      assert.equal(answer.status, 503, answer.body);
      assert.equal(rpcOf(answer).error?.data?.code, 'shutting_down');
      assert.equal(answer.headers['retry-after'], '1');
      assert.equal(answer.headers['access-control-allow-origin'], 'http://localhost:6274');
      const exposed = String(answer.headers['access-control-expose-headers']).toLowerCase().split(', ');
      assert.ok(exposed.includes('retry-after'), `Retry-After is exposed: ${exposed.join(', ')}`);
    } finally {
      await draining.close();
    }
  });
});

describe('allowedOrigins in the gateway process', () => {
  it('is read from gateway.yaml by npm start', async () => {
    const gateway = await startGatewayProcess(`servers:\n  time:\n    module: ${shippedModule('time')}\nallowedOrigins: [${APP}]\n`);
    try {
      const send = (origin: string) => rawRequest(`${gateway.url}/mcp/time`, { headers: { ...MCP_POST_HEADERS, origin }, body: init });
      const allowed = await send(APP);
      assert.equal(allowed.status, 200, allowed.body);
      assertCors(allowed, APP);
      assertRefused(await send('https://evil.example'), 'https://evil.example');
    } finally {
      await gateway.stop();
    }
  });
});
