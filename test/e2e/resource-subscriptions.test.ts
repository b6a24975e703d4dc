/**
 * Resource subscriptions through `command:` and `url:` routes: a 2026-07-28 listener's
 * `resourceSubscriptions` are subscribed upstream (2025 `resources/subscribe` on a 2025 server, a
 * listen stream's filter on a 2026-07-28 one, opened again when the server ends it) while someone
 * listens, counted with the 2025 sessions' on a connection they share, and the upstream's
 * `notifications/resources/updated` reaches exactly the clients that asked for that URI; a change
 * on one caller's connection (its updates, its list changes) reaches that caller's listeners only.
 * Real servers: the v1-SDK probe server and server-everything from npm on stdio, a 2026-07-28 SDK
 * server over HTTP, and a v1-SDK Streamable HTTP server with sessions that it can forget.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { getRequestListener } from '@hono/node-server';
import { Client, ProtocolError, StreamableHTTPClientTransport, type SubscriptionFilter } from '@modelcontextprotocol/client';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { McpServer as V1McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport as V1StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { SubscribeRequestSchema, UnsubscribeRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { MAX_SUBSCRIBED_RESOURCES } from '../../src/gateway/upstreams/resource-subscriptions.js';
import { startInProcessGateway, textOf, type InProcessGateway } from '../helpers/gateway.js';
import { fixturePath, PROJECT_ROOT } from '../helpers/project.js';
import { until } from '../helpers/until.js';

const EVERYTHING = path.join(PROJECT_ROOT, 'node_modules', '@modelcontextprotocol', 'server-everything', 'dist', 'index.js');
const PROBE = fixturePath('stdio', 'probe-server.mjs');

function probeRoute(name: string, isolation: string): string {
  return `  ${name}:\n    command: ${process.execPath}\n    args: [${JSON.stringify(PROBE)}]\n    isolation: ${isolation}\n`;
}

/**
 * A client of either era (with an API key, if given), the resource URIs it has been told changed,
 * in order, and how many times it was told the tool list and the resource list changed.
 */
async function connect(
  url: string,
  era: 'legacy' | 'auto',
  key?: string,
): Promise<{ client: Client; transport: StreamableHTTPClientTransport; heard: string[]; lists: { tools: number; resources: number } }> {
  const client = new Client({ name: 'subscriber', version: '1.0.0' }, { versionNegotiation: { mode: era } });
  const heard: string[] = [];
  const lists = { tools: 0, resources: 0 };
  client.setNotificationHandler('notifications/resources/updated', (notification) => void heard.push(notification.params.uri));
  client.setNotificationHandler('notifications/tools/list_changed', () => void lists.tools++);
  client.setNotificationHandler('notifications/resources/list_changed', () => void lists.resources++);
  const transport = new StreamableHTTPClientTransport(new URL(url), key ? { requestInit: { headers: { 'x-api-key': key } } } : {});
  await client.connect(transport);
  return { client, transport, heard, lists };
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  return JSON.parse(textOf(await client.callTool({ name, arguments: args }))) as Record<string, unknown>;
}

/** What the probe server behind a route is subscribed to. */
async function subscribedUpstream(client: Client): Promise<string[]> {
  return (await call(client, 'subscriptions')).subscribed as string[];
}

