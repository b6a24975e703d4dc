/**
 * The gateway over real HTTP, in this process: bad input, sessions, stateless routes, tool lists.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import {
  connectClient,
  fixtureModule,
  initializeBody,
  MCP_POST_HEADERS,
  shippedModule,
  startInProcessGateway,
  textOf,
  type InProcessGateway,
} from '../helpers/gateway.js';
import { rawExchange, rawExchangeAfter } from '../helpers/raw-http.js';

const yaml = `
servers:
  echo:
    module: ${fixtureModule('echo')}
  time:
    module: ${shippedModule('time')}
  limited:
    module: ${fixtureModule('echo')}
    tools:
      allow: [echo, fail]
      deny: [fail]
  quick:
    module: ${fixtureModule('echo')}
    sessions: stateless
maxBodySize: 64KiB
`;

let gw: InProcessGateway;
before(async () => {
  gw = await startInProcessGateway(yaml, { allowedHosts: ['gateway.example.com'] });
});
after(async () => {
  await gw.close();
});

async function post(path: string, body: unknown, headers: Record<string, string> = MCP_POST_HEADERS) {
  const response = await fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) };
}

describe('bad input', () => {
  it('answers malformed JSON with 400 and JSON-RPC -32700', async () => {
    const r = await post('/mcp/echo', '{"jsonrpc": "2.0", "id": 1, "method": ');
    assert.equal(r.status, 400);
    assert.equal(r.json().error.code, -32700);
    assert.equal(r.json().error.data.code, 'parse_error');
  });

  it('answers an empty body with 400 -32700 saying so (was -32600 "jsonrpc must be 2.0": an empty body read as {})', async () => {
    const r = await post('/mcp/echo', '');
    assert.equal(r.status, 400);
    assert.equal(r.json().error.code, -32700);
    assert.equal(r.json().error.data.code, 'parse_error');
    assert.equal(r.json().error.message, 'Parse error: the body is empty');
  });

  it('answers an empty body sent chunked, or one that inflates to nothing, as it answers Content-Length: 0 (was -32600 "jsonrpc must be 2.0")', async () => {
    const chunked = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const request = http.request(`${gw.url}/mcp/echo`, {
        method: 'POST',
        headers: { ...MCP_POST_HEADERS, 'transfer-encoding': 'chunked' },
      });
      request.on('response', (response) => {
        let text = '';
        response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode!, text }));
      });
      request.on('error', reject);
      request.end();
    });
    const gzipped = await post('/mcp/echo', '', { ...MCP_POST_HEADERS, 'content-encoding': 'gzip' });
    const deflated = await fetch(`${gw.url}/mcp/echo`, {
      method: 'POST',
      headers: { ...MCP_POST_HEADERS, 'content-encoding': 'gzip' },
      body: new Uint8Array(zlib.gzipSync('')),
    });
    for (const [how, status, text] of [
      ['chunked', chunked.status, chunked.text],
      ['gzip, 0 bytes', gzipped.status, gzipped.text],
      ['gzip of nothing', deflated.status, await deflated.text()],
    ] as const) {
      assert.equal(status, 400, how);
      const { error } = JSON.parse(text) as { error: { code: number; message: string; data: { code: string } } };
      assert.deepEqual([error.code, error.data.code, error.message], [-32700, 'parse_error', 'Parse error: the body is empty'], how);
    }
  });

  it("answers a refusal of one request by that request's id, and of a batch or an unread body by null", async () => {
    // Not `echo`: the log test below looks for the first line of an echo call.
    const call = { jsonrpc: '2.0', id: 'call-42', method: 'tools/call', params: { name: 'whoami', arguments: {} } };
    const v = { 'mcp-protocol-version': '2025-06-18' };
    for (const [how, path, body, headers, status, code, id] of [
      ['no session id', '/mcp/echo', call, {}, 400, 'session_required', 'call-42'],
      ['an unknown session id', '/mcp/echo', call, { 'mcp-session-id': 'nope', ...v }, 404, 'session_not_found', 'call-42'],
      ['an unknown version', '/mcp/echo', call, { 'mcp-protocol-version': 'garbage' }, 400, 'unsupported_protocol_version', 'call-42'],
      ['a batch', '/mcp/echo', [call, { ...call, id: 'call-43' }], {}, 400, 'session_required', null],
      // Refused before the body is read: nothing names the request.
      ['an unknown route', '/mcp/nowhere', call, {}, 404, 'route_not_found', null],
    ] as const) {
      const r = await post(path, body, { ...MCP_POST_HEADERS, ...headers });
      assert.deepEqual([r.status, r.json().error.data.code, r.json().id], [status, code, id], how);
    }
  });

  it('answers a body over maxBodySize with 413 without parsing it', async () => {
    const big = JSON.stringify({ ...initializeBody(), padding: 'x'.repeat(70 * 1024) });
    const r = await post('/mcp/echo', big);
    assert.equal(r.status, 413);
    assert.equal(r.json().error.data.code, 'body_too_large');
    assert.match(r.json().error.message, /65536 bytes/);
  });

  it('refuses a body over maxBodySize as it comes, without waiting for the rest, and closes the connection', async () => {
    const port = Number(new URL(gw.url).port);
    const head = (framing: string) =>
      `POST /mcp/echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n${framing}\r\n\r\n`;
    const chunk = 'x'.repeat(16 * 1024);
    for (const [how, bytes] of [
      // 10 MB declared, 1 KB sent, then nothing: the client waits for an answer before sending more.
      ['declared', head('Content-Length: 10000000') + 'x'.repeat(1024)],
      // No length: 80 KiB of chunks, past the 64 KiB limit, then nothing.
      ['chunked', head('Transfer-Encoding: chunked') + `${chunk.length.toString(16)}\r\n${chunk}\r\n`.repeat(5)],
    ] as const) {
      // Was read to its end first (body-parser drains a refused body): the answer waited for the
      // rest, or for requestTimeout's 408 when the rest never came.
      const { response, closed } = await rawExchange(port, bytes);
      assert.ok(closed, `${how}: the gateway closes the connection`);
      assert.match(response, /^HTTP\/1\.1 413 Payload Too Large\r\n/, how);
      assert.match(response, /\r\nConnection: close\r\n/i, how);
      const body = JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) as { error: { message: string; data: { code: string } } };
      assert.deepEqual(
        [body.error.data.code, body.error.message],
        ['body_too_large', 'Payload Too Large: the body exceeds the limit of 65536 bytes'],
        how,
      );
    }
    // A body over the limit that a fetch sends whole gets the same answer, and disturbs nobody.
    const big = JSON.stringify({ ...initializeBody(), padding: 'x'.repeat(5 * 1024 * 1024) });
    const r = await fetch(`${gw.url}/mcp/echo`, { method: 'POST', headers: MCP_POST_HEADERS, body: big });
    assert.equal(r.status, 413);
    assert.equal(((await r.json()) as { error: { data: { code: string } } }).error.data.code, 'body_too_large');
    const { client } = await connectClient(`${gw.url}/mcp/echo`);
    assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'still here' } })), 'still here');
    await client.close();
  });

  it('closes the connection after refusing a request whose body is still coming (an unknown route, a missing key); keeps it after one that came whole', async () => {
    const key = 'a-key-for-the-unread-body-test-0123';
    const keyed = await startInProcessGateway(
      `servers:\n  echo:\n    module: ${fixtureModule('echo')}\n` +
        `  keyed:\n    module: ${fixtureModule('echo')}\n    auth:\n      kind: apiKey\n      keys: ["${key}"]\n`,
    );
    try {
      const port = Number(new URL(keyed.url).port);
      const head = (path: string, framing: string, accept = 'application/json, text/event-stream') =>
        `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAccept: ${accept}\r\n${framing}\r\n\r\n`;
      for (const [how, path, status, accept] of [
        ['an unknown route', '/mcp/nowhere', 404, undefined],
        ['a missing key', '/mcp/keyed', 401, undefined],
        ['a wrong Accept', '/mcp/echo', 406, 'text/html'],
      ] as const) {
        // 10 MB declared, 1 KB sent, then nothing. Was answered, then the connection held open while
        // Node waited for the rest, up to requestTimeout (5 min): anyone could hold connections that way.
        const { response, closed } = await rawExchange(port, head(path, 'Content-Length: 10000000', accept) + 'x'.repeat(1024));
        assert.ok(closed, `${how}: the gateway closes the connection`);
        assert.match(response, new RegExp(`^HTTP/1\\.1 ${status} `), how);
        assert.match(response, /\r\nConnection: close\r\n/i, how);
        // Chunked, with no end in sight: the same.
        const chunked = await rawExchange(port, head(path, 'Transfer-Encoding: chunked', accept) + '400\r\n' + 'x'.repeat(1024) + '\r\n');
        assert.ok(chunked.closed, `${how}, chunked: the gateway closes the connection`);
        assert.match(chunked.response, new RegExp(`^HTTP/1\\.1 ${status} `), `${how}, chunked`);
      }
      // A refused request whose body came whole leaves the connection to the client's next request.
      const body = JSON.stringify(initializeBody());
      const { first, rest, closed } = await rawExchangeAfter(
        port,
        head('/mcp/keyed', `Content-Length: ${Buffer.byteLength(body)}`) + body,
        head('/mcp/keyed', `Content-Length: ${Buffer.byteLength(body)}\r\nx-api-key: ${key}\r\nConnection: close`) + body,
      );
      assert.match(first, /^HTTP\/1\.1 401 /);
      assert.doesNotMatch(first, /\r\nConnection: close\r\n/i);
      assert.match(rest, /^HTTP\/1\.1 200 /, 'the second request on the same connection is served');
      assert.ok(closed);
      // A GET, which has no body, keeps its connection after a refusal too.
      const get = await rawExchangeAfter(
        port,
        'GET /mcp/nowhere HTTP/1.1\r\nHost: localhost\r\n\r\n',
        'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
      );
      assert.match(get.first, /^HTTP\/1\.1 404 /);
      assert.match(get.rest, /^HTTP\/1\.1 200 /, 'the next request on the same connection is served');
    } finally {
      await keyed.close();
    }
  });

  it('reads a gzip, deflate or br body, holds the inflated size to maxBodySize, and answers one that does not inflate with 400 -32700', async () => {
    const send = (body: Buffer | string, encoding: string) =>
      fetch(`${gw.url}/mcp/echo`, {
        method: 'POST',
        headers: { ...MCP_POST_HEADERS, 'content-encoding': encoding },
        body: typeof body === 'string' ? body : new Uint8Array(body),
      });
    const init = JSON.stringify(initializeBody());
    for (const [encoding, compress] of [
      ['gzip', zlib.gzipSync],
      ['deflate', zlib.deflateSync],
      ['br', zlib.brotliCompressSync],
    ] as const) {
      const r = await send(compress(init), encoding);
      assert.equal(r.status, 200, `${encoding}: ${await r.clone().text()}`);
      assert.ok(r.headers.get('mcp-session-id'));
      await r.body?.cancel();
    }
    // 2 KB on the wire, 1 MiB inflated.
    const bomb = await send(zlib.gzipSync(Buffer.alloc(1024 * 1024, ' ')), 'gzip');
    assert.equal(bomb.status, 413);
    assert.equal(((await bomb.json()) as { error: { data: { code: string } } }).error.data.code, 'body_too_large');
    // Was a 500 internal_error, logged as a failure of the gateway.
    const logged = gw.logs.length;
    // Brotli's errors (found by test/e2e/edge-fuzz.test.ts) were a 500 too: their codes are not zlib's `Z_…`.
    for (const [encoding, body] of [
      ['gzip', 'not gzip at all'],
      ['gzip', zlib.gzipSync(init).subarray(0, 20)],
      ['deflate', 'not deflate'],
      ['br', '{}'],
      ['br', 'not brotli at all'],
      ['br', zlib.brotliCompressSync(init).subarray(0, 20)],
    ] as const) {
      const r = await send(body, encoding);
      assert.equal(r.status, 400, `${encoding}: ${await r.clone().text()}`);
      const { error } = (await r.json()) as { error: { code: number; message: string; data: { code: string } } };
      assert.equal(error.code, -32700);
      assert.equal(error.data.code, 'parse_error');
      assert.equal(error.message, `Parse error: the body does not decompress as its Content-Encoding (${encoding}) says`);
    }
    assert.ok(!gw.logs.slice(logged).some((line) => line.msg === 'request failed'));
    const unknown = await send(init, 'zstd');
    assert.equal(unknown.status, 415);
    assert.match(((await unknown.json()) as { error: { message: string } }).error.message, /unsupported content encoding "zstd"/);
  });

  it('answers a wrong Content-Type with 415', async () => {
    const r = await post('/mcp/echo', initializeBody(), { 'content-type': 'text/plain', accept: MCP_POST_HEADERS.accept });
    assert.equal(r.status, 415);
    assert.equal(r.json().error.data.code, 'unsupported_media_type');
  });

  it('answers an Accept header without both types with 406', async () => {
    const r = await post('/mcp/echo', initializeBody(), { 'content-type': 'application/json', accept: 'application/json' });
    assert.equal(r.status, 406);
    assert.equal(r.json().error.data.code, 'not_acceptable');
  });

  it('answers an unknown route with 404 naming the mounted routes', async () => {
    const r = await post('/mcp/nope', initializeBody());
    assert.equal(r.status, 404);
    assert.equal(r.json().error.data.code, 'route_not_found');
    assert.deepEqual(r.json().error.data.routes, ['/mcp/echo', '/mcp/time', '/mcp/limited', '/mcp/quick']);
  });

  it('answers a path below /mcp/<name> (or /mcp//<name>) with 404 route_not_found, as JSON-RPC', async () => {
    // Found by test/e2e/edge-fuzz.test.ts: these got the status page's plain `not_found` body.
    for (const path of ['/mcp/echo/extra', '/mcp/echo/mcp', '/mcp//echo', '/mcp/a%2Fb/c']) {
      const r = await post(path, initializeBody());
      assert.equal(r.status, 404, path);
      assert.equal(r.json().error.code, -32000, path);
      assert.equal(r.json().error.data.code, 'route_not_found', path);
      assert.deepEqual(r.json().error.data.routes, ['/mcp/echo', '/mcp/time', '/mcp/limited', '/mcp/quick'], path);
    }
  });

  it('answers a JSON value that is not JSON-RPC with 400 -32600', async () => {
    for (const body of [42, 'hello', { id: 1, method: 'ping' }, { jsonrpc: '2.0', id: 1, method: 7 }, null]) {
      const r = await post('/mcp/echo', JSON.stringify(body));
      assert.equal(r.status, 400, `for ${JSON.stringify(body)}`);
      assert.equal(r.json().error.code, -32600);
      assert.equal(r.json().error.data.code, 'invalid_request');
      assert.equal(r.json().jsonrpc, '2.0');
    }
  });

  it('answers bad batches with 400 -32600: empty, a bad item, initialize batched', async () => {
    const empty = await post('/mcp/echo', []);
    assert.equal(empty.status, 400);
    assert.match(empty.json().error.message, /empty batch/);
    const badItem = await post('/mcp/echo', [{ jsonrpc: '2.0', id: 1, method: 'ping' }, { nope: true }]);
    assert.equal(badItem.status, 400);
    assert.match(badItem.json().error.message, /batch item 1/);
    const batchedInit = await post('/mcp/echo', [initializeBody(1), { jsonrpc: '2.0', id: 2, method: 'ping' }]);
    assert.equal(batchedInit.status, 400);
    assert.equal(batchedInit.json().error.code, -32600);
  });

  it('answers a non-initialize request without a session id with 400', async () => {
    const r = await post('/mcp/echo', { jsonrpc: '2.0', id: 1, method: 'tools/list' });
    assert.equal(r.status, 400);
    assert.equal(r.json().error.data.code, 'session_required');
  });

  it('answers an unknown session id with 404 -32001', async () => {
    const r = await post(
      '/mcp/echo',
      { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      { ...MCP_POST_HEADERS, 'mcp-session-id': 'no-such-session' },
    );
    assert.equal(r.status, 404);
    assert.equal(r.json().error.code, -32001);
  });

  it('answers PUT with 405 and an Allow header', async () => {
    const r = await fetch(`${gw.url}/mcp/echo`, { method: 'PUT' });
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'GET, POST, DELETE');
  });

  it('refuses a foreign Host or X-Forwarded-Host with 403 (DNS rebinding), and accepts allowedHosts', async () => {
    const send = (headers: Record<string, string>) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request(`${gw.url}/mcp/echo`, { method: 'POST', headers: { ...MCP_POST_HEADERS, ...headers } }, (res) => {
          let body = '';
          res
            .setEncoding('utf8')
            .on('data', (chunk) => (body += chunk))
            .on('end', () => resolve({ status: res.statusCode!, body }));
        });
        req.on('error', reject);
        req.end(JSON.stringify(initializeBody()));
      });
    const foreign = await send({ host: 'evil.example.com' });
    assert.equal(foreign.status, 403);
    assert.equal(JSON.parse(foreign.body).error.data.code, 'invalid_host');
    assert.equal((await send({ 'x-forwarded-host': 'evil.example.com' })).status, 403);
    assert.equal((await send({ host: 'gateway.example.com:443' })).status, 200);
    assert.equal((await send({ 'x-forwarded-host': 'GATEWAY.example.com' })).status, 200);
  });

  it('answers a request with more than one Host field with 400 invalid_header before anything else, as RFC 9112 §3.2 says (Node 20 took the first)', async () => {
    const port = Number(new URL(gw.url).port);
    const body = JSON.stringify(initializeBody());
    const sessions = gw.gateway.routes.get('echo')!.sessions.size;
    const requests = [
      // The second name would have been refused on its own; only the first was checked.
      `POST /mcp/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example.com\r\n`,
      `POST /mcp/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nhost: 127.0.0.1\r\n`,
      `POST /mcp/quick HTTP/1.1\r\nHOST: gateway.example.com\r\nHost: 127.0.0.1\r\nHost: localhost\r\n`,
    ];
    for (const head of requests) {
      const { response } = await rawExchange(
        port,
        `${head}Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
      assert.match(response, /^HTTP\/1\.1 400 /, head);
      const { error } = JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4));
      assert.equal(error.data.code, 'invalid_header', head);
      assert.equal(error.data.header, 'Host', head);
      assert.equal(error.message, `Bad Request: the Host header came ${head.split(/\bhost:/i).length - 1} times; send it once`);
    }
    assert.equal(gw.gateway.routes.get('echo')!.sessions.size, sessions, 'no session was opened');
    // Every path: the probe path and the status page too.
    for (const target of ['/healthz', '/']) {
      const { response } = await rawExchange(
        port,
        `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
      );
      assert.match(response, /^HTTP\/1\.1 400 /, target);
    }
    const once = await rawExchange(port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    assert.match(once.response, /^HTTP\/1\.1 200 /);
  });

  it('turns a tool that throws into an isError result and the session carries on', async () => {
    const { client } = await connectClient(`${gw.url}/mcp/echo`);
    const failed = await client.callTool({ name: 'fail', arguments: { message: 'boom' } });
    assert.equal(failed.isError, true);
    assert.equal(textOf(failed), 'boom');
    assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'still here' } })), 'still here');
    await client.close();
  });

  it('keeps every other session working after all of the above', async () => {
    const { client } = await connectClient(`${gw.url}/mcp/time`);
    const result = await client.callTool({ name: 'get_current_time', arguments: { timezone: 'UTC' } });
    assert.equal((result.structuredContent as { timezone: string }).timezone, 'UTC');
    await client.close();
  });
});

describe('JSON-RPC envelopes', () => {
  /** Valid JSON, not a message of MCP's JSON-RPC: what the message must say, and the id to echo. */
  const envelopes: Array<[body: unknown, message: RegExp, id: string | number | null]> = [
    [{ jsonrpc: '2.0', id: 1.5, method: 'ping' }, /id must be a string or an integer, not 1\.5/, null],
    [{ jsonrpc: '2.0', id: null, method: 'ping' }, /id must be a string or an integer, not null/, null],
    [{ jsonrpc: '2.0', id: true, method: 'ping' }, /id must be a string or an integer, not true/, null],
    [{ jsonrpc: '2.0', id: 2 ** 53, method: 'ping' }, /id must be a string or an integer/, null],
    [{ jsonrpc: '2.0', id: 1, method: 'ping', params: [] }, /params must be an object, not an array/, 1],
    [{ jsonrpc: '2.0', id: 'a', method: 'tools/list', params: 'x' }, /params must be an object, not a string/, 'a'],
    [{ jsonrpc: '2.0', id: 3, method: 'ping', extra: 1 }, /unexpected member "extra"/, 3],
    [{ jsonrpc: '1.0', id: 3, method: 'ping' }, /jsonrpc must be "2\.0"/, 3],
    [{ jsonrpc: '2.0', id: 5, method: 'ping', params: { _meta: { progressToken: true } } }, /params\._meta\.progressToken: /, 5],
    [{ jsonrpc: '2.0', id: 4, result: [] }, /result must be an object, not an array/, null],
    [{ jsonrpc: '2.0', id: 4, error: { code: 1.5, message: 'x' } }, /error\.code must be an integer/, null],
    [{ jsonrpc: '2.0', id: 4, result: {}, error: { code: 1, message: 'x' } }, /a result or an error, not both/, null],
  ];

  async function expectInvalidRequest(path: string, headers: Record<string, string>) {
    for (const [body, message, id] of envelopes) {
      const r = await post(path, body, headers);
      const what = `${path} ${JSON.stringify(body)}`;
      assert.equal(r.status, 400, what);
      assert.equal(r.json().error.code, -32600, what);
      assert.equal(r.json().error.data.code, 'invalid_request', what);
      assert.match(r.json().error.message, /^Invalid Request: /, what);
      assert.match(r.json().error.message, message, what);
      assert.equal(r.json().id, id, what);
    }
  }

  it('answers valid JSON that is not MCP JSON-RPC with 400 -32600 invalid_request, naming the problem and echoing a readable id', async () => {
    const { client, transport } = await connectClient(`${gw.url}/mcp/echo`);
    const sessionsBefore = gw.gateway.routes.get('echo')!.sessions.size;
    await expectInvalidRequest('/mcp/echo', MCP_POST_HEADERS);
    assert.equal(gw.gateway.routes.get('echo')!.sessions.size, sessionsBefore, 'no session was created');
    // Within a session too, where the transport would have answered -32700 "Parse error".
    await expectInvalidRequest('/mcp/echo', {
      ...MCP_POST_HEADERS,
      'mcp-session-id': transport.sessionId!,
      'mcp-protocol-version': '2025-06-18',
    });
    await expectInvalidRequest('/mcp/quick', MCP_POST_HEADERS);
    assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'still here' } })), 'still here');
    await client.close();
  });

  it('names the batch item at fault', async () => {
    const r = await post('/mcp/echo', [
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { jsonrpc: '2.0', id: 2, method: 'ping', params: [] },
    ]);
    assert.equal(r.status, 400);
    assert.equal(r.json().error.data.code, 'invalid_request');
    assert.equal(r.json().error.message, 'Invalid Request: params must be an object, not an array (batch item 1)');
    assert.equal(r.json().id, 2);
  });

  it('refuses a batch that repeats a request id with 400 invalid_request naming it; responses, notifications and "1" vs 1 do not count', async () => {
    const { client, transport } = await connectClient(`${gw.url}/mcp/echo`);
    const headers = { ...MCP_POST_HEADERS, 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-06-18' };
    const ping = (id: string | number) => ({ jsonrpc: '2.0', id, method: 'ping' });
    for (const [batch, repeated] of [
      [[ping(1), { jsonrpc: '2.0', id: 1, method: 'tools/list' }], '1'],
      [[ping('a'), ping(2), ping('a')], '"a"'],
    ] as const) {
      const r = await post('/mcp/echo', batch, headers);
      assert.equal(r.status, 400);
      assert.equal(r.json().error.code, -32600);
      assert.equal(r.json().error.data.code, 'invalid_request');
      assert.equal(r.json().error.message, `Invalid Request: the batch repeats the request id ${repeated}`);
      assert.equal(r.json().id, null);
    }
    const distinct = await post('/mcp/echo', [ping(1), ping('1'), { jsonrpc: '2.0', method: 'notifications/initialized' }], headers);
    assert.equal(distinct.status, 200, distinct.text);
    const answered = distinct.text
      .split('\n')
      .filter((line) => line.startsWith('data: '))
      .map((line) => JSON.parse(line.slice('data: '.length)).id);
    assert.deepEqual(answered.sort(), [1, '1'].sort());
    // A client's response to a server request may share an id with one of its own requests.
    const withResponse = await post('/mcp/echo', [ping(7), { jsonrpc: '2.0', id: 7, result: {} }], headers);
    assert.equal(withResponse.status, 200, withResponse.text);
    assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'still here' } })), 'still here');
    await client.close();
  });
});

