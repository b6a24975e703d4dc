/**
 * The gateway as an Azure Functions custom handler: built, started from host.json by the
 * emulated Functions host (test/helpers/functions-host.ts), and driven through it by the SDK's
 * Client with a function key, a `command:` route (a stdio server from npm) included. Then the
 * deployment package as azd's prepackage hook stages it (`npm run stage`: what .funcignore keeps
 * of the build, and `npm ci --omit=dev`) must hold no devDependency, and start and serve too.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { stageDeployment } from '../../scripts/stage-deployment.js';
import { startFunctionsHost, type FunctionsHost } from '../helpers/functions-host.js';
import { processesWith } from '../helpers/processes.js';
import { tempDir } from '../helpers/temp-dir.js';

const run = promisify(execFile);
const ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));
const KEY = randomBytes(24).toString('base64url');
const BUILD_TIMEOUT = 180_000;
const INSTALL_TIMEOUT = 300_000;
const PROTOCOL_VERSION = '2025-06-18';

function findRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${start}`);
  }
}

/** App settings as Azure would set them; NWS points nowhere (port 9, discard): no internet in tests. */
function appSettings(): NodeJS.ProcessEnv {
  return {
    GATEWAY_SESSION_SECRET: randomBytes(32).toString('base64'),
    LOG_LEVEL: 'warn',
    NWS_BASE_URL: 'http://127.0.0.1:9',
    AzureWebJobsFeatureFlags: 'EnableMcpCustomHandlerPreview',
  };
}

