/**
 * Sessions across instances with no affinity and no shared store: three gateway processes with one
 * secret behind a round-robin proxy, instances killed and restarted, other secrets, rotation.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { connectClient, fixtureModule, MCP_POST_HEADERS, startGatewayProcess, textOf, type GatewayProcess } from '../helpers/gateway.js';
import { startRoundRobinProxy, type RoundRobinProxy } from '../helpers/round-robin-proxy.js';
import { Client, SdkHttpError, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

const YAML = `servers:\n  echo:\n    module: ${fixtureModule('echo')}\n  other:\n    module: ${fixtureModule('echo')}\n`;
const SECRET = randomBytes(32).toString('base64');

const start = (env: NodeJS.ProcessEnv = { GATEWAY_SESSION_SECRET: SECRET }) => startGatewayProcess(YAML, env);

async function whoami(client: Awaited<ReturnType<typeof connectClient>>['client']): Promise<{ pid: number; instance: number }> {
  return JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
}

async function listTools(base: string, route: string, sessionId: string): Promise<{ status: number; reason?: string }> {
  const response = await fetch(`${base}/mcp/${route}`, {
    method: 'POST',
    headers: { ...MCP_POST_HEADERS, 'mcp-session-id': sessionId },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });
  const body = await response.text();
  return { status: response.status, reason: response.status === 404 ? JSON.parse(body).error.data.reason : undefined };
}

describe('three instances, one secret, round-robin routing', () => {
  let instances: GatewayProcess[];
  let proxy: RoundRobinProxy;

  before(async () => {
    instances = await Promise.all([start(), start(), start()]);
    proxy = await startRoundRobinProxy(instances.map((i) => i.url));
  });
  after(async () => {
    await proxy.close();
    await Promise.all(instances.map((i) => i.stop()));
  });

  it('serves one session whose calls spread over every instance', async () => {
    const { client } = await connectClient(`${proxy.url}/mcp/echo`);
    const pids = new Set<number>();
    for (let i = 0; i < 9; i++) pids.add((await whoami(client)).pid);
    assert.equal(pids.size, 3, 'calls reached all three processes');
    assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'everywhere' } })), 'everywhere');
    await client.close();
  });

  it('serves a 2026-07-28 client on every instance, with no session to carry', async () => {
    const client = new Client({ name: 'modern', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    const transport = new StreamableHTTPClientTransport(new URL(`${proxy.url}/mcp/echo`));
    await client.connect(transport);
    const pids = new Set<number>();
    for (let i = 0; i < 9; i++) pids.add((await whoami(client)).pid);
    assert.equal(pids.size, 3, 'calls reached all three processes');
    assert.equal(transport.sessionId, undefined);
    await client.close();
  });

  it('keeps a session working when an instance is killed and started again', async () => {
    const { client } = await connectClient(`${proxy.url}/mcp/echo`);
    await whoami(client);
    const victim = instances[1]!;
    await victim.stop('SIGKILL');
    const replacement = await start();
    instances[1] = replacement;
    proxy.backends[1] = replacement.url;
    const pids = new Set<number>();
    for (let i = 0; i < 6; i++) pids.add((await whoami(client)).pid);
    assert.ok(pids.has(replacement.child.pid!), 'the restarted instance resumed the session');
    assert.ok(!pids.has(victim.child.pid!));
    await client.close();
  });

  it('keeps a session working when every instance restarts', async () => {
    const { client } = await connectClient(`${proxy.url}/mcp/echo`);
    await whoami(client);
    await Promise.all(instances.map((i) => i.stop()));
    instances = await Promise.all([start(), start(), start()]);
    proxy.backends.splice(0, 3, ...instances.map((i) => i.url));
    const pids = new Set<number>();
    for (let i = 0; i < 6; i++) pids.add((await whoami(client)).pid);
    assert.deepEqual([...pids].sort(), instances.map((i) => i.child.pid!).sort());
    await client.close();
  });

  it('refuses a tampered id and an id from another route, with 404', async () => {
    const { client, transport } = await connectClient(`${proxy.url}/mcp/echo`);
    const id = transport.sessionId!;
    const flipped = id.slice(0, 40) + (id[40] === 'A' ? 'B' : 'A') + id.slice(41);
    assert.equal((await listTools(instances[0]!.url, 'echo', flipped)).status, 404);
    const crossRoute = await listTools(instances[0]!.url, 'other', id);
    assert.deepEqual(crossRoute, { status: 404, reason: 'wrong_route' });
    await client.close();
  });
});

describe('secrets', () => {
  it('answers 404 on an instance with another secret, and the client can initialize again there', async () => {
    const a = await start();
    const b = await start({ GATEWAY_SESSION_SECRET: randomBytes(32).toString('hex') });
    try {
      const first = await connectClient(`${a.url}/mcp/echo`);
      const id = first.transport.sessionId!;
      assert.deepEqual(await listTools(b.url, 'echo', id), { status: 404, reason: 'unknown_key' });
      await first.client.close();

      const second = await connectClient(`${b.url}/mcp/echo`);
      assert.equal(textOf(await second.client.callTool({ name: 'echo', arguments: { text: 'again' } })), 'again');
      await second.client.close();
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('the SDK client gets a 404 StreamableHTTPError when its instance has another secret, and initializes again', async () => {
    const a = await start();
    const b = await start({ GATEWAY_SESSION_SECRET: randomBytes(32).toString('base64') });
    const proxy = await startRoundRobinProxy([a.url]);
    try {
      const first = await connectClient(`${proxy.url}/mcp/echo`);
      await first.client.ping();
      proxy.backends[0] = b.url;
      await assert.rejects(first.client.ping(), (error: unknown) => error instanceof SdkHttpError && error.status === 404);
      await first.client.close();
      const again = await connectClient(`${proxy.url}/mcp/echo`);
      assert.equal(textOf(await again.client.callTool({ name: 'echo', arguments: { text: 'recovered' } })), 'recovered');
      await again.client.close();
    } finally {
      await proxy.close();
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('keeps old sessions alive through a rotation with GATEWAY_SESSION_SECRET_PREVIOUS', async () => {
    const oldSecret = randomBytes(32).toString('base64');
    const newSecret = randomBytes(32).toString('base64');
    const before = await start({ GATEWAY_SESSION_SECRET: oldSecret });
    const { client, transport } = await connectClient(`${before.url}/mcp/echo`);
    const oldId = transport.sessionId!;
    await client.close();
    await before.stop();

    const rotated = await start({ GATEWAY_SESSION_SECRET: newSecret, GATEWAY_SESSION_SECRET_PREVIOUS: oldSecret });
    const afterRotation = await start({ GATEWAY_SESSION_SECRET: newSecret });
    try {
      assert.equal((await listTools(rotated.url, 'echo', oldId)).status, 200);
      assert.deepEqual(await listTools(afterRotation.url, 'echo', oldId), { status: 404, reason: 'unknown_key' });
      const fresh = await connectClient(`${rotated.url}/mcp/echo`);
      assert.equal((await listTools(afterRotation.url, 'echo', fresh.transport.sessionId!)).status, 200, 'new ids use the new key');
      await fresh.client.close();
    } finally {
      await Promise.all([rotated.stop(), afterRotation.stop()]);
    }
  });

  it('warns at start when no secret is set', async () => {
    const gateway = await start({});
    await gateway.stop();
    assert.ok(gateway.stdout.some((line) => line.includes('GATEWAY_SESSION_SECRET is not set')));
  });

  it('refuses to start with a secret that is too short, naming the variable', async () => {
    await assert.rejects(start({ GATEWAY_SESSION_SECRET: 'c2hvcnQ=' }), /GATEWAY_SESSION_SECRET/);
  });
});