describe('initialize', () => {
  const params = initializeBody().params;
  const init = (p: unknown, id: string | number = 'init-1') => ({
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    ...(p === undefined ? {} : { params: p }),
  });

  it('answers initialize with invalid params with 400 -32602 invalid_params naming each problem, and opens no session', async () => {
    const { client } = await connectClient(`${gw.url}/mcp/echo`);
    const sessions = gw.gateway.routes.get('echo')!.sessions;
    const before = sessions.size;
    const cases: Array<[unknown, string]> = [
      [
        {},
        'params.protocolVersion: Invalid input: expected string, received undefined; ' +
          'params.capabilities: Invalid input: expected object, received undefined; ' +
          'params.clientInfo: Invalid input: expected object, received undefined',
      ],
      [undefined, 'params: Invalid input: expected object, received undefined'],
      [{ ...params, protocolVersion: 20250618 }, 'params.protocolVersion: Invalid input: expected string, received number'],
      [{ ...params, capabilities: { sampling: 'yes' } }, 'params.capabilities.sampling: Invalid input: expected object, received string'],
      [{ ...params, clientInfo: { name: 'no-version' } }, 'params.clientInfo.version: Invalid input: expected string, received undefined'],
    ];
    for (const route of ['echo', 'quick']) {
      for (const [p, problems] of cases) {
        const r = await post(`/mcp/${route}`, init(p, 7));
        assert.equal(r.status, 400, `${route} ${JSON.stringify(p)}`);
        assert.equal(r.headers.get('mcp-session-id'), null);
        assert.deepEqual(r.json(), {
          jsonrpc: '2.0',
          error: { code: -32602, message: `Invalid params: initialize ${problems}`, data: { code: 'invalid_params' } },
          id: 7,
        });
      }
    }
    assert.equal(sessions.size, before, 'no session was opened');
    assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'still here' } })), 'still here');
    await client.close();
  });

  it('answers initialize sent as a notification with 400 invalid_request, and opens no session', async () => {
    const { client } = await connectClient(`${gw.url}/mcp/echo`);
    const sessions = gw.gateway.routes.get('echo')!.sessions;
    const before = sessions.size;
    for (const route of ['echo', 'quick']) {
      const r = await post(`/mcp/${route}`, { jsonrpc: '2.0', method: 'initialize', params });
      assert.equal(r.status, 400, route);
      assert.equal(r.headers.get('mcp-session-id'), null);
      assert.deepEqual(r.json(), {
        jsonrpc: '2.0',
        error: { code: -32600, message: 'Invalid Request: initialize must be a request with an id', data: { code: 'invalid_request' } },
        id: null,
      });
    }
    assert.equal(sessions.size, before, 'no session was opened, none left to idle out');
    const valid = await post('/mcp/echo', init(params));
    assert.equal(valid.status, 200);
    assert.equal(sessions.size, before + 1, 'the same initialize as a request opens one');
    assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'still here' } })), 'still here');
    await client.close();
  });

  it("answers initialize sent with a session id (live, or any) with 400 invalid_request saying to drop the header (was the SDK's bare 'Server already initialized'), and the session carries on", async () => {
    const { client, transport } = await connectClient(`${gw.url}/mcp/echo`);
    const sessions = gw.gateway.routes.get('echo')!.sessions;
    const before = sessions.size;
    for (const id of [transport.sessionId!, 'no-such-session']) {
      const r = await post('/mcp/echo', init(params, 3), { ...MCP_POST_HEADERS, 'mcp-session-id': id });
      assert.equal(r.status, 400, id);
      assert.deepEqual(r.json(), {
        jsonrpc: '2.0',
        error: {
          code: -32600,
          message: 'Invalid Request: initialize opens a new session; send it without the Mcp-Session-Id header',
          data: { code: 'invalid_request' },
        },
        id: 3,
      });
    }
    assert.equal(sessions.size, before, 'no session was opened');
    assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'still here' } })), 'still here');
    await client.close();
  });
});