describe('a 2025 stdio server behind a command route', () => {
  let gw: InProcessGateway;
  before(async () => {
    gw = await startInProcessGateway(
      [
        'servers:',
        probeRoute('shared', 'shared'),
        probeRoute('mine', 'principal'),
        probeRoute('crashy', 'shared'),
        probeRoute('crashier', 'principal'),
        probeRoute('full', 'shared'),
      ].join('\n'),
    );
  });
  after(() => gw.close());

  test('tells each 2026-07-28 listener of exactly the resources it asked for, subscribed upstream while it listens', async () => {
    const url = `${gw.url}/mcp/shared`;
    const [first, second, caller] = await Promise.all([connect(url, 'auto'), connect(url, 'auto'), connect(url, 'auto')]);
    const one = await first.client.listen({ resourceSubscriptions: ['probe://a', 'probe://c'] });
    const two = await second.client.listen({ resourceSubscriptions: ['probe://b', 'probe://c'] });
    assert.deepEqual(one.honoredFilter.resourceSubscriptions, ['probe://a', 'probe://c']);
    // Subscribed before the acknowledgement: the union of what the listeners want.
    assert.deepEqual(await subscribedUpstream(caller.client), ['probe://a', 'probe://b', 'probe://c']);

    for (const uri of ['probe://a', 'probe://b', 'probe://c'])
      assert.deepEqual(await call(caller.client, 'touch', { uri }), { sent: true });
    // Each stream keeps the order the updates were sent in: once c arrived, a or b would have too.
    await until(() => first.heard.includes('probe://c') && second.heard.includes('probe://c'), 'both listeners to hear of c');
    assert.deepEqual(first.heard, ['probe://a', 'probe://c']);
    assert.deepEqual(second.heard, ['probe://b', 'probe://c']);
    assert.deepEqual(caller.heard, []);

    // A listener that goes away lets go of what no one else wants.
    await one.close();
    await until(async () => (await subscribedUpstream(caller.client)).join() === 'probe://b,probe://c', 'a to be unsubscribed upstream');
    await two.close();
    await until(async () => (await subscribedUpstream(caller.client)).length === 0, 'every resource to be unsubscribed upstream');
    for (const { client } of [first, second, caller]) await client.close();
  });

  test('refuses a listener that asks for more resources than a connection holds, holding none of them', async () => {
    const url = `${gw.url}/mcp/shared`;
    const { client } = await connect(url, 'auto');
    const uris = Array.from({ length: MAX_SUBSCRIBED_RESOURCES + 1 }, (_, i) => `probe://many/${i}`);
    const full = (more: number) => (error: unknown) => {
      assert.ok(error instanceof ProtocolError, String(error));
      assert.equal((error.data as { code?: string }).code, 'subscriptions_full');
      assert.match(error.message, new RegExp(`at most ${MAX_SUBSCRIBED_RESOURCES} resources, and ${more} more were asked for`));
      return true;
    };
    await assert.rejects(client.listen({ resourceSubscriptions: uris }), full(MAX_SUBSCRIBED_RESOURCES + 1));
    assert.deepEqual(await subscribedUpstream(client), []);
    // The cap is the connection's: one listener may take it all, and then others only what it holds.
    const all = await client.listen({ resourceSubscriptions: uris.slice(0, MAX_SUBSCRIBED_RESOURCES) });
    assert.equal((await subscribedUpstream(client)).length, MAX_SUBSCRIBED_RESOURCES);
    await assert.rejects(client.listen({ resourceSubscriptions: [uris[0]!, uris.at(-1)!] }), full(1));
    const some = await client.listen({ resourceSubscriptions: [uris[0]!] });
    await Promise.all([all.close(), some.close()]);
    await until(async () => (await subscribedUpstream(client)).length === 0, 'every resource to be let go');
    await client.close();
  });

  test('counts 2025 sessions and 2026-07-28 listeners on a shared child together: updates reach only those who asked', async () => {
    const url = `${gw.url}/mcp/shared`;
    const [a, b, listener] = await Promise.all([connect(url, 'legacy'), connect(url, 'legacy'), connect(url, 'auto')]);
    for (const uri of ['probe://a', 'probe://d']) await a.client.subscribeResource({ uri });
    for (const uri of ['probe://e', 'probe://d']) await b.client.subscribeResource({ uri });
    const stream = await listener.client.listen({ resourceSubscriptions: ['probe://a', 'probe://e', 'probe://d'] });
    for (const uri of ['probe://a', 'probe://e', 'probe://d']) await call(a.client, 'touch', { uri });
    // Every client asked for d, touched last: once each has heard of it, it has heard of all it will.
    await until(() => [a, b, listener].every(({ heard }) => heard.includes('probe://d')), 'every client to hear of d');
    assert.deepEqual(a.heard, ['probe://a', 'probe://d']);
    assert.deepEqual(b.heard, ['probe://e', 'probe://d']);
    assert.deepEqual(listener.heard, ['probe://a', 'probe://e', 'probe://d']);

    // One client letting go leaves the others' subscriptions upstream; a session that ends lets go of its own.
    await a.client.unsubscribeResource({ uri: 'probe://a' });
    await b.transport.terminateSession();
    assert.deepEqual(await subscribedUpstream(a.client), ['probe://a', 'probe://d', 'probe://e']);
    await stream.close();
    await until(async () => (await subscribedUpstream(a.client)).join() === 'probe://d', 'the listener to let go');
    await a.client.unsubscribeResource({ uri: 'probe://d' });
    assert.deepEqual(await subscribedUpstream(a.client), []);
    for (const { client } of [a, b, listener]) await client.close();
  });

  for (const [isolation, route] of [
    ['shared', 'crashy'],
    ['principal', 'crashier'],
  ] as const) {
    test(`on isolation: ${isolation}, holds 2025 sessions' subscriptions again on the process that replaced a crashed one`, async () => {
      const url = `${gw.url}/mcp/${route}`;
      // Both sessions from one address: one caller, so one process on principal as on shared.
      const [a, b] = await Promise.all([connect(url, 'legacy'), connect(url, 'legacy')]);
      await a.client.subscribeResource({ uri: 'probe://a' });
      await b.client.subscribeResource({ uri: 'probe://b' });
      const before = (await call(a.client, 'pid')).pid;
      await assert.rejects(a.client.callTool({ name: 'crash', arguments: {} }));
      // Each session's next request reaches a new process, which has its subscriptions by then.
      const [pidA, pidB] = [(await call(a.client, 'pid')).pid, (await call(b.client, 'pid')).pid];
      assert.notEqual(pidA, before);
      assert.equal(pidB, pidA);
      assert.deepEqual(await subscribedUpstream(a.client), ['probe://a', 'probe://b']);
      for (const uri of ['probe://a', 'probe://b']) assert.deepEqual(await call(a.client, 'touch', { uri }), { sent: true });
      // Each stream keeps the order the updates were sent in: had a's reached b, b would have heard
      // of it before its own; had b's reached a, a would have heard of it before a's second.
      await until(() => b.heard.length > 0, 'b to hear of its resource');
      await call(b.client, 'touch', { uri: 'probe://a' });
      await until(() => a.heard.length === 2, 'a to hear of its resource again');
      assert.deepEqual(a.heard, ['probe://a', 'probe://a']);
      assert.deepEqual(b.heard, ['probe://b']);
      // Held again as before: an unsubscribe lets go upstream.
      await a.client.unsubscribeResource({ uri: 'probe://a' });
      await b.client.unsubscribeResource({ uri: 'probe://b' });
      assert.deepEqual(await subscribedUpstream(a.client), []);
      for (const { transport, client } of [a, b]) {
        await transport.terminateSession();
        await client.close();
      }
    });
  }

  test('logs the subscriptions it could not hold again on a new process, and serves the request that brought it', async () => {
    const url = `${gw.url}/mcp/full`;
    const [session, listener] = await Promise.all([connect(url, 'legacy'), connect(url, 'auto')]);
    await session.client.subscribeResource({ uri: 'probe://a' });
    await assert.rejects(session.client.callTool({ name: 'crash', arguments: {} }));
    // A listener takes the new process's every subscription before the session comes back.
    const uris = Array.from({ length: MAX_SUBSCRIBED_RESOURCES }, (_, i) => `probe://many/${i}`);
    const stream = await listener.client.listen({ resourceSubscriptions: uris });
    assert.equal(typeof (await call(session.client, 'pid')).pid, 'number');
    const warned = gw.logs.find((line) => String(line.msg).startsWith("a 2025 session's resource subscriptions could not be held again"));
    assert.ok(warned, 'a warning');
    assert.deepEqual([warned.level, warned.route, warned.count, warned.of], ['warn', 'full', 1, 1]);
    assert.ok(!(await subscribedUpstream(session.client)).includes('probe://a'));
    await stream.close();
    await session.transport.terminateSession();
    for (const { client } of [session, listener]) await client.close();
  });

  test('ends a listener stream whose upstream process went away, so its client listens again', async () => {
    const url = `${gw.url}/mcp/mine`;
    const [listener, caller] = await Promise.all([connect(url, 'auto'), connect(url, 'auto')]);
    const stream = await listener.client.listen({ resourceSubscriptions: ['probe://a'] });
    assert.deepEqual(await subscribedUpstream(caller.client), ['probe://a']);
    await assert.rejects(caller.client.callTool({ name: 'crash', arguments: {} }));
    assert.equal(await stream.closed, 'remote');
    // Listening again subscribes on the new process.
    const again = await listener.client.listen({ resourceSubscriptions: ['probe://a'] });
    assert.deepEqual(await subscribedUpstream(caller.client), ['probe://a']);
    await again.close();
    for (const { client } of [listener, caller]) await client.close();
  });
});

