/**
 * Session lifetimes through the real gateway: idle expiry on an injected clock, eviction at the
 * per-route cap, and that every session that ends has its server closed.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { pathToFileURL } from 'node:url';
import {
  connectClient,
  fixtureModule,
  initializeBody,
  MCP_POST_HEADERS,
  openRawSession,
  startInProcessGateway,
  textOf,
} from '../helpers/gateway.js';
import { fixturePath, PROJECT_ROOT } from '../helpers/project.js';
import { startV1Remote } from '../helpers/v1-remote.js';
import { rawPost, unreadingClient } from '../helpers/raw-http.js';
import { watchConsoleErrors } from '../helpers/console.js';
import { until } from '../helpers/until.js';

/** The same module instance the gateway imports, so its counters are the gateway's. */
const echo = (await import(pathToFileURL(path.join(PROJECT_ROOT, 'dist/test/fixtures/servers/echo/index.js')).href)) as {
  stats: { created: number; closed: number };
};

const listTools = (url: string, sessionId: string) =>
  fetch(url, {
    method: 'POST',
    headers: { ...MCP_POST_HEADERS, 'mcp-session-id': sessionId },
    body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }),
  });

/** Calls a tool with a raw request on a session and parses its JSON text result. */
async function callTool(url: string, sessionId: string, name: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { ...MCP_POST_HEADERS, 'mcp-session-id': sessionId },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: {} } }),
  });
  assert.equal(response.status, 200);
  const event = (await response.text()).split('\n').find((line) => line.startsWith('data: '))!;
  return JSON.parse(textOf(JSON.parse(event.slice(6)).result));
}

describe('idle expiry', () => {
  it('closes the server of a session idle past idleTimeout; the id resumes with a fresh server', async () => {
    let now = 1_000_000; // lru-cache reads a start time of 0 as "no TTL"
    const gw = await startInProcessGateway(`servers:\n  echo:\n    module: ${fixtureModule('echo')}\nsessions:\n  idleTimeout: 10m\n`, {
      now: () => now,
    });
    const url = `${gw.url}/mcp/echo`;
    const idle = await connectClient(url);
    const busy = await connectClient(url);
    const idleId = idle.transport.sessionId!;
    const before = JSON.parse(textOf(await idle.client.callTool({ name: 'whoami', arguments: {} })));
    // The SDK client keeps a GET stream open; close the idle one's so only time decides.
    await idle.client.close();
    const sessions = gw.gateway.routes.get('echo')!.sessions;
    await until(() => sessions.peek(idleId)?.active === 0, "the closed client's stream has ended");
    const closedBefore = echo.stats.closed;

    now += 6 * 60_000;
    await busy.client.ping();
    now += 6 * 60_000;
    gw.gateway.sweep();
    await until(() => echo.stats.closed === closedBefore + 1, 'the idle session has its server closed');
    assert.equal(sessions.size, 1, 'only the busy session is held');

    // The id is still valid (sessions.maxAge): the next request resumes it on a new server.
    const resumed = await callTool(url, idleId, 'whoami');
    assert.equal(resumed.route, 'echo');
    assert.notEqual(resumed.instance, before.instance);
    assert.equal(sessions.size, 2);
    await busy.client.ping();
    await busy.client.close();
    await gw.close();
  });

  it('answers 404 for a session past sessions.maxAge, held or not', async () => {
    let wall = Date.parse('2026-07-15T12:00:00Z');
    const gw = await startInProcessGateway(`servers:\n  echo:\n    module: ${fixtureModule('echo')}\nsessions:\n  maxAge: 1h\n`, {
      wallClock: () => wall,
    });
    const url = `${gw.url}/mcp/echo`;
    const held = await connectClient(url);
    await held.client.ping();
    wall += 61 * 60_000;
    const response = await listTools(url, held.transport.sessionId!);
    assert.equal(response.status, 404);
    assert.equal((await response.json()).error.data.reason, 'expired');
    await held.client.close();
    await gw.close();
  });

  it('refuses a request past sessions.maxAge with 404 without cutting short the call still in flight on the session', async () => {
    let wall = Date.parse('2026-07-15T12:00:00Z');
    const gw = await startInProcessGateway(`servers:\n  echo:\n    module: ${fixtureModule('echo')}\nsessions:\n  maxAge: 1h\n`, {
      wallClock: () => wall,
    });
    const url = `${gw.url}/mcp/echo`;
    const held = await connectClient(url);
    const slow = fetch(url, {
      method: 'POST',
      headers: { ...MCP_POST_HEADERS, 'mcp-session-id': held.transport.sessionId! },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 5,
        method: 'tools/call',
        params: { name: 'slow', arguments: { ms: 300, text: 'finished' } },
      }),
      signal: AbortSignal.timeout(5_000),
    });
    await until(() => gw.gateway.routes.get('echo')!.inFlight === 1, 'the call is in flight');
    wall += 61 * 60_000;
    const refused = await listTools(url, held.transport.sessionId!);
    assert.equal(refused.status, 404);
    assert.equal((await refused.json()).error.data.reason, 'expired');
    // Was an empty answer: the refusal closed the session, and its server, under the call.
    assert.match(await (await slow).text(), /"text":"finished"/);
    const after = await listTools(url, held.transport.sessionId!);
    assert.equal(after.status, 404);
    await held.client.close();
    await gw.close();
  });

  it('does not expire a session whose GET stream is open', async () => {
    let now = 1_000_000; // lru-cache reads a start time of 0 as "no TTL"
    const gw = await startInProcessGateway(`servers:\n  echo:\n    module: ${fixtureModule('echo')}\nsessions:\n  idleTimeout: 1m\n`, {
      now: () => now,
    });
    const streaming = await connectClient(`${gw.url}/mcp/echo`);
    await until(
      () => gw.gateway.routes.get('echo')!.sessions.peek(streaming.transport.sessionId!)!.active > 0,
      'the client opened its stream',
    );
    now += 5 * 60_000;
    gw.gateway.sweep();
    await streaming.client.ping();
    await streaming.client.close();
    await gw.close();
  });
});