describe('nesting depth', () => {
  /** `n` levels of `{"a": …}` around `{}`: n + 1 levels. */
  const nest = (n: number) => '{"a":'.repeat(n) + '{}' + '}'.repeat(n);
  /** How deep objects and arrays nest in a JSON text (the test bodies have no brackets in strings). */
  const depthOf = (json: string) => {
    let depth = 0;
    let max = 0;
    for (const c of json) {
      if (c === '{' || c === '[') max = Math.max(max, ++depth);
      else if (c === '}' || c === ']') depth--;
    }
    return max;
  };
  /** A tools/call of `echo` whose arguments carry `extra`; the message nests `depth` levels in all. */
  const deepCall = (depth: number, id = 9) => {
    const body = `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"echo","arguments":{"text":"deep","extra":${nest(depth - 4)}}}}`;
    assert.equal(depthOf(body), depth);
    return body;
  };
  const tooDeep = "Invalid Request: objects and arrays nest more than 128 levels deep, the gateway's limit";

  it('serves messages nested up to 128 levels, and refuses deeper ones with 400 invalid_request naming the limit', async () => {
    const { client, transport } = await connectClient(`${gw.url}/mcp/echo`);
    const headers = { ...MCP_POST_HEADERS, 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-06-18' };
    const atLimit = await post('/mcp/echo', deepCall(128), headers);
    assert.equal(atLimit.status, 200);
    assert.match(atLimit.text, /"text":"deep"/);

    const arrays = (n: number) =>
      `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x","extra":${'['.repeat(n)}${']'.repeat(n)}}}}`;
    const response = (n: number) => `{"jsonrpc":"2.0","id":99,"result":{"x":${nest(n)}}}`;
    const notification = (n: number) => `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"reason":${nest(n)}}}`;
    const refused: Array<[body: string, id: number | null]> = [
      [deepCall(129), 9],
      [deepCall(5_000), 9],
      [arrays(20_000), 9], // 40 KB, under the maxBodySize of 64KiB
      // The SDK answered this one -32700 with a RangeError from JSON.stringify: it reported the unknown id.
      [response(5_000), null],
      [notification(5_000), null],
    ];
    for (const path of ['/mcp/echo', '/mcp/quick']) {
      for (const [body, id] of refused) {
        const r = await post(path, body, path === '/mcp/echo' ? headers : MCP_POST_HEADERS);
        assert.equal(r.status, 400, `${path} ${body.slice(0, 60)}`);
        assert.deepEqual(r.json(), { jsonrpc: '2.0', error: { code: -32600, message: tooDeep, data: { code: 'invalid_request' } }, id });
      }
    }
    const batch = await post('/mcp/echo', `[{"jsonrpc":"2.0","id":1,"method":"ping"},${deepCall(200, 2)}]`, headers);
    assert.equal(batch.status, 400);
    assert.equal(batch.json().error.message, `${tooDeep} (batch item 1)`);
    assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'still here' } })), 'still here');
    await client.close();
  });

  it('refuses an initialize with capabilities nested 5,000 deep with 400 (was a 500 from the session id encoder), opening nothing', async () => {
    const sessions = gw.gateway.routes.get('echo')!.sessions;
    const before = sessions.size;
    const initialize = (capabilitiesDepth: number) =>
      `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","clientInfo":{"name":"deep","version":"1"},` +
      `"capabilities":{"experimental":${nest(capabilitiesDepth)}}}}`;
    const r = await post('/mcp/echo', initialize(5_000));
    assert.equal(r.status, 400);
    assert.deepEqual(r.json(), { jsonrpc: '2.0', error: { code: -32600, message: tooDeep, data: { code: 'invalid_request' } }, id: 1 });
    assert.equal(sessions.size, before);

    // At the limit, the session opens and its id stays short (the encoder drops experimental capabilities).
    const body = initialize(128 - 4);
    assert.equal(depthOf(body), 128);
    const opened = await post('/mcp/echo', body);
    assert.equal(opened.status, 200, opened.text);
    assert.ok(opened.headers.get('mcp-session-id')!.length <= 768);
    assert.equal(sessions.size, before + 1);
  });
});