/** Two callers: each key is a principal of its own. */
const KEYS = { KEY_A: 'listener-a-key-0123456789abcdef', KEY_B: 'listener-b-key-0123456789abcdef' };

function keyedProbeRoute(name: string, isolation: string): string {
  return `${probeRoute(name, isolation)}    auth: { kind: apiKey, keys: ["\${KEY_A}", "\${KEY_B}"] }\n`;
}

describe('2026-07-28 listeners of two callers on a command route', () => {
  let gw: InProcessGateway;
  before(async () => {
    gw = await startInProcessGateway(
      ['servers:', keyedProbeRoute('own', 'principal'), keyedProbeRoute('sessions', 'session'), keyedProbeRoute('everyone', 'shared')].join(
        '\n',
      ),
      { env: KEYS },
    );
  });
  after(() => gw.close());

  /** Both callers listening for tool list changes and for probe://a, which each one's own process takes. */
  async function listeners(route: string) {
    const url = `${gw.url}/mcp/${route}`;
    const [a, b] = await Promise.all([connect(url, 'auto', KEYS.KEY_A), connect(url, 'auto', KEYS.KEY_B)]);
    const streams = await Promise.all(
      [a, b].map(({ client }) => client.listen({ toolsListChanged: true, resourceSubscriptions: ['probe://a'] })),
    );
    return { a, b, close: () => Promise.all([...streams.map((stream) => stream.close()), a.client.close(), b.client.close()]) };
  }

  /** A resource update and a tool list change, on the process `caller`'s 2026-07-28 requests use. */
  async function change(caller: Awaited<ReturnType<typeof connect>>): Promise<void> {
    assert.deepEqual(await call(caller.client, 'touch', { uri: 'probe://a' }), { sent: true });
    await call(caller.client, 'grow');
  }

  for (const isolation of ['principal', 'session']) {
    test(`on isolation: ${isolation}, tells each caller of its own process changes only`, async () => {
      const { a, b, close } = await listeners(isolation === 'principal' ? 'own' : 'sessions');
      await change(a);
      await until(() => a.heard.length === 1 && a.lists.tools === 1, 'A to hear of its changes');
      // A change reaches every stream it is told to at once, and a stream keeps its order: had A's
      // reached B, B would have heard of it before its own.
      await change(b);
      await until(() => b.heard.length > 0 && b.lists.tools > 0, 'B to hear of its changes');
      assert.deepEqual([b.heard, b.lists.tools], [['probe://a'], 1]);
      await change(a);
      await until(() => a.heard.length === 2 && a.lists.tools === 2, 'A to hear of its second changes');
      assert.deepEqual([a.heard, a.lists.tools], [['probe://a', 'probe://a'], 2]);
      await close();
    });
  }

  test('on isolation: shared, tells every caller of a change on the one process', async () => {
    const { a, b, close } = await listeners('everyone');
    await change(a);
    await until(() => [a, b].every(({ heard, lists }) => heard.length === 1 && lists.tools === 1), 'both to hear of the change');
    await close();
  });

  test("ends every caller's listen stream when the gateway stops", async () => {
    const stopping = await startInProcessGateway(['servers:', keyedProbeRoute('own', 'principal')].join('\n'), { env: KEYS });
    const url = `${stopping.url}/mcp/own`;
    const callers = await Promise.all([connect(url, 'auto', KEYS.KEY_A), connect(url, 'auto', KEYS.KEY_B)]);
    const streams = await Promise.all(
      callers.map(({ client }) => client.listen({ toolsListChanged: true, resourceSubscriptions: ['probe://a'] })),
    );
    const closing = stopping.close();
    assert.deepEqual(await Promise.all(streams.map((stream) => stream.closed)), ['graceful', 'graceful']);
    await closing;
    for (const { client } of callers) await client.close();
  });
});

