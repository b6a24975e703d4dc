/**
 * What one caller cannot do to the others, on the real gateway process: a flood of initializes
 * past the cap leaves busy sessions alone, one caller cannot take a route's whole capacity, a
 * stalled body is cut after requestTimeout, and a second request with an id already in flight
 * is refused without taking the first one's answer.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { fixtureModule, initializeBody, MCP_POST_HEADERS, startGatewayProcess, textOf } from '../helpers/gateway.js';
import { rawExchange, rawExchangeAfter } from '../helpers/raw-http.js';
import { until } from '../helpers/until.js';

const ECHO = (sessions: string, extra = '') => `servers:\n  echo:\n    module: ${fixtureModule('echo')}\nsessions:\n${sessions}${extra}`;

/** Behind the Functions host every request comes from 127.0.0.1; the caller is in X-Forwarded-For. */
const from = (address: string) => ({ 'x-forwarded-for': address });

/** Opens a session with raw requests (no GET stream: idle between requests); returns its id. */
async function openSession(url: string, headers: Record<string, string>): Promise<string> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { ...MCP_POST_HEADERS, ...headers },
    body: JSON.stringify(initializeBody()),
  });
  assert.equal(response.status, 200, await response.clone().text());
  await response.text();
  const id = response.headers.get('mcp-session-id')!;
  const sessionHeaders = { ...MCP_POST_HEADERS, ...headers, 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' };
  const initialized = await fetch(url, {
    method: 'POST',
    headers: sessionHeaders,
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  assert.equal(initialized.status, 202);
  return id;
}

/** Opens a GET stream on a session (making it busy); abort the controller to end it. */
async function openStream(url: string, id: string, headers: Record<string, string>): Promise<AbortController> {
  const controller = new AbortController();
  const stream = await fetch(url, {
    headers: { accept: 'text/event-stream', 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18', ...headers },
    signal: controller.signal,
  });
  assert.equal(stream.status, 200);
  return controller;
}

/** An SDK client whose every request carries `headers`. */
async function clientFrom(url: string, headers: Record<string, string>) {
  const client = new Client({ name: 'victim', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  await client.connect(transport);
  return { client, transport };
}

async function status(url: string) {
  const body = (await (await fetch(`${url}/status.json`)).json()) as {
    routes: Array<{ name: string; inFlight: number; sessions: { active: number; max: number; maxPerPrincipal: number } }>;
  };
  return body.routes[0]!;
}

describe('a flood of initializes', () => {
  it('never evicts a session with a call in flight or an open GET stream', async () => {
    const gateway = await startGatewayProcess(ECHO('  maxPerRoute: 20\n  maxPerPrincipal: 20\n'));
    const url = `${gateway.url}/mcp/echo`;
    try {
      const victim = await clientFrom(url, from('198.51.100.7'));
      const notes: string[] = [];
      victim.client.setNotificationHandler('notifications/message', (n) => void notes.push(String(n.params.data)));
      // The SDK client keeps a GET stream open; wait until the gateway holds it.
      await until(async () => (await status(gateway.url)).sessions.active >= 1, 'the GET stream to be held');
      const slow = victim.client.callTool({ name: 'slow', arguments: { ms: 1500, text: 'survived' } });
      while ((await status(gateway.url)).inFlight < 1) await new Promise((r) => setTimeout(r, 10));

      const attacker = from('203.0.113.9');
      const flood = [];
      for (let i = 0; i < 100; i++) {
        flood.push(
          await fetch(url, { method: 'POST', headers: { ...MCP_POST_HEADERS, ...attacker }, body: JSON.stringify(initializeBody(i)) }),
        );
      }
      assert.deepEqual(new Set(flood.map((r) => r.status)), new Set([200]), 'each one made room by closing an idle flood session');
      const route = await status(gateway.url);
      assert.equal(route.sessions.active, 20, 'the cap holds');

      assert.equal(textOf(await slow), 'survived', 'the call in flight got its answer');
      await victim.client.callTool({ name: 'notify', arguments: { message: 'still streaming' } });
      await until(() => notes.includes('still streaming'), 'the notification on the GET stream');
      assert.deepEqual(notes, ['still streaming'], 'the GET stream is still open and delivers');
      await victim.client.close();
    } finally {
      await gateway.stop();
    }
  });

  it('refuses a new session with 503 sessions_full when every session of the route is busy', async () => {
    const gateway = await startGatewayProcess(ECHO('  maxPerRoute: 4\n  maxPerPrincipal: 4\n'));
    const url = `${gateway.url}/mcp/echo`;
    const streams: AbortController[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        const headers = from(`198.51.100.${i + 1}`);
        streams.push(await openStream(url, await openSession(url, headers), headers));
      }
      const refused = await fetch(url, {
        method: 'POST',
        headers: { ...MCP_POST_HEADERS, ...from('203.0.113.9') },
        body: JSON.stringify(initializeBody(5)),
      });
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get('retry-after'), '1');
      const body = (await refused.json()) as { id: unknown; error: { code: number; message: string; data: unknown } };
      assert.equal(body.error.code, -32000);
      assert.deepEqual(body.error.data, { code: 'sessions_full', scope: 'route', limit: 4 });
      assert.match(body.error.message, /all 4 sessions of this route are busy/);
      // One stream ends: its session is idle again, and makes room.
      streams.shift()!.abort();
      let status_ = 0;
      for (let i = 0; i < 200 && status_ !== 200; i++) {
        const retry = await fetch(url, {
          method: 'POST',
          headers: { ...MCP_POST_HEADERS, ...from('203.0.113.9') },
          body: JSON.stringify(initializeBody(6)),
        });
        status_ = retry.status;
        await retry.text();
        if (status_ !== 200) await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(status_, 200);
    } finally {
      for (const stream of streams) stream.abort();
      await gateway.stop();
    }
  });
});

describe('sessions.maxPerPrincipal', () => {
  it("caps one caller's sessions without touching anyone else's", async () => {
    const gateway = await startGatewayProcess(ECHO('  maxPerRoute: 20\n  maxPerPrincipal: 3\n'));
    const url = `${gateway.url}/mcp/echo`;
    const streams: AbortController[] = [];
    try {
      const bystander = from('198.51.100.7');
      const theirs = await openSession(url, bystander);
      const mallory = from('203.0.113.9');
      // Ten sessions from one caller: each beyond 3 closes that caller's own least recently used one.
      const ids = [];
      for (let i = 0; i < 10; i++) ids.push(await openSession(url, mallory));
      assert.equal((await status(gateway.url)).sessions.active, 4);
      const list = await fetch(url, {
        method: 'POST',
        headers: { ...MCP_POST_HEADERS, ...bystander, 'mcp-session-id': theirs, 'mcp-protocol-version': '2025-06-18' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
      });
      assert.equal(list.status, 200);
      await list.text();

      for (const id of ids.slice(-3)) streams.push(await openStream(url, id, mallory));
      const refused = await fetch(url, {
        method: 'POST',
        headers: { ...MCP_POST_HEADERS, ...mallory },
        body: JSON.stringify(initializeBody()),
      });
      assert.equal(refused.status, 503);
      assert.deepEqual(((await refused.json()) as { error: { data: unknown } }).error.data, {
        code: 'sessions_full',
        scope: 'principal',
        limit: 3,
      });
      const others = await fetch(url, {
        method: 'POST',
        headers: { ...MCP_POST_HEADERS, ...bystander },
        body: JSON.stringify(initializeBody()),
      });
      assert.equal(others.status, 200, 'another caller still gets a session');
      await others.text();
    } finally {
      for (const stream of streams) stream.abort();
      await gateway.stop();
    }
  });
});

describe('requestTimeout', () => {
  it('answers a stalled body with 408 request_timeout and closes the connection; other requests and streams carry on', async () => {
    const gateway = await startGatewayProcess(ECHO('  keepAlive: 500ms\n', 'requestTimeout: 1s\n'));
    const url = `${gateway.url}/mcp/echo`;
    const port = Number(new URL(gateway.url).port);
    try {
      const id = await openSession(url, {});
      const streamController = new AbortController();
      const stream = await fetch(url, {
        headers: { accept: 'text/event-stream', 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' },
        signal: streamController.signal,
      });
      const head = (length: number) =>
        `POST /mcp/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n` +
        `Mcp-Session-Id: ${id}\r\nContent-Length: ${length}\r\n\r\n`;
      const stalled = Array.from({ length: 20 }, () => rawExchange(port, `${head(200)}{"jsonrpc":"2.0","id":1,`));
      const stalledHeaders = rawExchange(port, 'POST /mcp/echo HTTP/1.1\r\nHost: 127.0.0.1\r\n');

      const health = await fetch(`${gateway.url}/healthz`);
      assert.equal(health.status, 200, 'the gateway answers while bodies stall');
      const results = await Promise.all(stalled);
      for (const { response, closed } of results) {
        assert.ok(closed, 'the connection was closed');
        assert.match(response, /^HTTP\/1\.1 408 /);
        assert.match(response, /connection: close/i);
        const body = JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) as {
          error: { code: number; message: string; data: unknown };
        };
        assert.equal(body.error.code, -32000);
        assert.deepEqual(body.error.data, { code: 'request_timeout' });
        assert.equal(body.error.message, 'Request Timeout: the request did not arrive within 1 s');
      }
      const headers = await stalledHeaders;
      assert.ok(headers.closed);
      assert.match(headers.response, /^HTTP\/1\.1 408 /, 'stalled headers get the same 408');
      assert.match(headers.response, /"code":"request_timeout"/);

      // The GET stream outlived requestTimeout: it still carries keep-alives.
      const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
      let received = '';
      while (!received.includes(': keepalive')) received += (await reader.read()).value ?? '';
      streamController.abort();
      const list = await fetch(url, {
        method: 'POST',
        headers: { ...MCP_POST_HEADERS, 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/list' }),
      });
      assert.equal(list.status, 200, 'the session is unharmed');
      await list.text();
      type Line = { msg: string; error?: string; aborted?: boolean; http?: { method?: string } };
      const log = () => gateway.stdout.map((l) => JSON.parse(l) as Line);
      const timedOut = () => log().filter((l) => l.msg === 'request timed out' && l.error === 'request_timeout').length;
      const abandoned = () => log().filter((l) => l.msg === 'request' && l.http?.method === 'POST' && l.aborted).length;
      // Log lines are written asynchronously: give them a moment to arrive (bounded).
      await until(() => timedOut() >= 21 && abandoned() >= 20, 'the log lines');
      assert.equal(timedOut(), 21, 'a line for each timed-out request');
      assert.equal(abandoned(), 20, "each stalled POST's own line says it never got an answer");
    } finally {
      await gateway.stop();
    }
  });
});

describe('requestTimeout on a kept-alive connection', () => {
  it('answers 408 request_timeout to a request that stalls after an earlier one was answered on the same connection, body or headers', async () => {
    // The Functions host keeps its connections to the handler open and sends request after
    // request on them: a stall there must get the same answer as on a new connection.
    const gateway = await startGatewayProcess(ECHO('  maxPerRoute: 10\n', 'requestTimeout: 1s\n'));
    const port = Number(new URL(gateway.url).port);
    const healthz = 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
    const stalledBody =
      'POST /mcp/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n' +
      'Content-Length: 200\r\n\r\n{"jsonrpc":"2.0","id":1,';
    const stalledHeaders = 'POST /mcp/echo HTTP/1.1\r\nHost: 127.0.0.1\r\n';
    try {
      for (const stalled of [stalledBody, stalledHeaders]) {
        const { first, rest, closed } = await rawExchangeAfter(port, healthz, stalled);
        assert.match(first, /^HTTP\/1\.1 200 /, 'the first request was answered on the connection');
        assert.ok(closed, 'the connection was closed');
        assert.match(rest, /^HTTP\/1\.1 408 /, `the stalled second request is answered 408, not dropped: ${JSON.stringify(rest)}`);
        assert.match(rest, /"code":"request_timeout"/);
      }
    } finally {
      await gateway.stop();
    }
  });
});

describe('bytes after a whole request that are no request', () => {
  it('answers the request first, then refuses them with 400 and closes the connection', async () => {
    // A client that sends a body the request does not declare (node:http sends a DELETE's body with
    // no length) leaves bytes that read as the next request, which Node's parser refuses at once.
    const gateway = await startGatewayProcess(ECHO('  maxPerRoute: 10\n'));
    const url = `${gateway.url}/mcp/echo`;
    const port = Number(new URL(gateway.url).port);
    try {
      const id = await openSession(url, {});
      const body = JSON.stringify({
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/call',
        params: { name: 'slow', arguments: { ms: 300, text: 'first' } },
      });
      const request =
        `POST /mcp/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n` +
        `Mcp-Session-Id: ${id}\r\nMCP-Protocol-Version: 2025-06-18\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
      const { response, closed } = await rawExchange(port, `${request}{"stray": true}\r\n\r\n`);
      assert.ok(closed, 'the connection was closed');
      assert.match(response, /^HTTP\/1\.1 200 /, `the whole request is answered first: ${JSON.stringify(response.slice(0, 200))}`);
      assert.match(response, /first/, "with its tool's result");
      assert.match(response.slice(response.indexOf('first')), /HTTP\/1\.1 400 /, 'then the stray bytes are refused');
    } finally {
      await gateway.stop();
    }
  });
});

describe('duplicate request ids', () => {
  it('refuses a request whose id is already in flight on the session; the first keeps its own answer', async () => {
    const gateway = await startGatewayProcess(ECHO('  maxPerRoute: 10\n'));
    const url = `${gateway.url}/mcp/echo`;
    try {
      const id = await openSession(url, {});
      const headers = { ...MCP_POST_HEADERS, 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' };
      const call = (rpcId: number | string, text: string, ms: number) =>
        fetch(url, {
          method: 'POST',
          headers,
          body: JSON.stringify({ jsonrpc: '2.0', id: rpcId, method: 'tools/call', params: { name: 'slow', arguments: { ms, text } } }),
        });
      const first = call(7, 'first', 600);
      while ((await status(gateway.url)).inFlight < 1) await new Promise((r) => setTimeout(r, 10));

      const second = await call(7, 'second', 0);
      assert.equal(second.status, 400);
      const refusal = (await second.json()) as { id: unknown; error: { code: number; message: string; data: unknown } };
      assert.equal(refusal.error.code, -32600);
      assert.deepEqual(refusal.error.data, { code: 'invalid_request', id: 7 });
      assert.match(refusal.error.message, /id 7 is already in flight on this session/);

      const other = await call('7', 'a string id is another id', 0);
      assert.equal(other.status, 200);
      assert.match(await other.text(), /"id":"7"/);

      const answer = await (await first).text();
      assert.match(answer, /"text":"first"/);
      assert.match(answer, /"id":7\b/);
      // Once answered, the id is free again.
      const again = await call(7, 'again', 0);
      assert.match(await again.text(), /"text":"again"/);
    } finally {
      await gateway.stop();
    }
  });

  it('keeps the id of a call whose client went away in flight until the server answers it, so a new request cannot take its answer; a cancelled id is free at once', async () => {
    const gateway = await startGatewayProcess(ECHO('  maxPerRoute: 10\n'));
    const url = `${gateway.url}/mcp/echo`;
    try {
      const id = await openSession(url, {});
      const headers = { ...MCP_POST_HEADERS, 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' };
      const post = (message: Record<string, unknown>, signal?: AbortSignal) =>
        fetch(url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', ...message }), ...(signal ? { signal } : {}) });
      const call = (rpcId: number, text: string, ms: number, signal?: AbortSignal) =>
        post({ id: rpcId, method: 'tools/call', params: { name: 'slow', arguments: { ms, text } } }, signal);
      /** Starts a call and goes away once the gateway is serving it. */
      const abandon = async (rpcId: number, text: string, ms: number) => {
        const controller = new AbortController();
        const started = call(rpcId, text, ms, controller.signal).catch(() => undefined);
        while ((await status(gateway.url)).inFlight < 1) await new Promise((r) => setTimeout(r, 10));
        controller.abort();
        await started;
        while ((await status(gateway.url)).inFlight > 0) await new Promise((r) => setTimeout(r, 10));
      };

      await abandon(7, 'abandoned', 800);
      // Was served, and answered with the abandoned call's result once the server sent it.
      const second = await call(7, 'second', 0);
      assert.equal(second.status, 400, await second.clone().text());
      assert.match(((await second.json()) as { error: { message: string } }).error.message, /id 7 is already in flight on this session/);
      let again: string;
      do {
        await new Promise((r) => setTimeout(r, 50));
        again = await (await call(7, 'again', 0)).text();
      } while (again.includes('already in flight'));
      assert.match(again, /"text":"again"/);

      await abandon(8, 'cancelled', 5000);
      // The server sends no answer to a cancelled request: its id is free once the cancellation is through.
      const cancelled = await post({ method: 'notifications/cancelled', params: { requestId: 8 } });
      assert.equal(cancelled.status, 202);
      const after = await call(8, 'after the cancellation', 0);
      assert.match(await after.text(), /"text":"after the cancellation"/);

      // Refused by the transport before the server saw it: no answer will come, and the id is free.
      const refused = await fetch(url, {
        method: 'POST',
        headers: { ...headers, 'mcp-protocol-version': '2024-01-01' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'ping' }),
      });
      assert.equal(refused.status, 400);
      assert.match(await refused.text(), /Unsupported protocol version/);
      assert.match(await (await post({ id: 9, method: 'ping' })).text(), /"id":9\b/);
    } finally {
      await gateway.stop();
    }
  });
});

describe('cancellation', () => {
  it("ends the event stream of a call its client cancelled and still waits on, freeing its session; a batch's ends once the rest is answered", async () => {
    const gateway = await startGatewayProcess(ECHO('  maxPerRoute: 10\n  maxPerPrincipal: 1\n'));
    const url = `${gateway.url}/mcp/echo`;
    try {
      const id = await openSession(url, {});
      const headers = { ...MCP_POST_HEADERS, 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' };
      const post = (message: unknown) => fetch(url, { method: 'POST', headers, body: JSON.stringify(message) });
      const slow = (rpcId: number, ms: number, text: string) => ({
        jsonrpc: '2.0',
        id: rpcId,
        method: 'tools/call',
        params: { name: 'slow', arguments: { ms, text } },
      });
      const cancel = (rpcId: number) => post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: rpcId } });
      /** The whole body of a response, or `still open` if it has not ended in 15 s. */
      const whole = (response: Response) =>
        Promise.race([response.text(), new Promise<string>((resolve) => setTimeout(resolve, 15_000, 'still open').unref())]);

      // The client keeps waiting on the stream after cancelling, as the SDK's does.
      const first = await post(slow(1, 5000, 'never'));
      await until(async () => (await status(gateway.url)).inFlight === 1, 'the call in flight');
      assert.equal((await cancel(1)).status, 202);
      // Was open until the client went away: the session busy for good, the drain waiting for it.
      const body = await whole(first);
      assert.notEqual(body, 'still open');
      assert.doesNotMatch(body, /"result"/);
      await until(async () => (await status(gateway.url)).inFlight === 0, 'nothing in flight');
      // The session is idle again: the caller's one place goes to a new session (was sessions_full).
      const another = await fetch(url, { method: 'POST', headers: MCP_POST_HEADERS, body: JSON.stringify(initializeBody()) });
      assert.equal(another.status, 200, await another.clone().text());
      await another.body?.cancel();

      // A batch: the cancelled call's stream still carries the other call's answer, then ends.
      const batch = await post([slow(2, 5000, 'never'), slow(3, 300, 'three')]);
      await until(async () => (await status(gateway.url)).inFlight === 1, 'the batch in flight');
      assert.equal((await cancel(2)).status, 202);
      const answers = await whole(batch);
      assert.match(answers, /"text":"three"/);
      assert.doesNotMatch(answers, /"text":"never"/);
      assert.notEqual(answers, 'still open');

      // The SDK's client (its own caller each): the calls it cancels are not left in flight, so the
      // drain finds nothing to wait for (it waited the whole shutdownGrace).
      const clients = await Promise.all([clientFrom(url, from('198.51.100.1')), clientFrom(url, from('198.51.100.2'))]);
      await Promise.all(
        clients.map(async ({ client }) => {
          const controller = new AbortController();
          const call = client.callTool({ name: 'slow', arguments: { ms: 5000, text: 'never' } }, { signal: controller.signal });
          await until(async () => (await status(gateway.url)).inFlight >= 1, 'a call in flight');
          controller.abort();
          await assert.rejects(call);
        }),
      );
      await until(async () => (await status(gateway.url)).inFlight === 0, 'no cancelled call in flight');
      gateway.child.kill('SIGTERM');
      assert.equal(await gateway.exited, 0);
      const draining = gateway.stdout
        .map((line) => JSON.parse(line) as { msg: string; inFlight?: number })
        .find((l) => l.msg === 'gateway draining');
      assert.equal(draining?.inFlight, 0);
    } finally {
      await gateway.stop();
    }
  });
});