describe('sessions', () => {
  it('gives each session its own server instance', async () => {
    const a = await connectClient(`${gw.url}/mcp/echo`);
    const b = await connectClient(`${gw.url}/mcp/echo`);
    const ia = JSON.parse(textOf(await a.client.callTool({ name: 'whoami', arguments: {} })));
    const ib = JSON.parse(textOf(await b.client.callTool({ name: 'whoami', arguments: {} })));
    assert.equal(ia.route, 'echo');
    assert.notEqual(ia.instance, ib.instance);
    await a.client.close();
    await b.client.close();
  });

  it('ends a session on DELETE, and answers 404 for its id afterwards', async () => {
    const { client, transport } = await connectClient(`${gw.url}/mcp/echo`);
    const id = transport.sessionId!;
    await transport.terminateSession();
    const r = await post('/mcp/echo', { jsonrpc: '2.0', id: 5, method: 'tools/list' }, { ...MCP_POST_HEADERS, 'mcp-session-id': id });
    assert.equal(r.status, 404);
    await client.close();
  });

  it('cuts a long request id that is already in flight to 64 characters in the refusal message, as other echoed values are', async () => {
    const init = await post('/mcp/echo', initializeBody());
    const headers = { ...MCP_POST_HEADERS, 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-06-18' };
    const id = 'i'.repeat(20_000);
    const call = (text: string, ms: number) =>
      post('/mcp/echo', { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'slow', arguments: { ms, text } } }, headers);
    const route = gw.gateway.routes.get('echo')!;
    const before = route.inFlight;
    const first = call('first', 500);
    while (route.inFlight === before) await new Promise((resolve) => setTimeout(resolve, 5));
    const refused = await call('second', 0);
    assert.equal(refused.status, 400);
    const { error } = refused.json() as { error: { message: string; data: { code: string; id: string } } };
    assert.equal(
      error.message,
      `Invalid Request: a request with id "${'i'.repeat(64)}…" is already in flight on this session; use a new id`,
    );
    assert.equal(error.data.code, 'invalid_request');
    assert.match((await first).text, /"text":"first"/);
  });

  it('refuses a session id from one route on every other route', async () => {
    const { client, transport } = await connectClient(`${gw.url}/mcp/echo`);
    const id = transport.sessionId!;
    for (const route of ['time', 'limited']) {
      const r = await post(`/mcp/${route}`, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { ...MCP_POST_HEADERS, 'mcp-session-id': id });
      assert.equal(r.status, 404, route);
    }
    await client.close();
  });

  it('delivers server notifications on the session stream the client opened', async () => {
    const { client } = await connectClient(`${gw.url}/mcp/echo`);
    const received = new Promise<unknown>((resolve) =>
      client.setNotificationHandler('notifications/message', (n) => resolve(n.params.data)),
    );
    await client.callTool({ name: 'notify', arguments: { message: 'hello on the stream' } });
    assert.equal(await received, 'hello on the stream');
    await client.close();
  });

  it('opens one GET stream per session with SSE headers, and refuses a second with 409', async () => {
    const init = await post('/mcp/echo', initializeBody());
    const id = init.headers.get('mcp-session-id')!;
    const headers = { ...MCP_POST_HEADERS, 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' };
    assert.equal((await post('/mcp/echo', { jsonrpc: '2.0', method: 'notifications/initialized' }, headers)).status, 202);
    const controller = new AbortController();
    const streamHeaders = { accept: 'text/event-stream', 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' };
    const stream = await fetch(`${gw.url}/mcp/echo`, { headers: streamHeaders, signal: controller.signal });
    assert.equal(stream.status, 200);
    assert.match(stream.headers.get('content-type')!, /text\/event-stream/);
    const second = await fetch(`${gw.url}/mcp/echo`, { headers: streamHeaders });
    assert.equal(second.status, 409);
    controller.abort();
    assert.equal((await fetch(`${gw.url}/mcp/echo`, { method: 'DELETE', headers: streamHeaders })).status, 200);
  });

  it('answers GET without a session id with 400 and GET with a bad Accept with 406', async () => {
    const noId = await fetch(`${gw.url}/mcp/echo`, { headers: { accept: 'text/event-stream' } });
    assert.equal(noId.status, 400);
    const badAccept = await fetch(`${gw.url}/mcp/echo`, { headers: { accept: 'application/json', 'mcp-session-id': 'x' } });
    assert.equal(badAccept.status, 406);
  });
});

describe('connections', () => {
  it("closes the connection after an event-stream answer when the client asked (Connection: close, HTTP/1.0), as after every other answer (the SDK's keep-alive kept it open for 65 s)", async () => {
    const port = Number(new URL(gw.url).port);
    const ping = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });
    const init = JSON.stringify(initializeBody());
    const cases: Array<[string, string, string, string]> = [
      ['a 2025 initialize', '/mcp/echo', init, 'HTTP/1.1'],
      ['a stateless route', '/mcp/quick', ping, 'HTTP/1.1'],
      ['HTTP/1.0', '/mcp/quick', ping, 'HTTP/1.0'],
    ];
    for (const [what, path, body, version] of cases) {
      const { response, closed } = await rawExchange(
        port,
        `POST ${path} ${version}\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\n${version === 'HTTP/1.1' ? 'Connection: close\r\n' : ''}\r\n${body}`,
      );
      const head = response.slice(0, response.indexOf('\r\n\r\n')).toLowerCase();
      assert.match(head, /^http\/1\.1 200 /, what);
      assert.match(head, /content-type: text\/event-stream/, what);
      assert.match(response, /"result"/, what);
      assert.equal(closed, true, `${what}: the gateway kept the connection open`);
      assert.doesNotMatch(head, /connection: keep-alive/, what);
    }
  });
});