async function npm(args: string[], cwd: string, timeout: number): Promise<void> {
  try {
    await run('npm', args, { cwd, timeout, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`npm ${args.join(' ')} failed in ${cwd}\n${stderr ?? ''}\n${stdout ?? ''}`, { cause: error });
  }
}

type Negotiation = 'legacy' | 'auto' | { pin: string };

function connect(host: FunctionsHost, route: string, how: 'header' | 'code' = 'header', mode: Negotiation = 'legacy') {
  const url = new URL(`/mcp/${route}`, host.url);
  if (how === 'code') url.searchParams.set('code', KEY);
  const transport = new StreamableHTTPClientTransport(url, {
    requestInit: how === 'header' ? { headers: { 'x-functions-key': KEY } } : {},
  });
  const client = new Client({ name: 'functions-host-e2e', version: '1.0.0' }, { versionNegotiation: { mode } });
  return { client, transport };
}

describe('gateway under the emulated Functions host', { timeout: BUILD_TIMEOUT + 120_000 }, () => {
  let host: FunctionsHost;

  before(async () => {
    await npm(['run', 'build'], ROOT, BUILD_TIMEOUT);
    host = await startFunctionsHost({ appRoot: ROOT, functionKeys: [KEY], env: appSettings() });
  });
  after(async () => {
    await host?.stop();
  });

  it('serves /mcp/time through the host with the key in x-functions-key, and ends the session', async () => {
    const { client, transport } = connect(host, 'time');
    await client.connect(transport);
    try {
      assert.ok(transport.sessionId, 'a stateful route issues a session id');
      const { tools } = await client.listTools();
      assert.ok(tools.some((tool) => tool.name === 'get_current_time'));
      const result = await client.callTool({ name: 'get_current_time', arguments: { timezone: 'UTC' } });
      assert.notEqual(result.isError, true);
      assert.match(JSON.stringify(result.content), /UTC/);
      // DELETE through the host; the SDK throws when the answer is neither 2xx nor 405.
      await transport.terminateSession();
      assert.equal(transport.sessionId, undefined);
    } finally {
      await client.close();
    }
  });

  it('serves a 2026-07-28 client through the host, with no session', async () => {
    const { client, transport } = connect(host, 'time', 'header', { pin: '2026-07-28' });
    await client.connect(transport);
    try {
      assert.equal(client.getNegotiatedProtocolVersion(), '2026-07-28');
      assert.equal(transport.sessionId, undefined);
      const result = await client.callTool({ name: 'get_current_time', arguments: { timezone: 'UTC' } });
      assert.match(JSON.stringify(result.content), /UTC/);
    } finally {
      await client.close();
    }
  });

  it('streams the GET event stream of a session through the host', async () => {
    // By hand: the SDK client opens its own GET stream, and a session has only one.
    const post = (body: unknown, sessionId?: string) =>
      fetch(new URL('/mcp/time', host.url), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'x-functions-key': KEY,
          ...(sessionId ? { 'mcp-session-id': sessionId, 'mcp-protocol-version': PROTOCOL_VERSION } : {}),
        },
        body: JSON.stringify(body),
      });
    const initialized = await post({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    });
    assert.equal(initialized.status, 200);
    await initialized.text();
    const sessionId = initialized.headers.get('mcp-session-id');
    assert.ok(sessionId);
    const notified = await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, sessionId);
    await notified.text();
    assert.equal(notified.status, 202);

    const sessionHeaders = { 'mcp-session-id': sessionId, 'mcp-protocol-version': PROTOCOL_VERSION, 'x-functions-key': KEY };
    const controller = new AbortController();
    const stream = await fetch(new URL('/mcp/time', host.url), {
      headers: { accept: 'text/event-stream', ...sessionHeaders },
      signal: controller.signal,
    });
    try {
      assert.equal(stream.status, 200);
      assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
    } finally {
      controller.abort();
      await stream.body?.cancel().catch(() => {});
    }

    const deleted = await fetch(new URL('/mcp/time', host.url), { method: 'DELETE', headers: sessionHeaders });
    await deleted.text();
    assert.equal(deleted.status, 200);
  });

  it('refuses a request without a function key with 401', async () => {
    const res = await fetch(new URL('/mcp/time', host.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'x', version: '1' } },
      }),
    });
    await res.body?.cancel();
    assert.equal(res.status, 401);
  });

  it('accepts the key as ?code= (how some clients can only pass it)', async () => {
    const { client, transport } = connect(host, 'time', 'code');
    await client.connect(transport);
    try {
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t) => t.name).sort(), ['convert_time', 'get_current_time']);
    } finally {
      await client.close();
    }
  });

  it('serves /mcp/weather too', async () => {
    const { client, transport } = connect(host, 'weather');
    await client.connect(transport);
    try {
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t) => t.name).sort(), ['get_alerts', 'get_forecast', 'get_hourly_forecast']);
    } finally {
      await client.close();
    }
  });

  it("has the status page's ways to connect send the function key in Azure (WEBSITE_HOSTNAME set, level function), and not under func start, which checks none", async () => {
    /** The status page's `.vscode/mcp.json` entry and Inspector command for /mcp/time, read through `through`. */
    const snippets = async (through: FunctionsHost) => {
      const page = await (await fetch(new URL('/', through.url), { headers: { 'x-functions-key': KEY } })).text();
      const pre = (id: string) =>
        (new RegExp(`<pre id="${id}" data-copy>([^<]*)</pre>`).exec(page)?.[1] ?? '')
          .replaceAll('&quot;', '"')
          .replaceAll('&lt;', '<')
          .replaceAll('&gt;', '>')
          .replaceAll('&#39;', "'")
          .replaceAll('&amp;', '&');
      return { mcpJson: JSON.parse(pre('mcp-json-time')), inspector: pre('inspector-time') };
    };
    const local = await snippets(host);
    assert.equal(local.mcpJson.servers.time.headers, undefined);
    assert.doesNotMatch(local.inspector, /x-functions-key/);

    const azure = await startFunctionsHost({
      appRoot: ROOT,
      functionKeys: [KEY],
      env: { ...appSettings(), WEBSITE_HOSTNAME: '127.0.0.1' },
    });
    try {
      const { mcpJson, inspector } = await snippets(azure);
      assert.deepEqual(mcpJson.servers.time.headers, { 'x-functions-key': '${input:functions-key}' });
      assert.deepEqual(
        mcpJson.inputs.map((i: { id: string; password?: boolean }) => [i.id, i.password]),
        [['functions-key', true]],
      );
      assert.match(inspector, / --header "x-functions-key: <function key>"$/);
    } finally {
      await azure.stop();
    }
  });

  describe('a command route (server-everything from npm, over stdio)', () => {
    /** An argument server-everything ignores (it reads only the first), by which the test finds its processes. */
    const marker = `functions-host-${randomUUID()}`;
    let stdioHost: FunctionsHost;

    before(async () => {
      // The app's gateway.yaml as a deployment would write it, chosen by the GATEWAY_CONFIG app setting.
      const dir = tempDir('functions-host-command');
      const config = path.join(dir, 'gateway.yaml');
      await writeFile(
        config,
        [
          'servers:',
          '  everything:',
          '    command: node',
          `    args: [node_modules/@modelcontextprotocol/server-everything/dist/index.js, stdio, ${marker}]`,
          `    cwd: ${JSON.stringify(ROOT)}`,
          '',
        ].join('\n'),
      );
      stdioHost = await startFunctionsHost({ appRoot: ROOT, functionKeys: [KEY], env: { ...appSettings(), GATEWAY_CONFIG: config } });
    });
    after(async () => {
      await stdioHost?.stop();
    });

    for (const mode of ['legacy', 'auto'] as const) {
      it(`serves its tools through the host to a ${mode === 'auto' ? '2026-07-28' : '2025'} client, from a child process`, async () => {
        const { client, transport } = connect(stdioHost, 'everything', 'header', mode);
        await client.connect(transport);
        try {
          assert.equal(client.getNegotiatedProtocolVersion()! >= '2026-07-28', mode === 'auto');
          assert.equal(transport.sessionId !== undefined, mode === 'legacy');
          assert.equal(client.getServerVersion()?.name, 'mcp-servers/everything');
          const { tools } = await client.listTools();
          assert.ok(tools.some((tool) => tool.name === 'echo'));
          const result = await client.callTool({ name: 'echo', arguments: { message: 'through the Functions host' } });
          assert.deepEqual(result.content, [{ type: 'text', text: 'Echo: through the Functions host' }]);
          assert.ok(processesWith(marker).length >= 1, 'the server runs as a child process');
        } finally {
          await client.close();
        }
      });
    }

    it('leaves no child process behind when the host stops the handler (SIGTERM, as scale-in does)', async () => {
      // A 2025 session with its own child, and the child 2026-07-28 requests from this caller share, both live.
      const session = connect(stdioHost, 'everything', 'header', 'legacy');
      await session.client.connect(session.transport);
      await session.client.callTool({ name: 'echo', arguments: { message: 'still here' } });
      const modern = connect(stdioHost, 'everything', 'header', 'auto');
      await modern.client.connect(modern.transport);
      await modern.client.callTool({ name: 'echo', arguments: { message: 'still here' } });
      try {
        assert.ok(processesWith(marker).length >= 2, `children before the stop: ${processesWith(marker).length}`);
        await stdioHost.stop();
        assert.equal(stdioHost.child.exitCode, 0, `the handler exits 0 after its drain:\n${stdioHost.output().stdout}`);
        assert.deepEqual(processesWith(marker), [], 'no child of the route outlives the handler');
      } finally {
        await Promise.all([session.client.close(), modern.client.close()]);
      }
    });
  });
});

