/**
 * Real MCP client programs against the real gateway process, on every route:
 * - the MCP Inspector CLI (`@modelcontextprotocol/inspector-cli`, v1, runs on Node 20):
 *   `--method tools/list` and `--method tools/call`;
 * - `mcp-remote`, the stdio bridge desktop clients (Claude Desktop, Cursor) use for remote
 *   servers: driven over its stdin and stdout with JSON-RPC lines, as such a client would.
 * Everything talks to 127.0.0.1; mcp-remote's config folder is a temporary directory, and it gets
 * no browser to open (PATH holds only node), though our routes never ask for OAuth.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startFakeNws, type FakeNws } from '../helpers/fake-nws.js';
import { fixtureModule, shippedModule, startGatewayProcess, type GatewayProcess } from '../helpers/gateway.js';
import { PROJECT_ROOT } from '../helpers/project.js';

const run = promisify(execFile);

const INSPECTOR_BUILD = path.join(PROJECT_ROOT, 'node_modules', '@modelcontextprotocol', 'inspector-cli', 'build');
const MCP_REMOTE = path.join(PROJECT_ROOT, 'node_modules', 'mcp-remote', 'dist', 'proxy.js');
/** One client program run, or one answer from mcp-remote, never takes longer than this. */
const CLIENT_TIMEOUT_MS = 20_000;

interface CallResult {
  content?: Array<{ type: string; text?: string }>;
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}

/** Per route: one tool call and what its answer must say. */
const CALLS: Record<string, { tool: string; args: Record<string, string | number>; check(result: CallResult): void }> = {
  weather: {
    tool: 'get_alerts',
    args: { state: 'MA' },
    // The fake NWS has six active alerts for MA (test/fixtures/nws/alerts_active_MA.json).
    check: (result) => assert.equal(result.structuredContent?.count, 6, JSON.stringify(result)),
  },
  time: {
    tool: 'get_current_time',
    args: { timezone: 'Europe/Paris' },
    check: (result) => assert.equal(result.structuredContent?.timezone, 'Europe/Paris', JSON.stringify(result)),
  },
  conformance: {
    tool: 'test_simple_text',
    args: {},
    check: (result) => assert.equal(result.content?.[0]?.text, 'This is a simple text response for testing.'),
  },
  'conformance-stateless': {
    tool: 'test_multiple_content_types',
    args: {},
    check: (result) =>
      assert.deepEqual(
        result.content?.map((c) => c.type),
        ['text', 'image', 'resource'],
      ),
  },
};
const ROUTES = Object.keys(CALLS);

const gatewayYaml = `
servers:
  weather:
    module: ${shippedModule('weather')}
    options:
      userAgent: "mcp-gateway client test (test@example.com)"
  time:
    module: ${shippedModule('time')}
  conformance:
    module: ${fixtureModule('conformance')}
  conformance-stateless:
    module: ${fixtureModule('conformance')}
    sessions: stateless
`;