describe('stateless routes', () => {
  it('serves each POST with a fresh server and no session id', async () => {
    const { client, transport } = await connectClient(`${gw.url}/mcp/quick`);
    assert.equal(transport.sessionId, undefined);
    assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'a' } })), 'a');
    const one = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
    const two = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
    assert.notEqual(one.instance, two.instance);
    await client.close();
  });

  it('answers GET and DELETE with 405, whatever their Accept (a GET accepting JSON only was told 406 not_acceptable)', async () => {
    for (const method of ['GET', 'DELETE']) {
      for (const accept of ['text/event-stream', 'application/json', undefined]) {
        const r = await fetch(`${gw.url}/mcp/quick`, { method, headers: accept ? { accept } : {} });
        assert.equal(r.status, 405, `${method} ${accept}`);
        assert.equal(r.headers.get('allow'), 'POST');
        const { error } = await r.json();
        assert.equal(error.data.code, 'method_not_allowed');
        assert.equal(error.message, 'Method not allowed: the stateless route /mcp/quick takes POST only');
      }
    }
  });
});

describe('tool allow and deny lists', () => {
  it('lists only allowed tools not denied, and refuses calls to hidden ones', async () => {
    const { client } = await connectClient(`${gw.url}/mcp/limited`);
    const { tools } = await client.listTools();
    assert.deepEqual(
      tools.map((t) => t.name),
      ['echo'],
    );
    // A hidden tool is answered exactly as the SDK answers one that does not exist.
    for (const name of ['fail', 'whoami', 'no_such_tool']) {
      await assert.rejects(client.callTool({ name, arguments: { message: 'x' } }), (error: { code?: number; message?: string }) => {
        assert.equal(error.code, -32602);
        assert.match(error.message ?? '', new RegExp(`Tool ${name} not found`));
        return true;
      });
    }
    assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'ok' } })), 'ok');
    await client.close();
  });
});