describe('a subscription the upstream does not answer', () => {
  let gw: InProcessGateway;
  before(async () => {
    // Both limits set apart, so the message can only name the one that ran out.
    gw = await startInProcessGateway(
      `servers:\n  stalled:\n    command: ${process.execPath}\n    args: [${JSON.stringify(PROBE)}]\n    isolation: shared\n    startTimeout: 1s\n    callTimeout: 30s\n`,
    );
  });
  after(() => gw.close());

  const timedOut = (method: string) => (error: unknown) => {
    assert.ok(error instanceof ProtocolError, String(error));
    assert.equal((error.data as { code?: string }).code, 'upstream_timeout');
    assert.equal(error.message, `The upstream did not answer ${method} for probe://stall within 1 s (startTimeout)`);
    return true;
  };

  test("fails a shared connection's resources/subscribe with upstream_timeout naming startTimeout, which bounded it", async () => {
    const { client } = await connect(`${gw.url}/mcp/stalled`, 'legacy');
    await assert.rejects(client.subscribeResource({ uri: 'probe://stall' }), timedOut('resources/subscribe'));
    // Nothing of it is held: another URI still subscribes.
    await client.subscribeResource({ uri: 'probe://a' });
    assert.deepEqual(await subscribedUpstream(client), ['probe://a']);
    await client.close();
  });

  test("fails a 2026-07-28 listener's resource subscription the same way", async () => {
    const { client } = await connect(`${gw.url}/mcp/stalled`, 'auto');
    await assert.rejects(client.listen({ resourceSubscriptions: ['probe://stall'] }), timedOut('resources/subscribe'));
    await client.close();
  });
});

