/**
 * The servers under test, each in its own child process: the gateway (`dist/src/gateway/main.js`
 * with a gateway.yaml written for the run), the minimal SDK servers and the raw ceiling. Children
 * log to a file, not a pipe, so the benchmark process spends nothing reading their output.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { rssKiBOf } from './processes.js';

const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const PROJECT_ROOT = path.dirname(DIST);
export const GATEWAY_ENTRY = path.join(DIST, 'src', 'gateway', 'main.js');
export const MINIMAL_ENTRY = path.join(DIST, 'bench', 'reference', 'minimal-sdk-server.js');
export const MINIMAL_NODE_ENTRY = path.join(DIST, 'bench', 'reference', 'minimal-node-server.js');
export const MINIMAL_V2_ENTRY = path.join(DIST, 'bench', 'reference', 'minimal-v2-server.js');
export const CEILING_ENTRY = path.join(DIST, 'bench', 'reference', 'raw-ceiling.js');
/** The floor of a remote route: an HTTP proxy that only passes requests to its `UPSTREAM_URL` and answers back. */
export const PASSTHROUGH_PROXY_ENTRY = path.join(DIST, 'bench', 'reference', 'passthrough-proxy.js');
/** The stdio server of the bridge benchmarks (not an HTTP server: spawned by a bridge or a client). */
export const STDIO_ECHO_ENTRY = path.join(DIST, 'bench', 'reference', 'stdio-echo-server.js');
/** supergateway's command line entry (a devDependency), the peer the stdio bridge is measured against. */
export const SUPERGATEWAY_ENTRY = path.join(PROJECT_ROOT, 'node_modules', 'supergateway', 'dist', 'index.js');
const GC_HOOK = pathToFileURL(path.join(DIST, 'bench', 'support', 'gc-on-signal.js')).href;

/** Where children write their config and logs: made on first use, removed by {@link removeWorkDir}. */
let workDirPath: string | undefined;
const workDir = () => (workDirPath ??= mkdtempSync(path.join(tmpdir(), 'mcp-gateway-bench-')));
/** A path inside the run's work directory (removed with it). */
export const workPath = (name: string): string => path.join(workDir(), name);
export function removeWorkDir(): void {
  if (workDirPath) rmSync(workDirPath, { recursive: true, force: true });
  workDirPath = undefined;
}

/** Children not yet exited: killed with the benchmark if it stops early (see {@link killChildren}). */
const live = new Set<ChildProcess>();