describe('status', () => {
  it('answers / at once on a fresh gateway, listing tools once they are known', async () => {
    const fresh = await startInProcessGateway(`servers:\n  time:\n    module: ${shippedModule('time')}\n`);
    const first = await (await fetch(`${fresh.url}/`)).text();
    assert.match(first, /listing tools…/);
    assert.match(first, /http-equiv="refresh"/);
    let page = first;
    for (let i = 0; i < 100 && !page.includes('get_current_time'); i++) page = await (await fetch(`${fresh.url}/`)).text();
    assert.match(page, /<code>get_current_time<\/code>/);
    assert.doesNotMatch(page, /http-equiv="refresh"/);
    await fresh.close();
  });

  it('serves / as HTML and /status.json with routes, tools and session counts', async () => {
    const status = await (await fetch(`${gw.url}/status.json`)).json();
    const html = await fetch(`${gw.url}/`);
    assert.equal(html.status, 200);
    const page = await html.text();
    assert.match(page, /get_current_time/);
    assert.match(page, new RegExp(`${gw.url}/mcp/time`.replace(/[.]/g, '\\.')));
    const limited = status.routes.find((r: { name: string }) => r.name === 'limited');
    assert.deepEqual(
      limited.tools.map((t: { name: string }) => t.name),
      ['echo'],
    );
    assert.equal(status.routes.find((r: { name: string }) => r.name === 'quick').sessions, null);
    assert.equal(typeof status.cache.hits, 'number');
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
  });

  it('answers HEAD on its pages without a body, other methods with 405, and unknown paths with 404 naming the routes', async () => {
    const head = await fetch(`${gw.url}/status.json`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.match(head.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(await head.text(), '');

    const post = await fetch(`${gw.url}/healthz`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    assert.equal((await post.json()).error.data.code, 'method_not_allowed');

    const missing = await fetch(`${gw.url}/nothing/here?x=1`);
    assert.equal(missing.status, 404);
    const body = await missing.json();
    assert.equal(body.message, 'Nothing at /nothing/here: MCP servers are at /mcp/<name>');
    assert.ok(body.routes.includes('/mcp/time'));
  });

  it('routes /mcp/<name> with a query string, a trailing slash or a percent-encoded name', async () => {
    for (const path of ['/mcp/time?via=test', '/mcp/time/', '/mcp/ti%6De']) {
      const r = await post(path, initializeBody());
      assert.equal(r.status, 200, path);
      assert.ok(r.headers.get('mcp-session-id'), path);
    }
    const bad = await post('/mcp/%E0%A4%A', initializeBody());
    assert.equal(bad.status, 404);
    assert.equal(bad.json().error.data.code, 'route_not_found');
  });

  it('writes one log line per request with route, method, tool, status and a session hash', async () => {
    const { client, transport } = await connectClient(`${gw.url}/mcp/echo`);
    await client.callTool({ name: 'echo', arguments: { text: 'logged' } });
    const id = transport.sessionId!;
    await client.close();
    const line = gw.logs.find((l) => l.msg === 'request' && l.tool === 'echo');
    assert.ok(line, 'a request line for the tool call');
    assert.equal(line.route, 'echo');
    assert.equal(line.rpc, 'tools/call');
    assert.equal((line.http as { status: number }).status, 200);
    assert.match(String(line.session), /^[0-9a-f]{12}$/);
    const opened = gw.logs.find((l) => l.msg === 'request' && l.rpc === 'initialize' && l.session === line.session);
    assert.ok(opened, "the initialize line carries the session's tag too, so a session can be followed from its start");
    assert.equal(typeof line.durationMs, 'number');
    assert.ok(!JSON.stringify(gw.logs).includes(id), 'the raw session id never appears in logs');
  });
});

describe('request log', () => {
  it('logs a path of up to 256 characters whole, and cuts a longer one saying how much was cut', async () => {
    const logged = async (path: string, method = 'GET') => {
      const from = gw.logs.length;
      const r = await fetch(`${gw.url}${path}`, { method, headers: MCP_POST_HEADERS, ...(method === 'POST' ? { body: '{}' } : {}) });
      assert.equal(r.status, 404, path.slice(0, 40));
      await r.text();
      for (let turn = 0; turn < 1000; turn++) {
        const line = gw.logs.slice(from).find((l) => l.msg === 'request');
        if (line) return (line.http as { path: string }).path;
        await new Promise((resolve) => setImmediate(resolve));
      }
      assert.fail('no request line');
    };
    const exact = `/${'p'.repeat(255)}`;
    assert.equal(await logged(exact), exact);
    const long = `/nothing/${'x'.repeat(10_000)}`;
    assert.equal(await logged(long), `${long.slice(0, 256)}…[+${long.length - 256} chars]`);
    const mcp = `/mcp/${'a'.repeat(5_000)}`;
    assert.equal(await logged(mcp, 'POST'), `${mcp.slice(0, 256)}…[+${mcp.length - 256} chars]`);
  });

  it("cuts a JSON-RPC method or tool name longer than 256 characters as it cuts a path (the line held the client's whole string)", async () => {
    const init = await post('/mcp/echo', initializeBody());
    const headers = { ...MCP_POST_HEADERS, 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-06-18' };
    const logged = async (message: Record<string, unknown> | Array<Record<string, unknown>>) => {
      const from = gw.logs.length;
      await post('/mcp/echo', message, headers);
      for (let turn = 0; turn < 1000; turn++) {
        const line = gw.logs.slice(from).find((l) => l.msg === 'request');
        if (line) return line;
        await new Promise((resolve) => setImmediate(resolve));
      }
      assert.fail('no request line');
    };
    const method = 'm'.repeat(10_000);
    const cut = (text: string) => `${text.slice(0, 256)}…[+${text.length - 256} chars]`;
    assert.equal((await logged({ jsonrpc: '2.0', id: 1, method })).rpc, cut(method));
    assert.equal((await logged([{ jsonrpc: '2.0', id: 2, method }])).rpc, `batch(1):${cut(method)}`);
    const name = 't'.repeat(10_000);
    const call = await logged({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name, arguments: {} } });
    assert.equal(call.rpc, 'tools/call');
    assert.equal(call.tool, cut(name));
  });
});

describe('concurrency', () => {
  it('serves 60 concurrent sessions with overlapping tool calls on two routes', async () => {
    const clients = await Promise.all(
      Array.from({ length: 60 }, (_, i) => connectClient(`${gw.url}/mcp/${i % 2 === 0 ? 'echo' : 'time'}`)),
    );
    const results = await Promise.all(
      clients.flatMap(({ client }, i) =>
        [0, 1, 2].map(async (j) => {
          if (i % 2 === 0) return textOf(await client.callTool({ name: 'slow', arguments: { ms: 5 * j, text: `${i}-${j}` } }));
          const r = await client.callTool({ name: 'get_current_time', arguments: { timezone: 'Asia/Tokyo' } });
          return `${i}-${j}:${(r.structuredContent as { timezone: string }).timezone}`;
        }),
      ),
    );
    results.forEach((text, k) => {
      const i = Math.floor(k / 3);
      const j = k % 3;
      assert.equal(text, i % 2 === 0 ? `${i}-${j}` : `${i}-${j}:Asia/Tokyo`);
    });
    await Promise.all(clients.map(({ client }) => client.close()));
  });
});