describe('keep-alive', () => {
  it('writes SSE keep-alive comments on an idle GET stream every sessions.keepAlive', async () => {
    const gw = await startInProcessGateway(`servers:\n  echo:\n    module: ${fixtureModule('echo')}\nsessions:\n  keepAlive: 50ms\n`);
    const url = `${gw.url}/mcp/echo`;
    const init = await fetch(url, { method: 'POST', headers: MCP_POST_HEADERS, body: JSON.stringify(initializeBody()) });
    await init.text();
    const headers = { 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-06-18' };
    await fetch(url, {
      method: 'POST',
      headers: { ...MCP_POST_HEADERS, ...headers },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    });
    const controller = new AbortController();
    const stream = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
    const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
    let received = '';
    while ((received.match(/: keepalive\n\n/g) ?? []).length < 3) received += (await reader.read()).value ?? '';
    controller.abort();
    await gw.close();
  });
});

describe('a GET stream its client does not read', () => {
  it('is cut once it holds 16 MiB unread, with a warning, and the client may open it again; the session and everyone else go on', async () => {
    const gw = await startInProcessGateway(`servers:\n  echo:\n    module: ${fixtureModule('echo')}\n`);
    const url = `${gw.url}/mcp/echo`;
    const consoleErrors = watchConsoleErrors();
    const id = await openRawSession(url);
    const headers = { 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' };
    // A client that opens its stream and never reads it (a suspended laptop): the bytes pile up.
    const { socket } = unreadingClient(
      Number(new URL(gw.url).port),
      `GET /mcp/echo HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\nmcp-session-id: ${id}\r\nmcp-protocol-version: 2025-06-18\r\n\r\n`,
    );
    const other = await connectClient(url);
    try {
      await until(() => gw.gateway.routes.get('echo')!.sessions.peek(id)!.active > 0, 'the stream to open');
      const megabyte = 'z'.repeat(1024 * 1024);
      const notify = (n: number) =>
        fetch(url, {
          method: 'POST',
          headers: { ...MCP_POST_HEADERS, ...headers },
          body: JSON.stringify({
            jsonrpc: '2.0',
            id: n,
            method: 'tools/call',
            params: { name: 'notify', arguments: { message: megabyte } },
          }),
        }).then((r) => r.text());
      // Each megabyte goes to the GET stream; the kernel's buffers take some of it first.
      for (let n = 1; n <= 64 && !gw.logs.some((l) => String(l.msg).includes('GET stream is not read')); n++) await notify(n);
      const warning = gw.logs.find((l) => String(l.msg).includes('GET stream is not read'));
      assert.ok(warning, 'a warning once the stream is cut');
      assert.ok((warning.unreadBytes as number) > 16 * 1024 * 1024);
      assert.match(String(warning.session), /^[0-9a-f]{12}$/);
      // The stream is gone: the client may open a new one (a second one while it was open got 409).
      await until(() => gw.gateway.routes.get('echo')!.sessions.peek(id)!.active === 0, 'the stream to close');
      const again = await fetch(url, { headers: { accept: 'text/event-stream', ...headers } });
      assert.equal(again.status, 200);
      await again.body?.cancel();
      assert.equal(textOf(await other.client.callTool({ name: 'echo', arguments: { text: 'undisturbed' } })), 'undisturbed');
      consoleErrors.check();
    } finally {
      consoleErrors.restore();
      socket.destroy();
      await other.client.close();
      await gw.close();
    }
  });
});

describe("a call's event stream its client does not read", () => {
  it('is cut once it holds 16 MiB unread, with a warning; the call ends, its id is free again, and the session and everyone else go on', async () => {
    const gw = await startInProcessGateway(`servers:\n  echo:\n    module: ${fixtureModule('echo')}\n`);
    const url = `${gw.url}/mcp/echo`;
    const consoleErrors = watchConsoleErrors();
    const id = await openRawSession(url);
    const headers = { ...MCP_POST_HEADERS, 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' };
    const call = (requestId: number, name: string, args: Record<string, unknown>) =>
      JSON.stringify({ jsonrpc: '2.0', id: requestId, method: 'tools/call', params: { name, arguments: args } });
    // A call that sends 40 MiB of log messages before it answers, from a client that never reads.
    const body = call(1, 'chatter', { times: 40, size: 1024 * 1024 });
    const { socket, closed } = unreadingClient(
      Number(new URL(gw.url).port),
      rawPost('/mcp/echo', body, { 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' }),
    );
    const other = await connectClient(url);
    try {
      const warned = () => gw.logs.find((l) => String(l.msg).includes("call's event stream is not read"));
      await until(() => warned() !== undefined, 'the warning');
      const warning = warned()!;
      assert.ok((warning.unreadBytes as number) > 16 * 1024 * 1024);
      assert.match(String(warning.session), /^[0-9a-f]{12}$/);
      assert.equal(warning.route, 'echo');
      // The connection is cut, as if the client had gone away.
      socket.resume();
      await closed;
      // The session answers its next call, and the cut call's id is free again once it has ended.
      const next = async (requestId: number) => {
        const response = await fetch(url, { method: 'POST', headers, body: call(requestId, 'echo', { text: `after ${requestId}` }) });
        return { status: response.status, text: await response.text() };
      };
      const second = await next(2);
      assert.equal(second.status, 200);
      assert.match(second.text, /after 2/);
      let reused = await next(1);
      for (let n = 0; n < 50 && reused.status !== 200; n++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        reused = await next(1);
      }
      assert.equal(reused.status, 200, reused.text);
      assert.match(reused.text, /after 1/);
      assert.equal(textOf(await other.client.callTool({ name: 'echo', arguments: { text: 'undisturbed' } })), 'undisturbed');
      consoleErrors.check();
    } finally {
      consoleErrors.restore();
      socket.destroy();
      await other.client.close();
      await gw.close();
    }
  });
});

/** A session opened with raw requests: no GET stream, so it is idle between requests. */
const openIdleSession = (url: string) => openRawSession(url);

describe('eviction at the cap', () => {
  it('closes the least recently used idle session (transport and server) when maxPerRoute is reached', async () => {
    const gw = await startInProcessGateway(
      `servers:\n  echo:\n    module: ${fixtureModule('echo')}\nsessions:\n  maxPerRoute: 3\n  maxPerPrincipal: 3\n`,
    );
    const url = `${gw.url}/mcp/echo`;
    const closedBefore = echo.stats.closed;
    const firstId = await openIdleSession(url);
    const others = [await openIdleSession(url), await openIdleSession(url)];
    assert.equal((await listTools(url, others[0]!)).status, 200);
    const fourth = await openIdleSession(url);

    await until(() => echo.stats.closed === closedBefore + 1, 'exactly one server closed by eviction');
    const sessions = gw.gateway.routes.get('echo')!.sessions;
    assert.equal(sessions.size, 3);
    assert.equal(sessions.peek(firstId), undefined, 'the least recently used one is gone');
    for (const id of [...others, fourth]) assert.equal((await listTools(url, id)).status, 200);
    assert.equal(sessions.size, 3);
    await gw.close();
  });
});

describe('a session found for a request', () => {
  it('cannot be evicted before the request marks it busy (another request making room in between)', async () => {
    // The route's clock is read when the session is found (its idle check): from there, the next
    // microtask is the earliest another request's initialize could ask for room, at maxPerRoute 1.
    let makeRoomNext = false;
    let evictedInTheGap: boolean | undefined;
    const gw = await startInProcessGateway(
      `servers:\n  echo:\n    module: ${fixtureModule('echo')}\nsessions:\n  maxPerRoute: 1\n  maxPerPrincipal: 1\n`,
      {
        now: () => {
          if (makeRoomNext) {
            makeRoomNext = false;
            queueMicrotask(() => {
              const place = sessions.reserve('another caller');
              evictedInTheGap = place.ok;
              if (place.ok) place.cancel();
            });
          }
          return performance.now();
        },
      },
    );
    const url = `${gw.url}/mcp/echo`;
    const sessions = gw.gateway.routes.get('echo')!.sessions;
    try {
      const id = await openIdleSession(url);
      makeRoomNext = true;
      const response = await listTools(url, id);
      assert.equal(evictedInTheGap, false, 'the session was busy when another request asked for room');
      assert.equal(response.status, 200);
      assert.match(await response.text(), /"tools"/);
      assert.ok(sessions.peek(id), 'the session is still held');
    } finally {
      await gw.close();
    }
  });
});

describe('DELETE of a busy session', () => {
  it('answers a call still in flight with a session_not_found JSON-RPC error at once, not an empty stream', async () => {
    const gw = await startInProcessGateway(`servers:\n  echo:\n    module: ${fixtureModule('echo')}\n`);
    const { client, transport } = await connectClient(`${gw.url}/mcp/echo`);
    const sessions = gw.gateway.routes.get('echo')!.sessions;
    const started = performance.now();
    const slow = client.callTool({ name: 'slow', arguments: { ms: 5000, text: 'too late' } }).then(
      () => assert.fail('the call must not succeed'),
      (e: unknown) => e as { code?: number; message?: string; data?: unknown },
    );
    await until(() => gw.gateway.routes.get('echo')!.inFlight === 1, 'the call is in flight');
    const deleted = await fetch(`${gw.url}/mcp/echo`, { method: 'DELETE', headers: { 'mcp-session-id': transport.sessionId! } });
    assert.equal(deleted.status, 200);
    const error = await slow;
    // Without an answer the SDK client waits out its request timeout (60 s) for one.
    assert.ok(performance.now() - started < 2000, 'answered at once');
    assert.equal(error.code, -32001);
    assert.match(error.message ?? '', /session was deleted/);
    assert.deepEqual(error.data, { code: 'session_not_found', reason: 'deleted' });
    assert.equal(sessions.size, 0);
    await client.close().catch(() => undefined);
    await gw.close();
  });
});

describe('DELETE of a session this instance does not hold', () => {
  const ONE = 'sessions:\n  maxPerRoute: 1\n  maxPerPrincipal: 1\n';
  const deleteSession = (url: string, id: string) =>
    fetch(url, { method: 'DELETE', headers: { 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' } });

  it('ends it without starting a process (nor evicting a live session to resume it); the id is refused afterwards', async () => {
    const probe = fixturePath('stdio', 'probe-server.mjs');
    const gw = await startInProcessGateway(
      `servers:\n  probe:\n    command: ${process.execPath}\n    args: [${JSON.stringify(probe)}, delete-unheld]\n${ONE}`,
    );
    const url = `${gw.url}/mcp/probe`;
    const route = gw.gateway.routes.get('probe')!;
    try {
      const evicted = await openIdleSession(url);
      const live = await openIdleSession(url);
      assert.equal(route.sessions.peek(evicted), undefined, 'the first session was evicted to make room');
      const started = route.upstream()!.started;

      const deleted = await deleteSession(url, evicted);
      assert.equal(deleted.status, 200);
      assert.equal(await deleted.text(), '');
      assert.equal(route.upstream()!.started, started, 'no process was started to be stopped');
      assert.ok(route.sessions.peek(live), 'the live session was not evicted to resume the deleted one');
      const after = await listTools(url, evicted);
      assert.equal(after.status, 404);
      assert.equal(((await after.json()) as { error: { data: { reason: string } } }).error.data.reason, 'deleted');
      assert.equal((await listTools(url, live)).status, 200);
      // A tampered id is refused as on any other request.
      assert.equal((await deleteSession(url, `${live.slice(0, -4)}AAAA`)).status, 404);
    } finally {
      await gw.close();
    }
  });

  it('on a url route, tells the remote server to end the upstream session sealed in the id, held or not, and resumes nothing', async () => {
    const upstreamDeletes: string[] = [];
    let initializes = 0;
    const remote = await startV1Remote({ register: () => undefined });
    remote.intercept = (req, _res, body) => {
      if (req.method === 'DELETE') upstreamDeletes.push(String(req.headers['mcp-session-id']));
      if ((body as { method?: string } | undefined)?.method === 'initialize') initializes++;
      return false;
    };
    const gw = await startInProcessGateway(`servers:\n  remote:\n    url: ${remote.url}\n${ONE}`);
    const url = `${gw.url}/mcp/remote`;
    try {
      const evicted = await openIdleSession(url);
      const live = await openIdleSession(url);
      const [evictedUpstream, liveUpstream] = [...remote.sessions.keys()];
      const initialized = initializes;

      assert.equal((await deleteSession(url, evicted)).status, 200);
      await until(() => upstreamDeletes.length === 1, 'the remote was told');
      assert.deepEqual(upstreamDeletes, [evictedUpstream]);
      assert.equal(initializes, initialized, 'no upstream session was opened to be ended');

      assert.equal((await deleteSession(url, live)).status, 200);
      await until(() => upstreamDeletes.length === 2, 'the remote was told of the held session too');
      assert.deepEqual(upstreamDeletes, [evictedUpstream, liveUpstream]);
    } finally {
      await gw.close();
      await remote.close();
    }
  });
});

describe('the upstream sessions of a url route', () => {
  /** A remote whose sessions count their calls, recording every DELETE it receives (by upstream session id). */
  async function countingRemote(sessionId?: () => string) {
    const deletes: string[] = [];
    const remote = await startV1Remote({
      ...(sessionId ? { sessionId } : {}),
      register: (mcp) => {
        let count = 0;
        mcp.registerTool('count', { description: 'Counts calls in this session' }, async () => ({
          content: [{ type: 'text', text: String(++count) }],
        }));
      },
    });
    remote.intercept = (req) => {
      if (req.method === 'DELETE') deletes.push(String(req.headers['mcp-session-id']));
      return false;
    };
    return { remote, deletes };
  }
  const FORGOT = 'the remote server forgot its session; the gateway opened a new one';

  it('DELETEs the upstream session the gateway opened when the remote forgot the sealed one, once the client deletes its session (was: only the forgotten one)', async () => {
    const { remote, deletes } = await countingRemote();
    const gw = await startInProcessGateway(`servers:\n  remote:\n    url: ${remote.url}\n`);
    const url = `${gw.url}/mcp/remote`;
    try {
      const id = await openIdleSession(url);
      const [sealed] = [...remote.sessions.keys()];
      assert.equal(await callTool(url, id, 'count'), 1);
      remote.sessions.clear();
      assert.equal(await callTool(url, id, 'count'), 1, 'a new upstream session');
      assert.ok(gw.logs.some((line) => line.msg === FORGOT));
      const [renewed] = [...remote.sessions.keys()];
      assert.ok(renewed && renewed !== sealed);
      assert.deepEqual(deletes, [], 'nothing ended while the session lives');

      const deleted = await fetch(url, { method: 'DELETE', headers: { 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' } });
      assert.equal(deleted.status, 200);
      await until(() => deletes.length === 2, 'both upstream sessions to be ended');
      assert.deepEqual(deletes.toSorted(), [sealed, renewed].toSorted());
    } finally {
      await gw.close();
      await remote.close();
    }
  });

  it('DELETEs a renewed upstream session when its session idles out, and keeps a sealed one, which the id resumes', async () => {
    let now = 1_000_000;
    const { remote, deletes } = await countingRemote();
    const gw = await startInProcessGateway(`servers:\n  remote:\n    url: ${remote.url}\nsessions:\n  idleTimeout: 10m\n`, {
      now: () => now,
    });
    const url = `${gw.url}/mcp/remote`;
    const sessions = gw.gateway.routes.get('remote')!.sessions;
    try {
      const renewedId = await openIdleSession(url);
      const [forgotten] = [...remote.sessions.keys()];
      remote.sessions.delete(forgotten!);
      assert.equal(await callTool(url, renewedId, 'count'), 1);
      assert.ok(gw.logs.some((line) => line.msg === FORGOT));
      const [renewed] = [...remote.sessions.keys()];
      const sealedId = await openIdleSession(url);
      assert.equal(await callTool(url, sealedId, 'count'), 1);

      now += 11 * 60_000;
      gw.gateway.sweep();
      await until(() => sessions.size === 0, 'both sessions to idle out');
      await until(() => deletes.length === 1, 'the renewed upstream session to be ended');
      assert.deepEqual(deletes, [renewed]);
      // The sealed one was left for the id, which reaches it again on its next request.
      assert.equal(await callTool(url, sealedId, 'count'), 2, 'the same upstream session');
      assert.deepEqual(deletes, [renewed]);
    } finally {
      await gw.close();
      await remote.close();
    }
  });

  it("DELETEs an upstream session whose id did not fit in the gateway's when its session idles out: no id can reach it", async () => {
    let now = 1_000_000;
    // About 600 characters that do not compress, against the gateway's 768 (url-route-faults.test.ts).
    const { remote, deletes } = await countingRemote(() => randomBytes(450).toString('base64url'));
    const gw = await startInProcessGateway(`servers:\n  remote:\n    url: ${remote.url}\nsessions:\n  idleTimeout: 10m\n`, {
      now: () => now,
    });
    const url = `${gw.url}/mcp/remote`;
    const sessions = gw.gateway.routes.get('remote')!.sessions;
    try {
      const id = await openIdleSession(url);
      assert.equal(await callTool(url, id, 'count'), 1);
      assert.ok(gw.logs.some((line) => String(line.msg).startsWith("the upstream's session id does not fit in the gateway's")));
      const opened = [...remote.sessions.keys()];
      assert.equal(opened.length, 1);
      now += 11 * 60_000;
      gw.gateway.sweep();
      await until(() => sessions.size === 0, 'the session to idle out');
      await until(() => deletes.length === 1, 'its upstream session to be ended');
      assert.deepEqual(deletes, opened);
    } finally {
      await gw.close();
      await remote.close();
    }
  });

  it("DELETEs the upstream session of a caller's shared 2026-07-28 connection once the gateway stops it", async () => {
    const { remote, deletes } = await countingRemote();
    const gw = await startInProcessGateway(`servers:\n  remote:\n    url: ${remote.url}\n`);
    try {
      const client = new Client({ name: 'modern', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp/remote`)));
      assert.equal(textOf(await client.callTool({ name: 'count', arguments: {} })), '1');
      await client.close();
      const opened = [...remote.sessions.keys()];
      assert.equal(opened.length, 1, "the caller's one connection upstream");
      assert.deepEqual(deletes, []);
      await gw.close();
      await until(() => deletes.length === 1, 'its upstream session to be ended');
      assert.deepEqual(deletes, opened);
    } finally {
      await gw.close();
      await remote.close();
    }
  });
});

describe('shutdown', () => {
  it('closes every session and its server', async () => {
    const gw = await startInProcessGateway(`servers:\n  echo:\n    module: ${fixtureModule('echo')}\n`);
    const clients = await Promise.all([1, 2, 3].map(() => connectClient(`${gw.url}/mcp/echo`)));
    const closedBefore = echo.stats.closed;
    await gw.close();
    assert.equal(echo.stats.closed, closedBefore + 3);
    for (const { client } of clients) await client.close();
  });
});
