/**
 * `command:` routes whose server misbehaves on the wire or crowds its route: a stdio server
 * written by hand (raw-server.mjs), reached through the real gateway by the SDK's own clients.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  Client,
  PROTOCOL_VERSION_META_KEY,
  ProtocolError,
  StreamableHTTPClientTransport,
} from '@modelcontextprotocol/client';
import {
  initializeBody,
  MCP_POST_HEADERS,
  rawRequest,
  rpcOf,
  startInProcessGateway,
  textOf,
  type InProcessGateway,
} from '../helpers/gateway.js';
import { processesWith } from '../helpers/processes.js';
import { fixturePath } from '../helpers/project.js';
import { until } from '../helpers/until.js';

const RAW = fixturePath('stdio', 'raw-server.mjs');
const ERAS = ['legacy', 'auto'] as const;

function rawRoute(name: string, marker: string, extra = ''): string {
  return `  ${name}:\n    command: ${process.execPath}\n    args: [${JSON.stringify(RAW)}, ${JSON.stringify(marker)}]\n${extra}`;
}

/**
 * The gateway of a describe block: its raw-server routes (`routes(marker)`, the marker in each
 * child's arguments), started before the block's tests and closed after them, with every child it
 * started gone. `gw()` is the gateway, once started.
 */
function rawGateway(routes: (marker: string) => string): { gw: () => InProcessGateway; marker: string } {
  const marker = `raw-${randomUUID()}`;
  let gw: InProcessGateway | undefined;
  before(async () => {
    gw = await startInProcessGateway(routes(marker));
  });
  after(async () => {
    await gw?.close();
    await until(() => processesWith(marker).length === 0, 'the children to exit');
  });
  return { gw: () => gw!, marker };
}

