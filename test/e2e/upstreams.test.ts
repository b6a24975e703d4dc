/**
 * `command:` and `url:` routes: real stdio servers as child processes (server-everything from
 * npm, and a v1-SDK probe server), and remote servers (a second gateway, v1-SDK Streamable HTTP
 * and HTTP+SSE servers), reached through the real gateway by the SDK's own clients of both eras.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { getRequestListener } from '@hono/node-server';
import { Client, ProtocolError, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { createMcpHandler, McpServer, SERVER_INFO_META_KEY } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { createSessionKeyring } from '../../src/gateway/sessions/session-keys.js';
import type { BackoffState } from '../../src/gateway/backoff-schedule.js';
import { TOOLS_RETRY_MS } from '../../src/gateway/protocol/route.js';
import { childEnvironment } from '../../src/gateway/upstreams/child-process.js';
import { fakeClock } from '../helpers/fake-upstream.js';
import {
  fixtureModule,
  initializeBody,
  MCP_POST_HEADERS,
  startInProcessGateway,
  textOf,
  type InProcessGateway,
} from '../helpers/gateway.js';
import { processesWith } from '../helpers/processes.js';
import { fixturePath, PROJECT_ROOT } from '../helpers/project.js';
import { startV1Remote, startV1SseRemote } from '../helpers/v1-remote.js';
import { tempDir } from '../helpers/temp-dir.js';
import { watchConsoleErrors } from '../helpers/console.js';
import { until } from '../helpers/until.js';

const EVERYTHING = path.join(PROJECT_ROOT, 'node_modules', '@modelcontextprotocol', 'server-everything', 'dist', 'index.js');
const PROBE = fixturePath('stdio', 'probe-server.mjs');
const GATED = fixturePath('stdio', 'gated-server.mjs');
const ERAS = ['legacy', 'auto'] as const;

/** A route running the probe server, its processes findable by a marker argument. */
function probeRoute(name: string, marker: string, extra = ''): string {
  return `  ${name}:\n    command: ${process.execPath}\n    args: [${JSON.stringify(PROBE)}, ${JSON.stringify(marker)}]\n${extra}`;
}

async function connect(url: string, era: (typeof ERAS)[number], capabilities = {}): Promise<Client> {
  const client = new Client({ name: 'upstream-test', version: '1.0.0' }, { capabilities, versionNegotiation: { mode: era } });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  return JSON.parse(textOf(await client.callTool({ name, arguments: args }))) as Record<string, unknown>;
}

/** A route's upstream backoff on /status.json. */
async function upstreamStatus(gw: InProcessGateway, route: string): Promise<{ backoff: BackoffState }> {
  const status = (await (await fetch(`${gw.url}/status.json`)).json()) as {
    routes: Array<{ name: string; upstream: { backoff: BackoffState } }>;
  };
  return { backoff: status.routes.find((r) => r.name === route)!.upstream.backoff };
}

/** A 2025 `initialize` posted as it is, and what came back: the HTTP status, the gateway's error code and message. */
async function initialize(url: string): Promise<{ status: number; code?: string; message?: string }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: MCP_POST_HEADERS,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    }),
  });
  const body = (await response.json()) as { error?: { message: string; data?: { code?: string } } };
  return { status: response.status, code: body.error?.data?.code, message: body.error?.message };
}

describe('a command route running server-everything from npm', () => {
  let gw: InProcessGateway;
  before(async () => {
    gw = await startInProcessGateway(`servers:\n  everything:\n    command: node\n    args: [${JSON.stringify(EVERYTHING)}, stdio]\n`);
  });
  after(() => gw.close());

  for (const era of ERAS) {
    test(`serves its tools, prompts and resources, with progress, to a ${era === 'auto' ? '2026-07-28' : '2025'} client`, async () => {
      const client = await connect(`${gw.url}/mcp/everything`, era);
      assert.equal(client.getNegotiatedProtocolVersion()! >= '2026-07-28', era === 'auto');
      assert.equal(client.getServerVersion()?.name, 'mcp-servers/everything');
      const { tools } = await client.listTools();
      assert.ok(tools.some((tool) => tool.name === 'echo'));
      assert.equal(
        textOf(await client.callTool({ name: 'echo', arguments: { message: 'through the bridge' } })),
        'Echo: through the bridge',
      );
      const progress: number[] = [];
      await client.callTool(
        { name: 'trigger-long-running-operation', arguments: { duration: 0.2, steps: 2 } },
        { onprogress: (p) => progress.push(p.progress) },
      );
      assert.ok(progress.length >= 1, 'progress reached the client');
      const { prompts } = await client.listPrompts();
      assert.ok(prompts.length > 0);
      const { resources } = await client.listResources();
      const read = await client.readResource({ uri: resources[0]!.uri });
      assert.equal(read.contents[0]!.uri, resources[0]!.uri);
      await client.close();
    });
  }

  test('shows the route and its processes on /status.json', async () => {
    const status = (await (await fetch(`${gw.url}/status.json`)).json()) as {
      routes: Array<{ name: string; upstream?: { kind: string; open: number; serverInfo?: { name: string } } }>;
    };
    const route = status.routes.find((r) => r.name === 'everything')!;
    assert.equal(route.upstream?.kind, 'command');
    assert.equal(route.upstream?.serverInfo?.name, 'mcp-servers/everything');
    assert.ok(route.upstream!.open >= 1);
    const page = await (await fetch(`${gw.url}/`)).text();
    assert.match(
      page,
      /stdio command, <b>\d+<\/b> server process(es)? running \(max 20\) · isolation session · \d+ started, 0 restarts · mcp-servers\/everything 2\.0\.0/,
    );
  });
});