/** Kills every child still running; synchronous, so it can run in an `exit` handler. */
export function killChildren(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

/** Whether `taskset` can pin processes (Linux with util-linux); decided once. */
export const canPin = spawnSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' }).status === 0;

/** Pins this process (all its threads) to one CPU, so the load generator keeps off the server's. */
export function pinSelf(cpu: number): boolean {
  return canPin && spawnSync('taskset', ['-a', '-cp', String(cpu), String(process.pid)], { stdio: 'ignore' }).status === 0;
}

export interface ChildSpec {
  /** Shown in errors and log file names. */
  name: string;
  /** Script to run with node. */
  entry: string;
  /** Path under the base URL where the MCP endpoint is, e.g. `/mcp/time`. */
  mcpPath: string;
  env?: NodeJS.ProcessEnv;
  /** CPU to pin the child to (when `taskset` exists). */
  cpu?: number;
  /** Extra node flags, e.g. `--cpu-prof`. */
  nodeArgs?: readonly string[];
  /** Arguments after the script, given the port it is to listen on (for servers that take no PORT variable). */
  args?: (port: number) => readonly string[];
}

export interface Child {
  readonly name: string;
  readonly pid: number;
  /** `http://127.0.0.1:<port>` */
  readonly base: string;
  /** The MCP endpoint. */
  readonly url: string;
  /** When `spawn` was called, `performance.now()` of this process. */
  readonly spawnedAt: number;
  readonly process: ChildProcess;
  /** Resident set size now, in KiB (VmRSS from /proc, else `ps`). */
  rssKiB(): number;
  /**
   * Full GCs in the child (through the preloaded SIGUSR2 hook); resolves once they are done, with
   * the child's `process.memoryUsage()` (bytes) right after them.
   */
  collectGarbage(): Promise<NodeJS.MemoryUsage>;
  /** The child's log so far. */
  log(): string;
  stop(): Promise<void>;
}

/** Writes a gateway.yaml for a run and returns its path. */
export function writeGatewayConfig(name: string, yaml: string): string {
  const file = path.join(workDir(), `${name}.gateway.yaml`);
  writeFileSync(file, yaml);
  return file;
}

/** A port free right now on 127.0.0.1 (the child binds it a moment later). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts a child without waiting for it: the caller decides what "ready" means (cold start). */
export async function spawnChild(spec: ChildSpec): Promise<Child> {
  const port = await freePort();
  const logFile = path.join(workDir(), `${spec.name}-${port}.log`);
  const memoryFile = path.join(workDir(), `${spec.name}-${port}.memory.json`);
  const out = openSync(logFile, 'w');
  const nodeArgs = ['--expose-gc', '--import', GC_HOOK, ...(spec.nodeArgs ?? []), spec.entry, ...(spec.args?.(port) ?? [])];
  const [command, args] =
    canPin && spec.cpu !== undefined ? ['taskset', ['-c', String(spec.cpu), process.execPath, ...nodeArgs]] : [process.execPath, nodeArgs];
  const spawnedAt = performance.now();
  const child = spawn(command, args, {
    cwd: PROJECT_ROOT,
    env: { PATH: process.env.PATH, LOG_LEVEL: 'info', ...spec.env, PORT: String(port), HOST: '127.0.0.1', BENCH_MEMORY_FILE: memoryFile },
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  live.add(child);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      live.delete(child);
      resolve();
    }),
  );
  const base = `http://127.0.0.1:${port}`;
  const pid = child.pid!;
  return {
    name: spec.name,
    pid,
    base,
    url: base + spec.mcpPath,
    spawnedAt,
    process: child,
    rssKiB: () => rssKiBOf(pid),
    async collectGarbage() {
      const asked = Date.now();
      child.kill('SIGUSR2');
      const deadline = performance.now() + 10_000;
      for (;;) {
        await sleep(50);
        try {
          const usage = JSON.parse(readFileSync(memoryFile, 'utf8')) as NodeJS.MemoryUsage & { at: number };
          if (usage.at >= asked) return usage;
        } catch {
          // Not written yet, or being written.
        }
        if (performance.now() > deadline) throw new Error(`${spec.name} did not report its memory after a GC`);
      }
    },
    log: () => readFileSync(logFile, 'utf8'),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Children a suite starts one by one and stops all at once, however it ends. */
export function childGroup(): { start(spawn: () => Promise<Child>): Promise<Child>; stopAll(): Promise<void> } {
  const children: Child[] = [];
  return {
    async start(spawn) {
      const child = await spawn();
      children.push(child);
      return child;
    },
    async stopAll() {
      await Promise.all(children.map((child) => child.stop()));
    },
  };
}

/** Starts a child and waits until it accepts TCP connections (at most 20 s). */
export async function startChild(spec: ChildSpec): Promise<Child> {
  const child = await spawnChild(spec);
  const deadline = performance.now() + 20_000;
  const port = Number(new URL(child.base).port);
  while (!(await canConnect(port))) {
    if (child.process.exitCode !== null || performance.now() > deadline) {
      await child.stop();
      throw new Error(`${spec.name} did not start:\n${child.log().slice(-2000)}`);
    }
    await sleep(10);
  }
  return child;
}

/** Node flags every gateway child gets (`--cpu-prof …` when profiling). */
let gatewayNodeArgs: readonly string[] = [];
export function setGatewayNodeArgs(args: readonly string[]): void {
  gatewayNodeArgs = args;
}

/** The gateway with `yaml` as its gateway.yaml (or the project's own when omitted). */
export function startGateway(
  name: string,
  yaml: string | undefined,
  route: string,
  options: { env?: NodeJS.ProcessEnv; cpu?: number } = {},
): Promise<Child> {
  const env = { ...options.env, ...(yaml === undefined ? {} : { GATEWAY_CONFIG: writeGatewayConfig(name, yaml) }) };
  return startChild({ name, entry: GATEWAY_ENTRY, mcpPath: `/mcp/${route}`, env, cpu: options.cpu, nodeArgs: gatewayNodeArgs });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