async function connect(url: string, era: (typeof ERAS)[number] = 'legacy'): Promise<Client> {
  const client = new Client({ name: 'wire-test', version: '1.0.0' }, { versionNegotiation: { mode: era } });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

async function pidOf(client: Client): Promise<number> {
  return (JSON.parse(textOf(await client.callTool({ name: 'pid', arguments: {} }))) as { pid: number }).pid;
}

/** The error a call failed with: its JSON-RPC code, the gateway's code and the message. */
async function failure(call: Promise<unknown>): Promise<{ rpc: number; code: string | undefined; message: string }> {
  const error = await call.then(
    (result) => assert.fail(`expected an error, got ${JSON.stringify(result)}`),
    (error: unknown) => error,
  );
  assert.ok(error instanceof ProtocolError, String(error));
  return { rpc: error.code, code: (error.data as { code?: string } | undefined)?.code, message: error.message };
}

describe('a command route whose server misbehaves on stdout', () => {
  const { gw, marker } = rawGateway((marker) => ['servers:', rawRoute('raw', marker, '    callTimeout: 30s\n'), ''].join('\n'));

  test('fails the call at once when the child closes its stdout and keeps running, stops that child, and starts a new one', async () => {
    for (const era of ERAS) {
      const client = await connect(`${gw().url}/mcp/raw`, era);
      const first = await pidOf(client);
      const started = Date.now();
      const { code, message } = await failure(client.callTool({ name: 'close-stdout', arguments: {} }));
      assert.ok(Date.now() - started < 5000, `failed after ${Date.now() - started} ms, not at once`);
      assert.equal(code, 'upstream_exited');
      assert.match(message, /server process of route "raw" closed its stdout before answering/);
      assert.notEqual(await pidOf(client), first);
      await until(() => !processesWith(marker).includes(first), 'the child that closed its stdout to be stopped');
      await client.close();
    }
    assert.ok(gw().logs.some((line) => line.msg === 'server closed its stdout while still running; stopping it'));
  });

  test('fails a call at once whose answer is not JSON-RPC (a result and an error), and the child goes on serving', async () => {
    for (const era of ERAS) {
      const client = await connect(`${gw().url}/mcp/raw`, era);
      const pid = await pidOf(client);
      const started = Date.now();
      const { rpc, message } = await failure(client.callTool({ name: 'both', arguments: {} }));
      assert.ok(Date.now() - started < 5000, `failed after ${Date.now() - started} ms, not at once`);
      assert.equal(rpc, -32603);
      assert.match(message, /answered this request with a message that is not valid JSON-RPC/);
      assert.equal(await pidOf(client), pid);
      await client.close();
    }
  });

  test('ignores an answer to an id it never sent, and a second answer to the same id, and warns of each', async () => {
    const client = await connect(`${gw().url}/mcp/raw`);
    assert.equal(textOf(await client.callTool({ name: 'stray', arguments: {} })), 'first');
    const [pid, again] = await Promise.all([pidOf(client), pidOf(client)]);
    assert.equal(pid, again);
    await client.close();
    const warned = gw()
      .logs.filter((line) => line.level === 'warn' && String(line.msg).startsWith('upstream answered no request'))
      .map((line) => String(line.answer));
    assert.ok(
      warned.some((answer) => answer.includes('"id":987654')),
      JSON.stringify(warned),
    );
    assert.ok(
      warned.some((answer) => answer.includes('"text":"second"')),
      JSON.stringify(warned),
    );
  });
});

describe('a command route whose server speaks to its 2025 client between calls', () => {
  const { gw } = rawGateway((marker) => ['servers:', rawRoute('raw', marker), ''].join('\n'));

  test("relays the roots/list a session's own child sends when told the client's roots changed", async () => {
    const client = new Client({ name: 'wire-test', version: '1.0.0' }, { capabilities: { roots: { listChanged: true } } });
    let roots = [{ uri: 'file:///before', name: 'before' }];
    client.setRequestHandler('roots/list', async () => ({ roots }));
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gw().url}/mcp/raw`)));
    assert.deepEqual(JSON.parse(textOf(await client.callTool({ name: 'roots', arguments: {} }))).result, { roots });
    roots = [{ uri: 'file:///after', name: 'after' }];
    await client.sendRootsListChanged();
    let seen: { result?: unknown; error?: unknown } | null = null;
    for (let attempt = 0; attempt < 40 && seen === null; attempt++) {
      seen = JSON.parse(textOf(await client.callTool({ name: 'roots-on-change', arguments: {} }))) as typeof seen;
      if (seen === null) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    assert.deepEqual(seen, { jsonrpc: '2.0', id: 'raw-2', result: { roots } });
    await client.close();
  });

  test("passes on a log message a session's own child sends after answering", async () => {
    const client = await connect(`${gw().url}/mcp/raw`);
    const logged: unknown[] = [];
    client.setNotificationHandler('notifications/message', (notification) => void logged.push(notification.params.data));
    await client.callTool({ name: 'log-later', arguments: {} });
    await until(() => logged.length > 0, 'the log message to reach the client', 5000);
    assert.deepEqual(logged, ['later']);
    assert.ok(!gw().logs.some((line) => line.msg === 'upstream log message'));
    await client.close();
  });
});

describe("the status page's tool listing on a command route at its maxProcesses", () => {
  const { gw } = rawGateway((marker) => ['servers:', rawRoute('one', marker, '    maxProcesses: 1\n'), ''].join('\n'));

  test("does not stop a session's idle process to make room: the listing fails, and the session keeps its process", async () => {
    const a = await connect(`${gw().url}/mcp/one`);
    const pid = await pidOf(a);
    const status = (await (await fetch(`${gw().url}/status.json`)).json()) as {
      routes: Array<{ name: string; tools: unknown[]; toolsError?: string }>;
    };
    const route = status.routes.find((r) => r.name === 'one')!;
    assert.deepEqual(route.tools, []);
    assert.match(
      route.toolsError ?? '',
      /all 1 upstream connections \(maxProcesses\) are in use, and the gateway does not stop a session's process/,
    );
    assert.equal(await pidOf(a), pid, "the session's process is the same one");
    await a.close();
  });
});

describe('a command route at its maxProcesses', () => {
  const { gw } = rawGateway((marker) => ['servers:', rawRoute('one', marker, '    maxProcesses: 1\n'), ''].join('\n'));

  test('gives processes_full to a newcomer, and to a session whose child was stopped to make room, while the one child is busy', async () => {
    // The route's call in flight: the child is busy from then until it answers.
    const calling = () => until(() => gw().gateway.routes.get('one')!.inFlight === 1, 'the call to be in flight');
    const a = await connect(`${gw().url}/mcp/one`);
    const sleeping = a.callTool({ name: 'sleep', arguments: { ms: 3000 } });
    await calling();
    await assert.rejects(connect(`${gw().url}/mcp/one`), /processes_full/);
    await sleeping;
    // b's child takes a's place (a's is idle), and is busy when a comes back.
    const b = await connect(`${gw().url}/mcp/one`);
    const busy = b.callTool({ name: 'sleep', arguments: { ms: 3000 } });
    await calling();
    const { code, message } = await failure(a.callTool({ name: 'pid', arguments: {} }));
    assert.equal(code, 'processes_full');
    assert.match(message, /all 1 upstream connections \(maxProcesses\) are busy/);
    await busy;
    await pidOf(a);
    await Promise.all([a.close(), b.close()]);
  });
});

describe('a command route whose server writes large or slow messages', () => {
  const { gw } = rawGateway((marker) => ['servers:', rawRoute('raw', marker, '    callTimeout: 15s\n'), ''].join('\n'));

  test('delivers a 20 MB tool result whole, in both eras', async () => {
    for (const era of ERAS) {
      const client = await connect(`${gw().url}/mcp/raw`, era);
      const text = textOf(await client.callTool({ name: 'big', arguments: { mb: 20 } }));
      assert.equal(text.length, 20 * 1_048_576);
      assert.ok(/^x+$/.test(text));
      await client.close();
    }
  });

  test('delivers an answer whose line arrives in two parts a second apart', async () => {
    for (const era of ERAS) {
      const client = await connect(`${gw().url}/mcp/raw`, era);
      assert.equal(textOf(await client.callTool({ name: 'slow-line', arguments: { ms: 1000 } })), 'arrived whole');
      await client.close();
    }
  });
});

describe('a command route whose server writes what is not an answer', () => {
  const { gw } = rawGateway((marker) => ['servers:', rawRoute('raw', marker, '    callTimeout: 15s\n'), ''].join('\n'));

  test('logs lines that are not JSON-RPC, drops an answer to nothing, answers unknown requests, and the session goes on', async () => {
    for (const era of ERAS) {
      const client = await connect(`${gw().url}/mcp/raw`, era);
      const pid = await pidOf(client);
      assert.equal(textOf(await client.callTool({ name: 'junk', arguments: {} })), 'after the junk');
      assert.equal(await pidOf(client), pid);
      const unknown = JSON.parse(textOf(await client.callTool({ name: 'unknown-answered', arguments: {} }))) as {
        error?: { code: number };
      };
      assert.equal(unknown.error?.code, -32601);
      await client.close();
    }
    const stdout = gw()
      .logs.filter((line) => line.msg === 'server wrote a line on stdout that is not JSON-RPC')
      .map((line) => line.stdout);
    for (const line of ['a banner', '{"jsonrpc":"2.0","id":', '42', '"x"', '[]', 'null']) assert.ok(stdout.includes(line), line);
  });

  test('logs a stderr line of 8 MB with no newline once, cut with a marker, and stays responsive', async () => {
    const client = await connect(`${gw().url}/mcp/raw`);
    const pid = await pidOf(client);
    assert.equal(textOf(await client.callTool({ name: 'stderr-flood', arguments: { mb: 8 } })), 'flooded');
    await until(() => gw().logs.some((line) => line.stderr === 'after the flood'), 'the line after the flood');
    const stderr = gw()
      .logs.filter((line) => line.msg === 'server stderr' && line.pid === pid)
      .map((line) => line.stderr);
    assert.deepEqual(stderr, [`${'e'.repeat(1000)}…[+${8 * 1_048_576 - 1000} chars]`, '\uFFFD\uFFFDbad\uFFFD', 'after the flood']);
    assert.equal(await pidOf(client), pid);
    await client.close();
  });

  test('passes on a flood of log messages to the session, every one', async () => {
    const client = await connect(`${gw().url}/mcp/raw`);
    let seen = 0;
    client.setNotificationHandler('notifications/message', () => void seen++);
    assert.equal(textOf(await client.callTool({ name: 'log-flood', arguments: { count: 5000 } })), 'logged');
    await until(() => seen === 5000, 'every log message', 10_000);
    await client.close();
  });
});

describe('command routes whose server starts oddly', () => {
  const { gw } = rawGateway((marker) =>
    [
      'servers:',
      rawRoute('banner', marker, '    env: { RAW_BANNER: "raw-server 1.0 ready" }\n'),
      rawRoute('quits', marker, '    env: { RAW_EXIT_AFTER_INITIALIZE: "1" }\n'),
      rawRoute('refuses', marker, '    env: { RAW_REFUSE_INITIALIZE: "the licence key is missing" }\n'),
      '',
    ].join('\n'),
  );

  test('leaves no call in flight once its client cancels it (the stream it waited on stayed open)', async () => {
    const client = await connect(`${gw().url}/mcp/banner`, 'legacy');
    const inFlight = async () =>
      ((await (await fetch(`${gw().url}/status.json`)).json()) as { routes: Array<{ name: string; inFlight: number }> }).routes.find(
        (route) => route.name === 'banner',
      )!.inFlight;
    const controller = new AbortController();
    const call = client.callTool({ name: 'sleep', arguments: { ms: 60_000 } }, { signal: controller.signal });
    await until(async () => (await inFlight()) === 1, 'the call in flight');
    controller.abort();
    await assert.rejects(call);
    await until(async () => (await inFlight()) === 0, 'no call in flight');
    // The session goes on.
    assert.equal(typeof (await pidOf(client)), 'number');
    await client.close();
  });

  test('serves a child that prints a banner on stdout before it is initialized, and logs the banner', async () => {
    for (const era of ERAS) {
      const client = await connect(`${gw().url}/mcp/banner`, era);
      await pidOf(client);
      await client.close();
    }
    assert.ok(
      gw().logs.some((line) => line.msg === 'server wrote a line on stdout that is not JSON-RPC' && line.stdout === 'raw-server 1.0 ready'),
    );
  });

  test('names a child that answers initialize with an error by that error, not as one that did not start', async () => {
    const refused = await connect(`${gw().url}/mcp/refuses`, 'legacy').catch((error: unknown) => String(error));
    assert.equal(typeof refused, 'string', 'the connect fails');
    assert.match(String(refused), /upstream_unavailable/);
    assert.match(String(refused), /answered its first request with an error \(-32603: the licence key is missing\)/);
    assert.doesNotMatch(String(refused), /did not start/);
    const logged = gw().logs.find((line) => line.msg === 'server process failed to start' && line.route === 'refuses');
    assert.equal(logged?.why, 'answered its first request with an error (-32603: the licence key is missing)');
    // The refusal answers the initialize by its id (was null).
    const raw = await fetch(`${gw().url}/mcp/refuses`, {
      method: 'POST',
      headers: MCP_POST_HEADERS,
      body: JSON.stringify({ ...initializeBody(), id: 'init-7' }),
    });
    const body = (await raw.json()) as { id: unknown; error: { data: { code: string } } };
    assert.deepEqual([raw.status, body.id, body.error.data.code], [502, 'init-7', 'upstream_unavailable']);
  });

  test('answers 502 upstream_unavailable, in both eras, while a child that exits after initialize is backed off', async () => {
    // Each child answers initialize and exits: the session's call fails with upstream_exited, or
    // (the exit seen first, or the child gone before the handshake's last write: EPIPE) the
    // session's initialize or call gets upstream_unavailable; after two failures in a row the
    // route is backed off and says so.
    const seen: string[] = [];
    for (let attempt = 0; attempt < 6 && !/keeps stopping/.test(seen.at(-1) ?? ''); attempt++) {
      const legacy = await connect(`${gw().url}/mcp/quits`, 'legacy').catch((error: unknown) => String(error));
      if (typeof legacy === 'string') {
        assert.match(legacy, /upstream_unavailable/);
        // Gone before the handshake's last write, it is still named by its exit, not the broken pipe.
        assert.doesNotMatch(legacy, /EPIPE|did not start/);
        seen.push(legacy);
        continue;
      }
      const { code, message } = await failure(legacy.callTool({ name: 'pid', arguments: {} }));
      if (code === 'upstream_exited') assert.match(message, /exited with code 0 before answering/);
      else assert.equal(code, 'upstream_unavailable');
      seen.push(message);
      await legacy.close().catch(() => undefined);
    }
    assert.match(seen.at(-1)!, /keeps stopping before it answers/, seen.join('\n'));
    const initialize = await rawRequest(`${gw().url}/mcp/quits`, { body: JSON.stringify(initializeBody()) });
    // The SDK's client reads no body of a failed server/discover: a raw 2026-07-28 request does.
    const discover = await rawRequest(`${gw().url}/mcp/quits`, {
      headers: { ...MCP_POST_HEADERS, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'server/discover' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 7,
        method: 'server/discover',
        params: {
          _meta: {
            [PROTOCOL_VERSION_META_KEY]: '2026-07-28',
            [CLIENT_CAPABILITIES_META_KEY]: {},
            [CLIENT_INFO_META_KEY]: { name: 'raw', version: '1.0.0' },
          },
        },
      }),
    });
    for (const answer of [initialize, discover]) {
      assert.equal(answer.status, 502, answer.body);
      const { error } = rpcOf(answer);
      assert.equal(error?.data?.code, 'upstream_unavailable');
      assert.match(error!.message, /keeps stopping before it answers; the gateway will start it again in \d+ s/);
    }
    assert.equal((JSON.parse(discover.body) as { id: unknown }).id, 7);
  });
});

describe("a command route's maxMessageSize", () => {
  const { gw, marker } = rawGateway((marker) =>
    [
      'servers:',
      rawRoute('small', marker, '    maxMessageSize: 1MiB\n    callTimeout: 15s\n'),
      rawRoute('deaf', marker, '    maxMessageSize: 16MiB\n    callTimeout: 2s\n'),
      '',
    ].join('\n'),
  );

  test('fails the call at once whose answer is over it, stops that child, and starts a new one, in both eras', async () => {
    for (const era of ERAS) {
      const client = await connect(`${gw().url}/mcp/small`, era);
      const first = await pidOf(client);
      const started = Date.now();
      const { code, message } = await failure(client.callTool({ name: 'big', arguments: { mb: 2 } }));
      assert.ok(Date.now() - started < 5000, `failed after ${Date.now() - started} ms, not at once`);
      assert.equal(code, 'upstream_exited');
      assert.match(message, /server process of route "small" wrote a message over 1 MiB \(maxMessageSize\) before answering/);
      assert.notEqual(await pidOf(client), first);
      await until(() => !processesWith(marker).includes(first), 'the child that wrote too much to be stopped');
      await client.close();
    }
    assert.ok(
      gw().logs.some((line) => line.msg === 'server wrote a message over maxMessageSize; stopping it' && line.maxBytes === 1_048_576),
    );
  });

  test('stops a child that has not read what it was sent once more than maxMessageSize waits for it, and its calls fail at once', async () => {
    const client = await connect(`${gw().url}/mcp/small`);
    const deaf = await pidOf(client);
    await client.callTool({ name: 'stop-reading', arguments: {} });
    const started = Date.now();
    const big = 'y'.repeat(400_000);
    const calls = await Promise.all(Array.from({ length: 4 }, () => failure(client.callTool({ name: 'pid', arguments: { big } }))));
    assert.ok(Date.now() - started < 5000, `failed after ${Date.now() - started} ms, not at once`);
    for (const { code, message } of calls) {
      assert.equal(code, 'upstream_exited');
      assert.match(message, /server process of route "small" stopped reading its stdin before answering/);
    }
    assert.notEqual(await pidOf(client), deaf);
    await until(() => !processesWith(marker).includes(deaf), 'the child that stopped reading to be stopped');
    await client.close();
    assert.ok(gw().logs.some((line) => line.msg === 'server stopped reading its stdin; stopping it'));
  });

  test('stops a child that has not read its stdin within callTimeout, and the next call gets a new one', async () => {
    const client = await connect(`${gw().url}/mcp/deaf`);
    const deaf = await pidOf(client);
    await client.callTool({ name: 'stop-reading', arguments: {} });
    // More than the pipe holds, far less than maxMessageSize.
    const big = 'y'.repeat(300_000);
    const calls = await Promise.all(Array.from({ length: 2 }, () => failure(client.callTool({ name: 'pid', arguments: { big } }))));
    for (const { code } of calls) assert.ok(code === 'upstream_timeout' || code === 'upstream_exited', code);
    await until(() => !processesWith(marker).includes(deaf), 'the child that stopped reading to be stopped');
    assert.notEqual(await pidOf(client), deaf);
    await client.close();
  });
});

describe('a command route whose child hangs', () => {
  // A call that times out has the child asked a ping, answered within startTimeout or not.
  const { gw, marker } = rawGateway((marker) =>
    ['servers:', rawRoute('shared', marker, '    isolation: shared\n    callTimeout: 5s\n    startTimeout: 2s\n'), ''].join('\n'),
  );
  const upstream = () => gw().gateway.routes.get('shared')!.upstream()!;

  test('a child still serving that lets one call time out goes on serving', async () => {
    const client = await connect(`${gw().url}/mcp/shared`);
    const pid = await pidOf(client);
    const { code } = await failure(client.callTool({ name: 'sleep', arguments: { ms: 8000 } }));
    assert.equal(code, 'upstream_timeout');
    // Past the ping's wait: the child answered it, and is still the route's.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.equal(await pidOf(client), pid);
    assert.equal(upstream().restarts, 0);
    assert.ok(!gw().logs.some((line) => line.msg === 'server answered no ping after a call timed out; stopping it as hung'));
    await client.close();
  });

  test('a shared child that stops reading is stopped once a call times out and it answers no ping; everyone gets a new one', async () => {
    const a = await connect(`${gw().url}/mcp/shared`);
    const b = await connect(`${gw().url}/mcp/shared`, 'auto');
    const hung = await pidOf(a);
    assert.equal(await pidOf(b), hung, 'one child for the route');
    await a.callTool({ name: 'stop-reading', arguments: {} });
    // Each gets the timeout: the child has read neither call.
    const timedOut = await Promise.all([
      failure(a.callTool({ name: 'pid', arguments: {} })),
      failure(b.callTool({ name: 'pid', arguments: {} })),
    ]);
    for (const { code } of timedOut) assert.equal(code, 'upstream_timeout');
    // A call sent while the ping waits (2 s) fails as the child is stopped, not after its own callTimeout (5 s).
    const waiting = failure(b.callTool({ name: 'pid', arguments: {} }));
    await until(() => !processesWith(marker).includes(hung), 'the hung child to be stopped');
    const { code, message } = await waiting;
    assert.equal(code, 'upstream_exited');
    assert.match(
      message,
      /server process of route "shared" was stopped as hung \(it answered no ping within 2 s \(startTimeout\) after a call timed out\) before answering; the next request starts it again/,
    );
    const fresh = await pidOf(a);
    assert.notEqual(fresh, hung);
    assert.equal(await pidOf(b), fresh, 'both sessions reach the new child');
    assert.equal(upstream().restarts, 1);
    assert.ok(
      gw().logs.some(
        (line) => line.msg === 'server answered no ping after a call timed out; stopping it as hung' && line.pingTimeoutMs === 2000,
      ),
    );
    await Promise.all([a.close(), b.close()]);
  });
});