describe('a command route running a v1-SDK stdio server', () => {
  const marker = `probe-${randomUUID()}`;
  let gw: InProcessGateway;
  before(async () => {
    gw = await startInProcessGateway(
      [
        'servers:',
        probeRoute('probe', marker, '    env: { PROBE_TOKEN: "${PROBE_TOKEN}" }\n    startTimeout: 10s\n    callTimeout: 2s\n'),
        probeRoute('shared', marker, '    isolation: shared\n'),
        probeRoute('mine', marker, '    isolation: principal\n'),
        '',
      ].join('\n'),
      { env: { PROBE_TOKEN: 'declared-for-the-child' } },
    );
  });
  after(async () => {
    await gw.close();
    await until(() => processesWith(marker).length === 0, 'the children to exit');
  });

  test('gives each session its own process: one client never sees another one state', async () => {
    const [a, b] = await Promise.all([connect(`${gw.url}/mcp/probe`, 'legacy'), connect(`${gw.url}/mcp/probe`, 'legacy')]);
    await call(a, 'remember', { value: 'alice' });
    await call(b, 'remember', { value: 'bob' });
    const [fromA, fromB] = await Promise.all([call(a, 'recall'), call(b, 'recall')]);
    assert.equal(fromA.remembered, 'alice');
    assert.equal(fromB.remembered, 'bob');
    assert.notEqual(fromA.pid, fromB.pid);
    await Promise.all([a.close(), b.close()]);
  });

  test('isolation: shared gives every client one process', async () => {
    const [a, b] = await Promise.all([connect(`${gw.url}/mcp/shared`, 'legacy'), connect(`${gw.url}/mcp/shared`, 'auto')]);
    await call(a, 'remember', { value: 'everyone' });
    const fromB = await call(b, 'recall');
    assert.equal(fromB.remembered, 'everyone');
    assert.equal(fromB.pid, (await call(a, 'pid')).pid);
    await Promise.all([a.close(), b.close()]);
  });

  test('isolation: principal gives one caller one process, across sessions and eras', async () => {
    const [a, b] = await Promise.all([connect(`${gw.url}/mcp/mine`, 'legacy'), connect(`${gw.url}/mcp/mine`, 'auto')]);
    assert.equal((await call(a, 'pid')).pid, (await call(b, 'pid')).pid);
    await Promise.all([a.close(), b.close()]);
  });

  test('starts the child with a minimal environment plus what gateway.yaml declares, never the gateway secrets', async () => {
    process.env.GATEWAY_SESSION_SECRET = randomBytes(32).toString('base64');
    process.env.GATEWAY_API_KEY_TEST = 'a-key-of-the-gateway';
    try {
      const client = await connect(`${gw.url}/mcp/probe`, 'legacy');
      const env = await call(client, 'env');
      assert.equal(env.PROBE_TOKEN, 'declared-for-the-child');
      const names = env.names as string[];
      assert.ok(!names.includes('GATEWAY_SESSION_SECRET'));
      assert.ok(!names.includes('GATEWAY_API_KEY_TEST'));
      assert.ok(names.includes('PATH'));
      for (const name of names)
        assert.match(name, /^(PATH|HOME|USER|LOGNAME|SHELL|TMPDIR|TMP|TEMP|LANG|LANGUAGE|LC_\w+|TZ|NODE_\w+|PROBE_TOKEN)$/);
      await client.close();
    } finally {
      delete process.env.GATEWAY_SESSION_SECRET;
      delete process.env.GATEWAY_API_KEY_TEST;
    }
    assert.deepEqual(
      childEnvironment({ X: '1' }, { PATH: '/bin', AzureWebJobsStorage: 'secret', NODE_ENV: 'production', NODE_AUTH_TOKEN: 't' }),
      {
        PATH: '/bin',
        NODE_ENV: 'production',
        X: '1',
      },
    );
  });

  test('logs stderr lines and non-JSON stdout lines, tagged with the route', async () => {
    const client = await connect(`${gw.url}/mcp/probe`, 'legacy');
    await call(client, 'pid');
    await client.close();
    const stderr = gw.logs.find((line) => line.msg === 'server stderr' && String(line.stderr).startsWith('probe-server pid'));
    assert.equal(stderr?.route, 'probe');
    const stdout = gw.logs.find((line) => line.msg === 'server wrote a line on stdout that is not JSON-RPC');
    assert.match(String(stdout?.stdout), /probe-server starting/);
  });

  test('a child that crashes mid-call fails that call at once, and the session next gets a new child', async () => {
    for (const era of ERAS) {
      const client = await connect(`${gw.url}/mcp/probe`, era);
      const first = (await call(client, 'pid')).pid;
      await assert.rejects(client.callTool({ name: 'crash', arguments: {} }), (error: unknown) => {
        assert.ok(error instanceof ProtocolError, String(error));
        assert.match(error.message, /server process of route "probe" exited with code 3 before answering/);
        assert.equal((error.data as { code?: string }).code, 'upstream_exited');
        return true;
      });
      const second = (await call(client, 'pid')).pid;
      assert.notEqual(second, first);
      await client.close();
    }
  });

  test('forwards progress and cancellation, and times out a call its server never answers', async () => {
    const client = await connect(`${gw.url}/mcp/probe`, 'legacy');
    const progress: number[] = [];
    const result = await client.callTool(
      { name: 'sleep', arguments: { ms: 100, steps: 2 } },
      { onprogress: (p) => progress.push(p.progress) },
    );
    assert.deepEqual(JSON.parse(textOf(result)), { slept: 100 });
    assert.deepEqual(progress, [1, 2]);
    const controller = new AbortController();
    const cancelled = client.callTool({ name: 'sleep', arguments: { ms: 30_000, steps: 1 } }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    await assert.rejects(cancelled);
    // callTimeout is 2 s on this route.
    await assert.rejects(client.callTool({ name: 'sleep', arguments: { ms: 10_000, steps: 1 } }), (error: unknown) => {
      assert.equal((error as ProtocolError).data && ((error as ProtocolError).data as { code: string }).code, 'upstream_timeout');
      return true;
    });
    assert.equal((await call(client, 'pid')).pid !== undefined, true);
    await client.close();
  });

  test('relays a server-to-client request (sampling) to the 2025 client whose call asked', async () => {
    const client = await connect(`${gw.url}/mcp/probe`, 'legacy', { sampling: {} });
    client.setRequestHandler('sampling/createMessage', async () => ({
      model: 'test-model',
      role: 'assistant',
      content: { type: 'text', text: '42' },
    }));
    assert.deepEqual(await call(client, 'ask'), { sampled: '42' });
    await client.close();
  });

  test("answers a server-to-client request meant for a 2026-07-28 client (its era has none) with -32601, and the server's tool says so", async () => {
    const client = await connect(`${gw.url}/mcp/probe`, 'auto', { sampling: {} });
    const result = await client.callTool({ name: 'ask', arguments: {} });
    // The server's sampling request came back -32601 from the gateway's connection, and the tool said so.
    assert.equal(result.isError, true);
    assert.match(
      textOf(result),
      /^MCP error -32601: sampling\/createMessage cannot be forwarded: this connection to the server is shared \(by a caller's 2026-07-28 requests/,
    );
    assert.ok((await call(client, 'pid')).pid, 'the session goes on');
    await client.close();
  });

  test('100 sessions opened and closed leave no process behind', async () => {
    const before = processesWith(marker).length;
    const sessions = gw.gateway.routes.get('probe')!.sessions.size;
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(
        Array.from({ length: 10 }, async () => {
          const transport = new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp/probe`));
          const client = new Client({ name: 'churn', version: '1.0.0' });
          await client.connect(transport);
          await call(client, 'pid');
          await transport.terminateSession();
          await client.close();
        }),
      );
    }
    await until(() => processesWith(marker).length <= before, 'the session children to exit');
    assert.equal(gw.gateway.routes.get('probe')!.sessions.size, sessions);
  });
});

describe('a module written for the SDK 1.x', () => {
  let gw: InProcessGateway;
  before(async () => {
    gw = await startInProcessGateway(`servers:\n  legacy-module:\n    module: ${fixtureModule('v1-echo')}\n`);
  });
  after(() => gw.close());

  for (const era of ERAS) {
    test(`is served unchanged, through the bridge, to a ${era === 'auto' ? '2026-07-28' : '2025'} client`, async () => {
      const client = await connect(`${gw.url}/mcp/legacy-module`, era);
      assert.equal(client.getServerVersion()?.name, 'v1-echo');
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((tool) => tool.name).sort(), ['add', 'echo']);
      assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'hi' } })), 'legacy-module: hi');
      const added = await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
      assert.deepEqual(added.structuredContent, { sum: 5 });
      await client.close();
    });
  }
});

/** A Streamable HTTP server that speaks only 2026-07-28 (the SDK's createMcpHandler, `legacy: 'reject'`). */
async function startModernOnlyHttpServer(): Promise<{ url: string; close(): Promise<void> }> {
  const handler = createMcpHandler(
    ({ era }) => {
      const server = new McpServer({ name: 'modern-only-remote', version: '1.0.0' });
      server.registerTool('era', { inputSchema: z.object({}) }, async () => ({ content: [{ type: 'text', text: era }] }));
      // A result that names another server as its author, beside a key of its own.
      server.registerTool('impostor', { inputSchema: z.object({}) }, async () => ({
        content: [{ type: 'text', text: 'who am I' }],
        _meta: { [SERVER_INFO_META_KEY]: { name: 'someone-else', version: '6.6.6' }, 'example.com/kept': true },
      }));
      server.registerResource(
        'note',
        'modern://note',
        { mimeType: 'text/plain', cacheHint: { ttlMs: 60_000, cacheScope: 'public' } },
        async (uri) => ({
          contents: [{ uri: uri.href, text: era }],
        }),
      );
      server.registerPrompt('greet', {}, async () => ({ messages: [{ role: 'user', content: { type: 'text', text: 'hello' } }] }));
      return server;
    },
    { legacy: 'reject' },
  );
  const server = createHttpServer(getRequestListener((request) => handler.fetch(request)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('routes whose server speaks only 2026-07-28', () => {
  let remote: Awaited<ReturnType<typeof startModernOnlyHttpServer>>;
  let gw: InProcessGateway;
  const ROUTES = ['modern', 'modern-remote'] as const;
  before(async () => {
    remote = await startModernOnlyHttpServer();
    gw = await startInProcessGateway(
      [
        'servers:',
        '  modern:',
        '    command: node',
        `    args: [${JSON.stringify(fixturePath('stdio', 'modern-only-server.mjs'))}]`,
        '  modern-remote:',
        `    url: ${remote.url}`,
        // A 2025 session reaches it on the one connection, which speaks the server's era.
        '  modern-shared:',
        '    command: node',
        `    args: [${JSON.stringify(fixturePath('stdio', 'modern-only-server.mjs'))}]`,
        '    isolation: shared',
        '',
      ].join('\n'),
    );
  });
  after(async () => {
    await gw.close();
    await remote.close();
  });

  for (const route of ROUTES) {
    for (const era of ERAS) {
      test(`${route}: serves a ${era === 'auto' ? '2026-07-28' : '2025'} client, speaking 2026-07-28 upstream`, async () => {
        const client = await connect(`${gw.url}/mcp/${route}`, era);
        assert.equal(client.getNegotiatedProtocolVersion()! >= '2026-07-28', era === 'auto');
        assert.equal(textOf(await client.callTool({ name: 'era', arguments: {} })), 'modern');
        await client.close();
      });
    }
  }

  test('answers as the route: the upstream naming itself in result _meta reaches no client', async () => {
    for (const route of ROUTES) {
      for (const era of ERAS) {
        const client = await connect(`${gw.url}/mcp/${route}`, era);
        for (const tool of route === 'modern-remote' ? ['era', 'impostor'] : ['era']) {
          const meta = (await client.callTool({ name: tool, arguments: {} }))._meta ?? {};
          // A 2025 result has no such key; a 2026-07-28 one names the server the client discovered.
          if (era === 'legacy') assert.equal(SERVER_INFO_META_KEY in meta, false, `${route} ${tool}`);
          else assert.deepEqual(meta[SERVER_INFO_META_KEY], client.getServerVersion(), `${route} ${tool}`);
          if (tool === 'impostor') assert.equal(meta['example.com/kept'], true);
        }
        await client.close();
      }
    }
  });

  test('gives a 2025 client results of its own era: no 2026-07-28 caching hints or result type', async () => {
    for (const route of [...ROUTES, 'modern-shared']) {
      const client = await connect(`${gw.url}/mcp/${route}`, 'legacy');
      const results: Record<string, object> = {
        'tools/list': await client.listTools(),
        'resources/list': await client.listResources(),
        'resources/templates/list': await client.listResourceTemplates(),
        'resources/read': await client.readResource({ uri: 'modern://note' }),
        'prompts/list': await client.listPrompts(),
        'prompts/get': await client.getPrompt({ name: 'greet' }),
        'tools/call': await client.callTool({ name: 'era', arguments: {} }),
      };
      for (const [method, result] of Object.entries(results)) {
        for (const field of ['ttlMs', 'cacheScope', 'resultType']) assert.equal(field in result, false, `${route} ${method} ${field}`);
      }
      assert.equal((results['resources/read'] as { contents: Array<{ text?: string }> }).contents[0]?.text, 'modern');
      await client.close();
    }
  });

  test("gives a 2026-07-28 client caching hints that never let one caller's answer reach another", async () => {
    // Each caller has a server process (or remote session) of its own on `modern` and
    // `modern-remote` (isolation: session), whose answers are that caller's: private, whatever the
    // upstream says of its own client. The shared child's answers are everyone's: its read keeps
    // the upstream's hints, and the lists are public, as on an open module route.
    const expected = { modern: 'private', 'modern-remote': 'private', 'modern-shared': 'public' } as const;
    for (const [route, scope] of Object.entries(expected)) {
      const client = await connect(`${gw.url}/mcp/${route}`, 'auto');
      const read = (await client.readResource({ uri: 'modern://note' })) as { ttlMs?: number; cacheScope?: string };
      assert.deepEqual([read.ttlMs, read.cacheScope], [60_000, scope], `${route} resources/read`);
      const listed = (await client.listTools()) as { cacheScope?: string };
      assert.equal(listed.cacheScope, scope, `${route} tools/list`);
      await client.close();
    }
  });

  test('tries the 2025 handshake once per route, then reaches 2025 sessions in the server era', async () => {
    for (const route of ROUTES) {
      for (let i = 0; i < 2; i++) {
        const client = await connect(`${gw.url}/mcp/${route}`, 'legacy');
        assert.equal(textOf(await client.callTool({ name: 'era', arguments: {} })), 'modern');
        await client.close();
      }
    }
    const refused = gw.logs.filter((line) => line.msg === 'the upstream refused the 2025 handshake; 2025 sessions reach it in its own era');
    assert.deepEqual(refused.map((line) => line.route).sort(), [...ROUTES]);
    // The refusal is an answer from a server that started: nothing says it failed.
    assert.deepEqual(
      gw.logs.filter((line) => line.level === 'warn' || line.level === 'error').map((line) => line.msg),
      [],
    );
    assert.ok(!gw.logs.some((line) => line.msg === 'the remote server refused Streamable HTTP; using HTTP+SSE'));
  });
});

describe('command routes that cannot start', () => {
  let gw: InProcessGateway;
  const marker = `cannot-start-${randomUUID()}`;
  before(async () => {
    gw = await startInProcessGateway(
      [
        'servers:',
        '  missing:',
        '    command: /no/such/program',
        '  nocwd:',
        `    command: ${process.execPath}`,
        '    cwd: /no/such/folder',
        '  silent:',
        `    command: ${process.execPath}`,
        '    args: ["-e", "setInterval(() => {}, 1000)"]',
        '    startTimeout: 500ms',
        '  exits:',
        `    command: ${process.execPath}`,
        '    args: ["-e", "process.exit(1)"]',
        // Gone before the gateway's first write reaches it (EPIPE), its exit seen only afterwards.
        '  closes:',
        '    command: sh',
        '    args: ["-c", "exec 0<&-; sleep 0.3; exit 1"]',
        // Not an MCP server: a banner on stdout, then nothing; it ignores its stdin closing and SIGTERM.
        '  banner:',
        `    command: ${process.execPath}`,
        `    args: ["-e", "process.stdout.write('listening on port 3000\\\\n'); process.on('SIGTERM', () => {}); process.stdin.resume(); setInterval(() => {}, 1000)", "${marker}"]`,
        '    startTimeout: 500ms',
        // Says why on stderr, and exits.
        '  complains:',
        `    command: ${process.execPath}`,
        `    args: ["-e", "console.error('fatal: API_TOKEN is not set'); process.exit(3)"]`,
        '',
      ].join('\n'),
    );
  });
  after(async () => {
    await gw.close();
    await until(() => processesWith(marker).length === 0, 'the children to exit');
  });

  test('answers as soon as startTimeout is over, and says that the command wrote what is not JSON-RPC; stops the child after', async () => {
    const answer = await initialize(`${gw.url}/mcp/banner`);
    assert.deepEqual([answer.status, answer.code], [502, 'upstream_unavailable']);
    assert.match(
      answer.message!,
      /did not answer its first request within 0\.5 s \(startTimeout\); it wrote 1 line on its stdout that is not JSON-RPC \(see the log\): is the command an MCP stdio server, and does it log to stderr\?$/,
    );
    // Answered while the child, which ignores its stdin closing and SIGTERM, is still being stopped:
    // before, the answer waited for that too (twice the stop's grace).
    assert.equal(processesWith(marker).length, 1, 'the child is still being stopped when the client is answered');
    await until(() => processesWith(marker).length === 0, 'the child to be stopped (SIGKILL after the grace)');
  });

  test("logs a child's last stderr line with why it failed, and tells the client the exit in the gateway's words alone", async () => {
    const answer = await initialize(`${gw.url}/mcp/complains`);
    assert.deepEqual([answer.status, answer.code], [502, 'upstream_unavailable']);
    // No error code of the SDK's or Node's (EPIPE) after the gateway's own words.
    assert.match(answer.message!, /is unavailable: \S*node exited with code 3$/);
    const failedLine = () => gw.logs.find((line) => line.msg === 'server process failed to start' && line.route === 'complains');
    await until(() => failedLine() !== undefined, 'the log line');
    const failed = failedLine()!;
    assert.equal(failed.why, 'exited with code 3');
    assert.equal(failed.lastStderr, 'fatal: API_TOKEN is not set');
  });

  test('holds back a server that keeps exiting before it answers, and says for how long', async () => {
    const messages: string[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const answer = await initialize(`${gw.url}/mcp/exits`);
      assert.equal(answer.status, 502);
      messages.push(answer.message!);
    }
    assert.match(messages[0]!, /exited with code 1/);
    assert.match(messages[1]!, /exited with code 1/);
    assert.match(messages[2]!, /keeps stopping before it answers; the gateway will start it again in 1 s/);
  });

  for (const [route, why, lastError] of [
    ['missing', /could not start \/no\/such\/program: spawn \/no\/such\/program ENOENT/, 'ENOENT'],
    ['nocwd', /could not start .*node: its working directory \/no\/such\/folder does not exist \(cwd\)/, 'ENOENT'],
    ['silent', /did not answer its first request within 0.5 s \(startTimeout\)/, 'timeout'],
    ['closes', /exited with code 1/, 'exited with code 1'],
  ] as const) {
    test(`answers initialize on "${route}" with 502 upstream_unavailable and a reason`, async () => {
      const answer = await initialize(`${gw.url}/mcp/${route}`);
      assert.deepEqual([answer.status, answer.code], [502, 'upstream_unavailable']);
      assert.match(answer.message!, why);
      // The status page names the failure without the command's path.
      assert.equal((await upstreamStatus(gw, route)).backoff.lastError, lastError);
    });
  }
});

describe('a client that goes away while its session is being opened', () => {
  test('ends its request once the answer is ready, quietly, and the route goes on', async () => {
    // A child that takes its time to start: the client gives up before it is initialized.
    const gw = await startInProcessGateway(
      [
        'servers:',
        '  slow:',
        `    command: ${process.execPath}`,
        `    args: ["-e", "setTimeout(() => import(require('node:url').pathToFileURL(process.argv[1]).href), 800)", ${JSON.stringify(fixturePath('stdio', 'probe-server.mjs'))}]`,
        '',
      ].join('\n'),
    );
    const consoleErrors = watchConsoleErrors();
    try {
      const route = gw.gateway.routes.get('slow')!;
      const controller = new AbortController();
      const sent = fetch(`${gw.url}/mcp/slow`, {
        method: 'POST',
        headers: MCP_POST_HEADERS,
        body: JSON.stringify(initializeBody()),
        signal: controller.signal,
      });
      setTimeout(() => controller.abort(), 200);
      await assert.rejects(sent);
      // The child answers: the session is there, and its initialize is handed to a client long gone.
      await until(() => route.sessions.size === 1, 'the session to open');
      // Nothing of it stays in flight (a drain would wait all shutdownGrace for it), and nothing
      // reaches the console.
      await until(() => route.inFlight === 0, 'the request to end');
      consoleErrors.check();
      // The route goes on: the next client is served.
      const client = new Client({ name: 'patient', version: '1' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp/slow`)));
      assert.match(textOf(await client.callTool({ name: 'pid', arguments: {} })), /"pid":\d+/);
      await client.close();
    } finally {
      consoleErrors.restore();
      await gw.close();
    }
  });
});

describe('a command route whose server keeps exiting before it answers', () => {
  const marker = `gated-${randomUUID()}`;
  const dir = tempDir('gated');
  /** What the route's next child does at start: exit, hold (answer nothing until told) or serve. */
  const steer = (mode: 'exit' | 'hold' | 'serve') => {
    writeFileSync(path.join(dir, 'next'), mode);
    renameSync(path.join(dir, 'next'), path.join(dir, 'mode'));
  };
  const clock = fakeClock();
  let gw: InProcessGateway;
  const url = () => `${gw.url}/mcp/gated`;
  /** Children that failed to start, by the gateway's log. */
  const failedStarts = () => gw.logs.filter((line) => line.msg === 'server process failed to start').length;
  before(async () => {
    steer('exit');
    gw = await startInProcessGateway(
      `servers:\n  gated:\n    command: ${process.execPath}\n    args: [${JSON.stringify(GATED)}, ${JSON.stringify(path.join(dir, 'mode'))}, ${JSON.stringify(marker)}]\n`,
      { now: clock.now },
    );
  });
  after(async () => {
    await gw.close();
    await until(() => processesWith(marker).length === 0, 'the children to exit');
  });

  test('starts one child as the probe once the interval has passed, refuses the others meanwhile, and doubles the interval when it fails', async () => {
    for (let attempt = 0; attempt < 2; attempt++) assert.match((await initialize(url())).message!, /exited with code 1/);
    const refused = await initialize(url());
    assert.deepEqual([refused.status, refused.code], [502, 'upstream_unavailable']);
    assert.match(refused.message!, /keeps stopping before it answers; the gateway will start it again in 1 s/);
    assert.equal(failedStarts(), 2, 'no child was started for the refused request');
    assert.deepEqual(await upstreamStatus(gw, 'gated'), {
      backoff: { state: 'backingOff', consecutiveFailures: 2, retryInSeconds: 1, intervalSeconds: 1, lastError: 'exited with code 1' },
    });

    steer('hold');
    clock.advance(1000);
    const probe = initialize(url());
    await until(() => processesWith(marker).length === 1, 'the probe child to start');
    const meanwhile = await initialize(url());
    assert.deepEqual([meanwhile.status, meanwhile.code], [502, 'upstream_unavailable']);
    // The next may go once the probe settles: said so, not as an interval's end (was "again in 1 s" for up to backoff.max).
    assert.match(meanwhile.message!, /keeps stopping before it answers; one new server process is trying it now; retry in 1 s/);
    assert.equal((await upstreamStatus(gw, 'gated')).backoff.state, 'probing');
    assert.match(
      await (await fetch(`${gw.url}/`)).text(),
      /probing: one new server process is trying it \(interval 1 s\) · 2 consecutive failures/,
    );
    assert.equal(processesWith(marker).length, 1, 'one child: the probe');

    steer('exit');
    assert.match((await probe).message!, /exited with code 1/);
    assert.deepEqual(await upstreamStatus(gw, 'gated'), {
      backoff: { state: 'backingOff', consecutiveFailures: 3, retryInSeconds: 2, intervalSeconds: 2, lastError: 'exited with code 1' },
    });
    assert.equal(failedStarts(), 3);
  });

  test('holds the probe until its child answers a call, not just initialize, then serves everyone again', async () => {
    steer('serve');
    clock.advance(2000);
    const client = await connect(url(), 'legacy');
    // A child that answers initialize and then crashes on every call is failing all the same.
    assert.equal((await upstreamStatus(gw, 'gated')).backoff.state, 'probing');
    assert.match((await initialize(url())).message!, /keeps stopping before it answers/);
    assert.ok((await call(client, 'pid')).pid);
    assert.deepEqual(await upstreamStatus(gw, 'gated'), {
      backoff: { state: 'ok', consecutiveFailures: 0, lastError: 'exited with code 1' },
    });
    const other = await connect(url(), 'legacy');
    assert.notEqual((await call(other, 'pid')).pid, (await call(client, 'pid')).pid);
    const page = await (await fetch(`${gw.url}/`)).text();
    assert.match(page, /<dt>Server health<\/dt><dd><span>ok · 0 consecutive failures · last error exited with code 1<\/span><\/dd>/);
    await Promise.all([client.close(), other.close()]);
  });
});

describe("the status page's listing of a command route's tools", () => {
  /** The route's tools as /status.json lists them, or why it could not. */
  async function listed(gw: InProcessGateway, route: string): Promise<{ tools: string[]; toolsError?: string }> {
    const status = (await (await fetch(`${gw.url}/status.json`)).json()) as {
      routes: Array<{ name: string; tools: Array<{ name: string }>; toolsError?: string }>;
    };
    const { tools, toolsError } = status.routes.find((r) => r.name === route)!;
    return { tools: tools.map((t) => t.name), ...(toolsError === undefined ? {} : { toolsError }) };
  }

  test('shows why it failed, lists again a while later (not on every read), and then shows the tools', async () => {
    const marker = `gated-status-${randomUUID()}`;
    const mode = path.join(tempDir('gated'), 'mode');
    writeFileSync(mode, 'exit');
    const clock = fakeClock();
    const gw = await startInProcessGateway(
      `servers:\n  gated:\n    command: ${process.execPath}\n    args: [${JSON.stringify(GATED)}, ${JSON.stringify(mode)}, ${JSON.stringify(marker)}]\n`,
      { now: clock.now },
    );
    const starts = () => gw.logs.filter((line) => line.msg === 'server process failed to start').length;
    try {
      const failed = await listed(gw, 'gated');
      assert.deepEqual(failed.tools, []);
      assert.match(failed.toolsError!, /exited with code 1/);
      assert.equal(starts(), 1);
      writeFileSync(mode, 'serve');
      // Within the while: the failure is shown again, and no process is started for it.
      clock.advance(TOOLS_RETRY_MS - 1);
      assert.match((await listed(gw, 'gated')).toolsError!, /exited with code 1/);
      assert.equal(starts(), 1);
      clock.advance(1);
      const recovered = await listed(gw, 'gated');
      assert.equal(recovered.toolsError, undefined);
      assert.ok(recovered.tools.includes('pid'), recovered.tools.join(', '));
    } finally {
      await gw.close();
    }
    await until(() => processesWith(marker).length === 0, 'the children to exit');
  });

  test("lists a shared child's tools anew once the child says they changed", async () => {
    const marker = `probe-status-${randomUUID()}`;
    const gw = await startInProcessGateway(
      `servers:\n  probe:\n    command: node\n    args: [${JSON.stringify(PROBE)}, ${JSON.stringify(marker)}]\n    isolation: shared\n`,
    );
    try {
      assert.equal((await listed(gw, 'probe')).tools.includes('grown-1'), false);
      const client = await connect(`${gw.url}/mcp/probe`, 'legacy');
      assert.deepEqual(await call(client, 'grow'), { added: 'grown-1' });
      let tools: string[] = [];
      for (let i = 0; i < 200 && !tools.includes('grown-1'); i++) {
        tools = (await listed(gw, 'probe')).tools;
        if (!tools.includes('grown-1')) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.ok(tools.includes('grown-1'), tools.join(', '));
      await client.close();
    } finally {
      await gw.close();
    }
    await until(() => processesWith(marker).length === 0, 'the children to exit');
  });
});

describe('a command route whose probe child is first asked by a 2026-07-28 server/discover', () => {
  test('counts the tool listing that discover makes upstream as the answer: the route is ok again, and other callers get children', async () => {
    const marker = `gated-discover-${randomUUID()}`;
    const dir = tempDir('gated');
    const mode = path.join(dir, 'mode');
    writeFileSync(mode, 'exit');
    const clock = fakeClock();
    const gw = await startInProcessGateway(
      `servers:\n  gated:\n    command: ${process.execPath}\n    args: [${JSON.stringify(GATED)}, ${JSON.stringify(mode)}, ${JSON.stringify(marker)}]\n`,
      { now: clock.now },
    );
    const url = `${gw.url}/mcp/gated`;
    try {
      for (let attempt = 0; attempt < 2; attempt++) assert.match((await initialize(url)).message!, /exited with code 1/);
      assert.match((await initialize(url)).message!, /keeps stopping before it answers; the gateway will start it again in 1 s/);

      writeFileSync(path.join(dir, 'next'), 'serve');
      renameSync(path.join(dir, 'next'), mode);
      clock.advance(1000);
      // The SDK's 2026-07-28 client connects with server/discover alone: the gateway answers it
      // from the probe child's handshake, after listing its tools (tool-index.ts).
      const modern = await connect(url, 'auto');
      assert.equal(modern.getNegotiatedProtocolVersion(), '2026-07-28');
      assert.equal(processesWith(marker).length, 1, 'the probe child');
      // No longer refused as while a probe is under way: a 2025 session gets a child of its own.
      const other = await connect(url, 'legacy');
      assert.equal(processesWith(marker).length, 2);
      assert.deepEqual(await upstreamStatus(gw, 'gated'), {
        backoff: { state: 'ok', consecutiveFailures: 0, lastError: 'exited with code 1' },
      });
      await Promise.all([modern.close(), other.close()]);
    } finally {
      await gw.close();
      await until(() => processesWith(marker).length === 0, 'the children to exit');
    }
  });
});

describe('resuming a command-route session on another instance', () => {
  test('a second instance starts a new child for the session, initialized from the id', async () => {
    const marker = `resume-${randomUUID()}`;
    const keyring = createSessionKeyring(randomBytes(32));
    const yaml = `servers:\n${probeRoute('probe', marker)}`;
    const [a, b] = await Promise.all([startInProcessGateway(yaml, { keyring }), startInProcessGateway(yaml, { keyring })]);
    try {
      const transport = new StreamableHTTPClientTransport(new URL(`${a.url}/mcp/probe`));
      const client = new Client({ name: 'mover', version: '1.0.0' });
      await client.connect(transport);
      const onA = await call(client, 'pid');
      const sessionId = transport.sessionId!;
      const onB = new StreamableHTTPClientTransport(new URL(`${b.url}/mcp/probe`), { sessionId });
      const moved = new Client({ name: 'mover', version: '1.0.0' });
      await moved.connect(onB);
      const there = await call(moved, 'pid');
      assert.notEqual(there.pid, onA.pid);
      assert.ok(b.logs.some((line) => line.msg === 'session resumed' && line.route === 'probe'));
      await Promise.all([client.close(), moved.close()]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
    await until(() => processesWith(marker).length === 0, 'the children to exit');
  });
});

/** A v1-SDK Streamable HTTP server with sessions, as many remote MCP servers are; `forget()` drops them all. */
interface V1HttpServer {
  url: string;
  forget(): void;
  sessions(): number;
  /**
   * While not `none`, every POST gets a 503 instead of an MCP answer: at once, or (`hold`) once
   * {@link release} is called. {@link outaged} counts the POSTs that got one, held ones included.
   */
  outage(mode: 'none' | '503' | 'hold'): void;
  outaged(): number;
  held(): number;
  release(): void;
  close(): Promise<void>;
}

async function startV1HttpServer(): Promise<V1HttpServer> {
  const remote = await startV1Remote({
    register: (mcp) => {
      let count = 0;
      mcp.registerTool(
        'count',
        { description: 'Counts calls in this session', inputSchema: { by: z.number().default(1) } },
        async ({ by }) => ({
          content: [{ type: 'text', text: String((count += by)) }],
        }),
      );
    },
  });
  let outage: 'none' | '503' | 'hold' = 'none';
  let outaged = 0;
  let held: Array<() => void> = [];
  remote.intercept = async (req, res) => {
    if (outage === 'none' || req.method !== 'POST') return false;
    outaged++;
    if (outage === 'hold') await new Promise<void>((resolve) => held.push(resolve));
    res.writeHead(503, { 'content-type': 'text/plain' }).end('down for maintenance');
    return true;
  };
  return {
    url: remote.url,
    forget: () => remote.sessions.clear(),
    sessions: () => remote.sessions.size,
    outage: (mode) => void (outage = mode),
    outaged: () => outaged,
    held: () => held.length,
    release: () => {
      for (const resolve of held) resolve();
      held = [];
    },
    close: () => remote.close(),
  };
}

describe('url routes', () => {
  let upstreamGateway: InProcessGateway;
  let v1: Awaited<ReturnType<typeof startV1HttpServer>>;
  let gw: InProcessGateway;
  const keyring = createSessionKeyring(randomBytes(32));
  const yaml = () =>
    [
      'servers:',
      '  echo-remote:',
      `    url: ${upstreamGateway.url}/mcp/echo`,
      '    headers: { X-Test: "${REMOTE_HEADER}" }',
      '  v1:',
      `    url: ${v1.url}`,
      '',
    ].join('\n');
  before(async () => {
    upstreamGateway = await startInProcessGateway(`servers:\n  echo:\n    module: ${fixtureModule('echo')}\n`);
    v1 = await startV1HttpServer();
    gw = await startInProcessGateway(yaml(), { keyring, env: { REMOTE_HEADER: 'sent-upstream' } });
  });
  after(async () => {
    await gw.close();
    await Promise.all([upstreamGateway.close(), v1.close()]);
  });

  for (const era of ERAS) {
    test(`reach a second gateway, for a ${era === 'auto' ? '2026-07-28' : '2025'} client`, async () => {
      const client = await connect(`${gw.url}/mcp/echo-remote`, era);
      const { tools } = await client.listTools();
      const upstreamClient = await connect(`${upstreamGateway.url}/mcp/echo`, era);
      assert.deepEqual(tools, (await upstreamClient.listTools()).tools);
      const name = tools[0]!.name;
      const args = { text: 'hello' };
      const [through, direct] = await Promise.all([
        client.callTool({ name, arguments: args }).catch((e: Error) => e.message),
        upstreamClient.callTool({ name, arguments: args }).catch((e: Error) => e.message),
      ]);
      assert.deepEqual(stripMeta(through), stripMeta(direct));
      await Promise.all([client.close(), upstreamClient.close()]);
    });

    test(`reach a v1-SDK server with sessions, for a ${era === 'auto' ? '2026-07-28' : '2025'} client`, async () => {
      const client = await connect(`${gw.url}/mcp/v1`, era);
      assert.equal(client.getServerVersion()?.name, 'v1-remote');
      assert.equal(textOf(await client.callTool({ name: 'count', arguments: { by: 2 } })), '2');
      await client.close();
    });
  }

  test('a 2025 session keeps its upstream session across instances, and a forgotten one is replaced', async () => {
    const transport = new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp/v1`));
    const client = new Client({ name: 'counter', version: '1.0.0' });
    await client.connect(transport);
    assert.equal(textOf(await client.callTool({ name: 'count', arguments: {} })), '1');
    // Another instance with the same keys: the upstream session comes sealed in the id.
    const other = await startInProcessGateway(yaml(), { keyring, env: { REMOTE_HEADER: 'sent-upstream' } });
    try {
      const moved = new Client({ name: 'counter', version: '1.0.0' });
      await moved.connect(new StreamableHTTPClientTransport(new URL(`${other.url}/mcp/v1`), { sessionId: transport.sessionId! }));
      assert.equal(textOf(await moved.callTool({ name: 'count', arguments: {} })), '2', 'the same upstream session');
      v1.forget();
      assert.equal(textOf(await moved.callTool({ name: 'count', arguments: {} })), '1', 'a new upstream session');
      assert.ok(other.logs.some((line) => line.msg === 'the remote server forgot its session; the gateway opened a new one'));
      await moved.close();
    } finally {
      await other.close();
    }
    await client.close();
  });

  test('give every request to the remote server an abort signal of its own, and ending the session still ends its streams', async () => {
    // The SDK's transport would pass its one signal to every request of a 2025 connection, and
    // Node's fetch leaves a listener on it per request (MaxListenersExceededWarning after 1500).
    const sent = await requestsTo(upstreamGateway.url, async () => {
      for (const [era, calls] of [
        ['legacy', 300],
        ['auto', 50],
      ] as const) {
        const transport = new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp/echo-remote`));
        const client = new Client({ name: 'long-lived', version: '1.0.0' }, { versionNegotiation: { mode: era } });
        await client.connect(transport);
        const name = (await client.listTools()).tools[0]!.name;
        for (let i = 0; i < calls; i++) await client.callTool({ name, arguments: { text: String(i) } });
        await transport.terminateSession();
        await client.close();
      }
    });
    assert.ok(sent.length > 350, `${sent.length} requests`);
    assert.equal(new Set(sent.map((request) => request.signal)).size, sent.length, 'no two requests share a signal');
    // The 2025 session's upstream connection listened on a GET stream, closed with the session.
    const listen = sent.filter((request) => request.method === 'GET');
    assert.ok(listen.length >= 1);
    await until(() => listen.every((request) => request.signal.aborted), 'the listen stream to be aborted');
  });
});

