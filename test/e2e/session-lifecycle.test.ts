/**
 * Session lifetimes through the real gateway: idle expiry on an injected clock, eviction at the
 * per-route cap, and that every session that ends has its server closed.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { connectClient, fixtureModule, MCP_POST_HEADERS, startInProcessGateway } from '../helpers/gateway.js';
import { PROJECT_ROOT } from '../helpers/project.js';

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

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(condition(), what);
}

describe('idle expiry', () => {
  it('closes a session idle past idleTimeout and answers 404 for it, while an active one lives on', async () => {
    let now = 1_000_000; // lru-cache reads a start time of 0 as "no TTL"
    const gw = await startInProcessGateway(`servers:\n  echo:\n    module: ${fixtureModule('echo')}\nsessions:\n  idleTimeout: 10m\n`, {
      now: () => now,
    });
    const url = `${gw.url}/mcp/echo`;
    const idle = await connectClient(url);
    const busy = await connectClient(url);
    const idleId = idle.transport.sessionId!;
    // The SDK client keeps a GET stream open; close the idle one's so only time decides.
    await idle.client.close();
    const sessions = gw.gateway.routes.get('echo')!.sessions;
    await until(() => sessions.get(idleId)?.active === 0, 'the closed client\'s stream has ended');
    const closedBefore = echo.stats.closed;

    now += 6 * 60_000;
    await busy.client.ping();
    now += 6 * 60_000;
    gw.gateway.sweep();

    assert.equal((await listTools(url, idleId)).status, 404);
    await busy.client.ping();
    await until(() => echo.stats.closed > closedBefore, 'the expired session has its server closed');
    assert.equal(gw.gateway.routes.get('echo')!.sessions.size, 1);
    await busy.client.close();
    await gw.close();
  });

  it('does not expire a session whose GET stream is open', async () => {
    let now = 1_000_000; // lru-cache reads a start time of 0 as "no TTL"
    const gw = await startInProcessGateway(`servers:\n  echo:\n    module: ${fixtureModule('echo')}\nsessions:\n  idleTimeout: 1m\n`, {
      now: () => now,
    });
    const streaming = await connectClient(`${gw.url}/mcp/echo`);
    await until(() => gw.gateway.routes.get('echo')!.sessions.get(streaming.transport.sessionId!)!.active > 0, 'the client opened its stream');
    now += 5 * 60_000;
    gw.gateway.sweep();
    await streaming.client.ping();
    await streaming.client.close();
    await gw.close();
  });
});

describe('eviction at the cap', () => {
  it('closes the least recently used session (transport and server) when maxPerRoute is reached', async () => {
    const gw = await startInProcessGateway(`servers:\n  echo:\n    module: ${fixtureModule('echo')}\nsessions:\n  maxPerRoute: 3\n`);
    const url = `${gw.url}/mcp/echo`;
    const closedBefore = echo.stats.closed;
    const first = await connectClient(url);
    const firstId = first.transport.sessionId!;
    const others = [await connectClient(url), await connectClient(url)];
    await others[0]!.client.ping();
    const fourth = await connectClient(url);

    await until(() => echo.stats.closed === closedBefore + 1, 'exactly one server closed by eviction');
    assert.equal((await listTools(url, firstId)).status, 404);
    for (const { client } of [...others, fourth]) await client.ping();
    assert.equal(gw.gateway.routes.get('echo')!.sessions.size, 3);
    for (const { client } of [first, ...others, fourth]) await client.close();
    await gw.close();
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