describe('server-everything from npm behind a command route', () => {
  let gw: InProcessGateway;
  before(async () => {
    gw = await startInProcessGateway(`servers:\n  everything:\n    command: node\n    args: [${JSON.stringify(EVERYTHING)}, stdio]\n`);
  });
  after(() => gw.close());

  test('tells a 2026-07-28 listener of the updates it sends its subscribers', async () => {
    const url = `${gw.url}/mcp/everything`;
    const [listener, caller] = await Promise.all([connect(url, 'auto'), connect(url, 'auto')]);
    const [watched, other] = (await caller.client.listResources()).resources.map((resource) => resource.uri);
    const stream = await listener.client.listen({ resourceSubscriptions: [watched!] });
    // It sends every subscriber an update of each resource it subscribed to when this is turned on, then every 5 s.
    assert.match(textOf(await caller.client.callTool({ name: 'toggle-subscriber-updates', arguments: {} })), /^Started/);
    await until(() => listener.heard.length > 0, 'an update');
    assert.deepEqual(new Set(listener.heard), new Set([watched]));
    assert.ok(!listener.heard.includes(other!));
    await stream.close();
    for (const { client } of [listener, caller]) await client.close();
  });
});

/** The two kinds of listen stream a gateway keeps open on a 2026-07-28 server. */
type StreamKind = 'resources' | 'lists';

/**
 * A Streamable HTTP server of the SDK that speaks only 2026-07-28, whose resources take
 * subscriptions: it records the filter of every listen stream opened on it, counts those opened
 * and open of each kind (resource updates, list changes), ends the next ones of a kind just after
 * acknowledging them when the test says so, and tells its listeners a resource, or the resource
 * list, changed.
 */
async function startSubscribableServer() {
  const filters: SubscriptionFilter[] = [];
  const opened = { resources: 0, lists: 0 };
  const open = { resources: 0, lists: 0 };
  const ending = { resources: 0, lists: 0 };
  const handler = createMcpHandler(
    () => {
      const server = new McpServer({ name: 'subscribable-remote', version: '1.0.0' }, { capabilities: { resources: { subscribe: true } } });
      for (const name of ['x', 'y', 'z']) {
        server.registerResource(name, `remote://${name}`, {}, async (uri) => ({ contents: [{ uri: uri.href, text: name }] }));
      }
      return server;
    },
    { legacy: 'reject' },
  );
  const server = createHttpServer(
    getRequestListener(async (request) => {
      const body =
        request.method === 'POST'
          ? ((await request.clone().json()) as { method?: string; params?: { notifications?: SubscriptionFilter } })
          : {};
      const filter = body.method === 'subscriptions/listen' ? body.params!.notifications! : undefined;
      if (filter) filters.push(filter);
      const response = await handler.fetch(request);
      return filter ? counted(response, filter.resourceSubscriptions ? 'resources' : 'lists') : response;
    }),
  );
  /** A listen stream, counted while it is open, and ended after its acknowledgement if the test asked. */
  function counted(response: Response, kind: StreamKind): Response {
    const reader = response.body!.getReader();
    let ended = false;
    const end = () => {
      if (!ended) open[kind]--;
      ended = true;
    };
    opened[kind]++;
    open[kind]++;
    const endsAfterAck = ending[kind] > 0;
    if (endsAfterAck) ending[kind]--;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const chunk = await reader.read();
        if (chunk.done) {
          end();
          controller.close();
          return;
        }
        // The SDK writes the acknowledgement as the stream's first chunk.
        controller.enqueue(chunk.value);
        if (endsAfterAck) {
          end();
          controller.close();
          await reader.cancel();
        }
      },
      cancel(reason) {
        end();
        return reader.cancel(reason);
      },
    });
    return new Response(body, { status: response.status, headers: response.headers });
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    /** The resources the newest listen stream asking for any watches. */
    watched: () => filters.filter((filter) => filter.resourceSubscriptions).at(-1)?.resourceSubscriptions ?? [],
    /** Listen streams for resources open on it now. */
    streams: () => open.resources,
    /** Listen streams of a kind opened since start, and open now. */
    opened: (kind: StreamKind) => opened[kind],
    open: (kind: StreamKind) => open[kind],
    /** Ends the next `count` listen streams of a kind just after acknowledging them. */
    endNext: (kind: StreamKind, count: number) => void (ending[kind] = count),
    touch: (uri: string) => handler.notify.resourceUpdated(uri),
    listChanged: () => handler.notify.resourcesChanged(),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('a 2026-07-28 server behind a url route', () => {
  let remote: Awaited<ReturnType<typeof startSubscribableServer>>;
  let gw: InProcessGateway;
  before(async () => {
    remote = await startSubscribableServer();
    gw = await startInProcessGateway(`servers:\n  remote:\n    url: ${remote.url}\n`);
  });
  after(async () => {
    await gw.close();
    await remote.close();
  });

  test('gets one listen stream for what the route listeners watch, opened anew as that changes', async () => {
    const url = `${gw.url}/mcp/remote`;
    const [first, second] = await Promise.all([connect(url, 'auto'), connect(url, 'auto')]);
    const one = await first.client.listen({ resourceSubscriptions: ['remote://x', 'remote://z'] });
    const two = await second.client.listen({ resourceSubscriptions: ['remote://y', 'remote://z'] });
    assert.deepEqual([...remote.watched()].sort(), ['remote://x', 'remote://y', 'remote://z']);
    // The previous filter's stream closes once the new one is acknowledged.
    await until(() => remote.streams() === 1, 'one resource stream upstream');

    for (const uri of ['remote://x', 'remote://y', 'remote://z']) remote.touch(uri);
    await until(() => first.heard.includes('remote://z') && second.heard.includes('remote://z'), 'both listeners to hear of z');
    assert.deepEqual(first.heard, ['remote://x', 'remote://z']);
    assert.deepEqual(second.heard, ['remote://y', 'remote://z']);

    await one.close();
    await until(() => [...remote.watched()].sort().join() === 'remote://y,remote://z' && remote.streams() === 1, 'x to be let go');
    await two.close();
    await until(() => remote.streams() === 0, 'the resource stream to close');
    for (const { client } of [first, second]) await client.close();
  });

  test('serves resources/subscribe to a 2025 session, through the server era listen stream', async () => {
    const session = await connect(`${gw.url}/mcp/remote`, 'legacy');
    await session.client.subscribeResource({ uri: 'remote://y' });
    assert.deepEqual(remote.watched(), ['remote://y']);
    remote.touch('remote://x');
    remote.touch('remote://y');
    await until(() => session.heard.length > 0, 'the update');
    assert.deepEqual(session.heard, ['remote://y']);
    await session.client.unsubscribeResource({ uri: 'remote://y' });
    await until(() => remote.streams() === 0, 'the resource stream to close');
    await session.transport.terminateSession();
    await session.client.close();
  });
});