describe('real MCP clients through the gateway', () => {
  let nws: FakeNws;
  let gw: GatewayProcess;
  /** Tool names per route as the gateway's status page lists them. */
  const toolNames = new Map<string, string[]>();

  before(async () => {
    nws = await startFakeNws();
    gw = await startGatewayProcess(gatewayYaml, { NWS_BASE_URL: nws.url });
    const status = (await (await fetch(`${gw.url}/status.json`)).json()) as {
      routes: Array<{ name: string; tools: Array<{ name: string }> }>;
    };
    for (const route of status.routes) toolNames.set(route.name, route.tools.map((t) => t.name).sort());
  });

  after(async () => {
    await gw?.stop();
    await nws?.close();
  });

  describe('MCP Inspector CLI', () => {
    for (const route of ROUTES) {
      it(`lists and calls tools on /mcp/${route}`, async () => {
        const url = `${gw.url}/mcp/${route}`;
        const listed = (await inspector(url, '--method', 'tools/list')) as { tools: Array<{ name: string }> };
        assert.deepEqual(listed.tools.map((t) => t.name).sort(), toolNames.get(route));

        const { tool, args, check } = CALLS[route]!;
        const toolArgs = Object.entries(args).flatMap(([key, value]) => ['--tool-arg', `${key}=${value}`]);
        check((await inspector(url, '--method', 'tools/call', '--tool-name', tool, ...toolArgs)) as CallResult);
      });
    }
  });

  describe('mcp-remote (stdio bridge)', () => {
    for (const route of ROUTES) {
      it(`initializes, lists and calls tools on /mcp/${route} over stdio`, async () => {
        const bridge = startMcpRemote(`${gw.url}/mcp/${route}`);
        try {
          const init = (await bridge.request('initialize', {
            protocolVersion: '2025-06-18',
            capabilities: {},
            clientInfo: { name: 'gateway-clients-test', version: '1.0.0' },
          })) as { protocolVersion: string; serverInfo: { name: string } };
          assert.equal(init.protocolVersion, '2025-06-18');
          bridge.notify('notifications/initialized');

          const listed = (await bridge.request('tools/list', {})) as { tools: Array<{ name: string }> };
          assert.deepEqual(listed.tools.map((t) => t.name).sort(), toolNames.get(route));

          const { tool, args, check } = CALLS[route]!;
          check((await bridge.request('tools/call', { name: tool, arguments: args })) as CallResult);
        } finally {
          await bridge.close();
        }
        assert.doesNotMatch(
          bridge.stderr(),
          /Authentication required|open the browser|Browser launch/i,
          'mcp-remote never started an OAuth flow',
        );
      });
    }

    it('never reached the OAuth endpoints a flow would use', () => {
      // Discovery probes (GET /.well-known/…, answered 404) are how mcp-remote learns there is no auth.
      const paths = gw.stdout.flatMap((line) => {
        const path = (JSON.parse(line) as { http?: { path?: string } }).http?.path;
        return path ? [path] : [];
      });
      assert.ok(paths.some((p) => p.startsWith('/mcp/')));
      assert.deepEqual(
        paths.filter((p) => /\/(authorize|register|token)$/.test(p)),
        [],
      );
    });
  });
});

/** Runs the Inspector CLI once and parses the JSON it prints. */
async function inspector(url: string, ...args: string[]): Promise<unknown> {
  // The CLI finds its own package.json relative to the working directory: run it from its build folder.
  const { stdout } = await run(process.execPath, [path.join(INSPECTOR_BUILD, 'index.js'), url, '--transport', 'http', ...args], {
    cwd: INSPECTOR_BUILD,
    env: { PATH: path.dirname(process.execPath) },
    timeout: CLIENT_TIMEOUT_MS,
  });
  return JSON.parse(stdout);
}

interface StdioBridge {
  request(method: string, params: unknown): Promise<unknown>;
  notify(method: string, params?: unknown): void;
  stderr(): string;
  /** Closes its stdin, as a desktop client does on exit, and waits for it to end. */
  close(): Promise<void>;
}

function startMcpRemote(url: string): StdioBridge {
  const configDir = mkdtempSync(path.join(tmpdir(), 'mcp-remote-'));
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [MCP_REMOTE, url], {
    // Only node on PATH: no xdg-open, so no browser could open even if a server asked for OAuth.
    env: { PATH: path.dirname(process.execPath), HOME: configDir, MCP_REMOTE_CONFIG_DIR: configDir },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pending = new Map<number, { resolve(result: unknown): void; reject(error: Error): void }>();
  createInterface({ input: child.stdout }).on('line', (line) => {
    const message = JSON.parse(line) as { id?: number; result?: unknown; error?: { message: string } };
    const waiter = message.id === undefined ? undefined : pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id!);
    if (message.error) waiter.reject(new Error(`${message.error.message}\n${stderr}`));
    else waiter.resolve(message.result);
  });
  void exited.then(() => {
    for (const waiter of pending.values()) waiter.reject(new Error(`mcp-remote exited:\n${stderr}`));
  });
  let nextId = 1;
  const send = (message: object) => child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', ...message })}\n`);

  return {
    request(method, params) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no answer to ${method} in ${CLIENT_TIMEOUT_MS / 1000} s:\n${stderr}`)),
          CLIENT_TIMEOUT_MS,
        );
        pending.set(id, {
          resolve: (result) => (clearTimeout(timer), resolve(result)),
          reject: (error) => (clearTimeout(timer), reject(error)),
        });
        send({ id, method, params });
      });
    },
    notify: (method, params) => send({ method, ...(params === undefined ? {} : { params }) }),
    stderr: () => stderr,
    async close() {
      child.stdin.end();
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
      rmSync(configDir, { recursive: true, force: true });
    },
  };
}