describe('deployment package (npm run stage) with production dependencies only', { timeout: INSTALL_TIMEOUT + 60_000 }, () => {
  let appRoot: string;
  let host: FunctionsHost | undefined;

  before(async () => {
    appRoot = path.join(await mkdtemp(path.join(os.tmpdir(), 'mcp-gateway-package-')), 'app');
    // What azd's prepackage hook does after `npm run build` (the tests run from that build).
    await stageDeployment(ROOT, appRoot, { npmArgs: ['--prefer-offline'], timeout: INSTALL_TIMEOUT });
  });
  after(async () => {
    await host?.stop();
    await rm(path.dirname(appRoot), { recursive: true, force: true });
  });

  it('holds the build and the dependencies of package.json, no sources, tests or devDependencies', async () => {
    const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    for (const file of ['host.json', 'gateway.yaml', 'package.json', 'dist/src/gateway/main.js', 'dist/servers/time/index.js']) {
      assert.ok(existsSync(path.join(appRoot, file)), `${file} is in the package`);
    }
    for (const file of ['src', 'servers', 'test', 'dist/test', 'tsconfig.json', '.funcignore', 'local.settings.json']) {
      assert.ok(!existsSync(path.join(appRoot, file)), `${file} is not in the package`);
    }
    for (const name of Object.keys(pkg.dependencies)) {
      assert.ok(existsSync(path.join(appRoot, 'node_modules', name, 'package.json')), `dependency ${name} is installed`);
    }
    const lock = JSON.parse(await readFile(path.join(appRoot, 'node_modules', '.package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const dev = Object.entries(lock.packages)
      .filter(([, entry]) => entry.dev)
      .map(([name]) => name);
    assert.deepEqual(dev, [], 'npm installed no package that only devDependencies need');
    for (const name of Object.keys(pkg.devDependencies).filter((name) => !(name in pkg.dependencies))) {
      const installed = existsSync(path.join(appRoot, 'node_modules', name, 'package.json'));
      // A devDependency can still be installed as a dependency of a dependency (not dev in the lock).
      if (installed) assert.equal(lock.packages[`node_modules/${name}`]?.dev, undefined, `${name} is there for a dependency`);
    }
    for (const name of ['typescript', 'tsx', 'playwright-core', '@modelcontextprotocol/conformance', 'supergateway', 'autocannon']) {
      assert.ok(!existsSync(path.join(appRoot, 'node_modules', name)), `${name} is not installed`);
    }
  });

  it('starts from host.json and serves /mcp/time', async () => {
    host = await startFunctionsHost({ appRoot, functionKeys: [KEY], env: appSettings() });
    const { client, transport } = connect(host, 'time');
    await client.connect(transport);
    try {
      const { tools } = await client.listTools();
      assert.ok(tools.some((tool) => tool.name === 'get_current_time'));
    } finally {
      await client.close();
    }
  });
});