/** What /status.json says of the listen streams the gateway keeps on the `remote` route's upstream. */
async function listenStreams(gw: InProcessGateway): Promise<{ open: number; waiting: number; ended: number; reopened: number }> {
  const status = (await (await fetch(`${gw.url}/status.json`)).json()) as {
    routes: Array<{ name: string; upstream: { listenStreams: { open: number; waiting: number; ended: number; reopened: number } } }>;
  };
  return status.routes.find((route) => route.name === 'remote')!.upstream.listenStreams;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

describe('a 2026-07-28 server behind a url route that ends listen streams', () => {
  let remote: Awaited<ReturnType<typeof startSubscribableServer>>;
  let own: InProcessGateway;
  /** A remote and a gateway of the test's own: what the remote counts is this gateway's doing. */
  async function start(yaml = ''): Promise<void> {
    remote = await startSubscribableServer();
    own = await startInProcessGateway(`${yaml}servers:\n  remote:\n    url: ${remote.url}\n`);
  }
  afterEach(async () => {
    await own.close();
    await remote.close();
  });

  test('opens the stream of resource updates again when the upstream ends it, and updates reach the listener again', async () => {
    await start();
    const listener = await connect(`${own.url}/mcp/remote`, 'auto');
    remote.endNext('resources', 1);
    const stream = await listener.client.listen({ resourceSubscriptions: ['remote://x'] });
    // The first ended just after its acknowledgement: the gateway opened a second at once.
    await until(() => remote.opened('resources') === 2 && remote.streams() === 1, 'a second resource stream upstream');
    assert.deepEqual(remote.watched(), ['remote://x']);
    remote.touch('remote://x');
    await until(() => listener.heard.length > 0, 'the update');
    assert.deepEqual(listener.heard, ['remote://x']);
    assert.ok(
      own.logs.some(
        (line) =>
          line.msg === 'the upstream ended the subscriptions/listen stream of resource updates; the gateway opens it again' &&
          line.how === 'remote',
      ),
    );
    await stream.close();
    await listener.client.close();
  });

  test('opens the stream of list changes again when the upstream ends it', async () => {
    await start();
    // The connection is opened, with its list stream, by the client's first request.
    remote.endNext('lists', 1);
    const listener = await connect(`${own.url}/mcp/remote`, 'auto');
    const stream = await listener.client.listen({ resourcesListChanged: true });
    await until(() => remote.opened('lists') === 2 && remote.open('lists') === 1, 'a second list stream upstream');
    remote.listChanged();
    await until(() => listener.lists.resources > 0, 'the list change');
    await stream.close();
    await listener.client.close();
  });

  test("shows on /status.json and the status page the route's listen streams ended, waiting and opened again", async () => {
    await start();
    const listener = await connect(`${own.url}/mcp/remote`, 'auto');
    // The connection's stream of list changes, open since the client's first request.
    const before = await listenStreams(own);
    assert.deepEqual([before.waiting, before.ended, before.reopened], [0, 0, 0]);
    assert.ok(before.open >= 1, JSON.stringify(before));
    // The first is opened again at once and ends too: two in a row, so the third waits the interval (1 s).
    remote.endNext('resources', 2);
    const stream = await listener.client.listen({ resourceSubscriptions: ['remote://x'] });
    await until(async () => (await listenStreams(own)).waiting === 1, 'a stream waiting for the backoff');
    assert.deepEqual(await listenStreams(own), { open: before.open, waiting: 1, ended: 2, reopened: 1 });
    const page = await (await fetch(`${own.url}/`)).text();
    assert.match(
      page,
      new RegExp(
        `<span class="error">${plural(before.open, 'listen stream')} open, 1 waiting to be opened again \\(the server ended 2, the gateway opened 1 again\\)</span>`,
      ),
    );
    // Once the interval has passed, it is opened again and stays open.
    await until(async () => (await listenStreams(own)).waiting === 0, 'the stream to be opened again', 5_000);
    assert.deepEqual(await listenStreams(own), { open: before.open + 1, waiting: 0, ended: 2, reopened: 2 });
    assert.equal(remote.streams(), 1);
    remote.touch('remote://x');
    await until(() => listener.heard.length > 0, 'the update');
    // A stream the gateway closes itself is no end.
    await stream.close();
    await until(async () => (await listenStreams(own)).open === before.open, 'the resource stream to close');
    assert.deepEqual(await listenStreams(own), { open: before.open, waiting: 0, ended: 2, reopened: 2 });
    await listener.client.close();
  });

  test('asks a server that ends every stream again once per backoff interval, not in a loop', async () => {
    await start('cache:\n  backoff: { afterFailures: 2, initial: 1h, max: 1h }\n');
    const listener = await connect(`${own.url}/mcp/remote`, 'auto');
    remote.endNext('resources', Number.POSITIVE_INFINITY);
    const stream = await listener.client.listen({ resourceSubscriptions: ['remote://y'] });
    const waiting = 'the upstream ended the subscriptions/listen stream of resource updates; the gateway opens it again in 3600 s';
    await until(() => own.logs.some((line) => line.msg === waiting), 'the gateway to back off');
    // The listener's stream, and one opened again at once; the next waits for the interval.
    assert.equal(remote.opened('resources'), 2);
    assert.equal(own.logs.find((line) => line.msg === waiting)?.retryInSeconds, 3600);
    remote.endNext('resources', 0);
    await stream.close();
    await listener.client.close();
  });
});

/**
 * A v1-SDK Streamable HTTP server with sessions, as many remote 2025 servers are, whose resources
 * (`v1://a` to `v1://c`) take subscriptions: it records each session's, tells a resource's
 * subscribers it changed (on their sessions' GET streams), and `restart()` forgets every session
 * and ends its streams, as a restarted server does; a request naming a session it does not know
 * gets 404.
 */
async function startV1SessionServer() {
  const sessions = new Map<string, { mcp: V1McpServer; subscribed: Set<string>; listening: number }>();
  let started = 0;
  const server = createHttpServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = chunks.length > 0 ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { method?: string }) : undefined;
    const id = req.headers['mcp-session-id'];
    const session = typeof id === 'string' ? sessions.get(id) : undefined;
    if (session) {
      if (req.method === 'GET') {
        session.listening++;
        res.on('close', () => session.listening--);
      }
      await (session.mcp.server.transport as V1StreamableHTTPServerTransport).handleRequest(req, res, body);
      return;
    }
    if (typeof id === 'string' || body?.method !== 'initialize') {
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }));
      return;
    }
    const mcp = new V1McpServer({ name: 'v1-sessions', version: '1.0.0' });
    const subscribed = new Set<string>();
    for (const name of ['a', 'b', 'c']) {
      mcp.registerResource(name, `v1://${name}`, {}, async (uri) => ({ contents: [{ uri: uri.href, text: name }] }));
    }
    mcp.server.registerCapabilities({ resources: { subscribe: true } });
    mcp.server.setRequestHandler(SubscribeRequestSchema, async (request) => (subscribed.add(request.params.uri), {}));
    mcp.server.setRequestHandler(UnsubscribeRequestSchema, async (request) => (subscribed.delete(request.params.uri), {}));
    const transport = new V1StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sessionId) => {
        started++;
        sessions.set(sessionId, { mcp, subscribed, listening: 0 });
      },
    });
    await mcp.connect(transport);
    await transport.handleRequest(req, res, body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    /** Upstream sessions opened since start. */
    started: () => started,
    /** What each live session is subscribed to, and how many GET streams it has open. */
    sessions: () => [...sessions.values()].map(({ subscribed, listening }) => ({ subscribed: [...subscribed].sort(), listening })),
    /** Tells every session subscribed to `uri` that it changed. */
    touch: async (uri: string) => {
      for (const { mcp, subscribed } of sessions.values()) if (subscribed.has(uri)) await mcp.server.sendResourceUpdated({ uri });
    },
    restart: async () => {
      const gone = [...sessions.values()];
      sessions.clear();
      await Promise.all(gone.map(({ mcp }) => mcp.close()));
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('a 2025 server with sessions behind a url route', () => {
  let remote: Awaited<ReturnType<typeof startV1SessionServer>>;
  let gw: InProcessGateway;
  before(async () => {
    remote = await startV1SessionServer();
    gw = await startInProcessGateway(
      [
        'servers:',
        ...['shared', 'principal'].map((isolation) => `  ${isolation}:\n    url: ${remote.url}\n    isolation: ${isolation}`),
        '',
      ].join('\n'),
    );
  });
  after(async () => {
    await gw.close();
    await remote.close();
  });

  for (const isolation of ['shared', 'principal'] as const) {
    test(`on isolation: ${isolation}, holds 2025 sessions' subscriptions again on the upstream session that replaced a forgotten one`, async () => {
      const url = `${gw.url}/mcp/${isolation}`;
      // Both sessions from one address: one caller, so one upstream session on principal as on shared.
      const [a, b] = await Promise.all([connect(url, 'legacy'), connect(url, 'legacy')]);
      await a.client.subscribeResource({ uri: 'v1://a' });
      await b.client.subscribeResource({ uri: 'v1://b' });
      const live = () => remote.sessions().filter((session) => session.subscribed.length > 0);
      assert.deepEqual(
        live().map((session) => session.subscribed),
        [['v1://a', 'v1://b']],
      );
      const opened = remote.started();
      const renewed = () =>
        gw.logs.filter((line) => line.msg === 'the remote server forgot its session; the gateway opened a new one').length;
      const renewedBefore = renewed();
      await remote.restart();
      // Each session's next request finds the upstream session gone (404), reaches a new one, and
      // has its subscriptions held there before it is answered.
      assert.equal((await a.client.readResource({ uri: 'v1://c' })).contents[0]?.uri, 'v1://c');
      assert.equal((await b.client.readResource({ uri: 'v1://c' })).contents[0]?.uri, 'v1://c');
      assert.equal(remote.started(), opened + 1, 'one new upstream session');
      assert.deepEqual(remote.sessions(), [{ subscribed: ['v1://a', 'v1://b'], listening: remote.sessions()[0]!.listening }]);
      assert.equal(renewed(), renewedBefore + 1);
      // The new session's updates come on its GET stream, which the gateway's client opens after the handshake.
      await until(() => remote.sessions()[0]!.listening > 0, 'the new upstream session to have a GET stream');
      await remote.touch('v1://a');
      await remote.touch('v1://b');
      await until(() => a.heard.length > 0 && b.heard.length > 0, 'both sessions to hear of their resource');
      assert.deepEqual(a.heard, ['v1://a']);
      assert.deepEqual(b.heard, ['v1://b']);
      // Held again as before: an unsubscribe lets go upstream.
      await a.client.unsubscribeResource({ uri: 'v1://a' });
      await b.client.unsubscribeResource({ uri: 'v1://b' });
      assert.deepEqual(remote.sessions()[0]!.subscribed, []);
      for (const { transport, client } of [a, b]) {
        await transport.terminateSession();
        await client.close();
      }
    });
  }
});