/** A v1-SDK server that speaks only the 2024 HTTP+SSE protocol, with an echo tool. */
function startV1SseServer() {
  return startV1SseRemote({
    register: (mcp) =>
      mcp.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => ({ content: [{ type: 'text', text }] })),
  });
}

describe('a url route whose server speaks only HTTP+SSE', () => {
  test('falls back to it, gives each request its own abort signal, and ending the session ends the stream', async () => {
    const sse = await startV1SseServer();
    const gw = await startInProcessGateway(`servers:\n  old:\n    url: ${sse.url}\n`);
    try {
      const sent = await requestsTo(sse.url.replace(/\/sse$/, ''), async () => {
        for (const era of ERAS) {
          const transport = new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp/old`));
          const client = new Client({ name: 'sse-test', version: '1.0.0' }, { versionNegotiation: { mode: era } });
          await client.connect(transport);
          for (let i = 0; i < 20; i++)
            assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: `${era} ${i}` } })), `${era} ${i}`);
          await transport.terminateSession();
          await client.close();
        }
      });
      assert.ok(gw.logs.some((line) => line.msg === 'the remote server refused Streamable HTTP; using HTTP+SSE'));
      const posts = sent.filter((request) => request.method === 'POST' && request.url.includes('/messages'));
      assert.ok(posts.length >= 40, `${posts.length} POSTs`);
      assert.equal(new Set(sent.map((request) => request.signal)).size, sent.length, 'no two requests share a signal');
      // The 2025 session's own connection (its event stream) is closed with the session; the 2026-07-28 one is the route's.
      await until(() => sse.streams() === 1, 'the 2025 session stream to close');
    } finally {
      await gw.close();
      await sse.close();
    }
  });
});

/** The requests `run` made (through the global fetch, as the gateway's url routes do) to URLs under `prefix`. */
async function requestsTo(prefix: string, run: () => Promise<void>): Promise<Array<{ url: string; method: string; signal: AbortSignal }>> {
  const sent: Array<{ url: string; method: string; signal: AbortSignal }> = [];
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => warnings.push(warning);
  const original = globalThis.fetch;
  globalThis.fetch = (input, init) => {
    const url = String(input);
    if (url.startsWith(prefix) && init?.signal) sent.push({ url, method: init.method ?? 'GET', signal: init.signal });
    return original(input, init);
  };
  process.on('warning', onWarning);
  try {
    await run();
  } finally {
    globalThis.fetch = original;
    process.off('warning', onWarning);
  }
  assert.deepEqual(
    warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning'),
    [],
  );
  return sent;
}

describe('a url route whose server goes down', () => {
  test('fails calls fast and clearly, retries a list once, and leaves the server alone for a while', async () => {
    const v1 = await startV1HttpServer();
    const gw = await startInProcessGateway(`servers:\n  flaky:\n    url: ${v1.url}\n`);
    try {
      const client = await connect(`${gw.url}/mcp/flaky`, 'legacy');
      assert.equal(textOf(await client.callTool({ name: 'count', arguments: {} })), '1');
      await v1.close();
      // tools/list changes nothing: sent twice (both fail), which starts the backoff.
      await assert.rejects(client.listTools(), (error: unknown) => {
        assert.equal(((error as ProtocolError).data as { code: string }).code, 'upstream_unavailable');
        assert.match((error as Error).message, /the remote server of route "flaky" failed/);
        return true;
      });
      await assert.rejects(client.callTool({ name: 'count', arguments: {} }), (error: unknown) => {
        assert.match((error as Error).message, /backing off after repeated failures\); the gateway will try it again in \d+ s/);
        return true;
      });
      const status = (await (await fetch(`${gw.url}/status.json`)).json()) as {
        routes: Array<{ upstream: { backoff: BackoffState } }>;
      };
      assert.ok(status.routes[0]!.upstream.backoff.retryInSeconds! >= 1);
      await client.close();
    } finally {
      await gw.close();
    }
  });
});

describe('a url route whose server keeps failing', () => {
  test('lets one request through as the probe once the interval has passed, refuses the others meanwhile, and resets on its answer', async () => {
    const clock = fakeClock();
    const v1 = await startV1HttpServer();
    const gw = await startInProcessGateway(`servers:\n  flaky:\n    url: ${v1.url}\n`, { now: clock.now });
    const count = { name: 'count', arguments: {} };
    const backingOff = /is unavailable \(backing off after repeated failures\); the gateway will try it again in 1 s/;
    try {
      const client = await connect(`${gw.url}/mcp/flaky`, 'legacy');
      assert.equal(textOf(await client.callTool(count)), '1');
      v1.outage('503');
      // tools/call changes something: not sent again, so two calls are two failures in a row.
      for (let attempt = 0; attempt < 2; attempt++) {
        await assert.rejects(
          client.callTool(count),
          /the remote server of route "flaky" failed: Error POSTing to endpoint: down for maintenance/,
        );
      }
      await assert.rejects(client.callTool(count), backingOff);
      assert.equal(v1.outaged(), 2, 'the refused call never reached the server');
      assert.deepEqual(await upstreamStatus(gw, 'flaky'), {
        backoff: { state: 'backingOff', consecutiveFailures: 2, retryInSeconds: 1, intervalSeconds: 1, lastError: '503' },
      });

      v1.outage('hold');
      clock.advance(1000);
      const probe = client.callTool(count);
      await until(() => v1.held() === 1, 'the probe to reach the server');
      const probing = /is unavailable \(backing off after repeated failures\); one request is trying it now; retry in 1 s/;
      await assert.rejects(client.callTool(count), probing);
      await assert.rejects(client.listTools(), probing);
      assert.equal((await upstreamStatus(gw, 'flaky')).backoff.state, 'probing');
      assert.equal(v1.outaged(), 3, 'only the probe reached the server');
      v1.release();
      await assert.rejects(probe, /the remote server of route "flaky" failed/);
      assert.deepEqual(await upstreamStatus(gw, 'flaky'), {
        backoff: { state: 'backingOff', consecutiveFailures: 3, retryInSeconds: 2, intervalSeconds: 2, lastError: '503' },
      });

      v1.outage('none');
      clock.advance(2000);
      assert.equal(textOf(await client.callTool(count)), '2');
      assert.deepEqual(await upstreamStatus(gw, 'flaky'), { backoff: { state: 'ok', consecutiveFailures: 0, lastError: '503' } });
      await client.close();
    } finally {
      await gw.close();
      await v1.close();
    }
  });

  test('lets the tool listing a 2026-07-28 request makes upstream go as the probe, and resets the route on its answer', async () => {
    const clock = fakeClock();
    const v1 = await startV1HttpServer();
    const gw = await startInProcessGateway(`servers:\n  flaky:\n    url: ${v1.url}\n`, { now: clock.now });
    const url = `${gw.url}/mcp/flaky`;
    try {
      v1.outage('503');
      for (let attempt = 0; attempt < 2; attempt++) assert.equal((await initialize(url)).code, 'upstream_unavailable');
      assert.match((await initialize(url)).message!, /backing off after repeated failures/);
      assert.equal(v1.outaged(), 2, 'the refused initialize never reached the server');

      v1.outage('none');
      clock.advance(1000);
      // server/discover alone: the gateway opens a connection (which gives its turn back once
      // open: requests say whether a remote answers) and lists the tools, as the probe.
      const modern = await connect(url, 'auto');
      assert.equal(modern.getNegotiatedProtocolVersion(), '2026-07-28');
      // Read in process: /status.json would list the tools itself, a request of its own.
      assert.deepEqual(gw.gateway.routes.get('flaky')!.upstream()!.backoff, { state: 'ok', consecutiveFailures: 0, lastError: '503' });
      await modern.close();
    } finally {
      await gw.close();
      await v1.close();
    }
  });
});

function stripMeta(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const { _meta, ...rest } = value as Record<string, unknown>;
  void _meta;
  return rest;
}
