/**
 * An emulation of the Azure Functions host running an app with the `mcp-custom-handler`
 * configuration profile, for tests: Functions Core Tools cannot be installed here, so this does
 * what the host does with host.json, as read from the host's source (Azure/azure-functions-host:
 * HttpWorkerOptionsSetup, HttpWorkerProcess, DefaultHttpWorkerService, DefaultHttpProxyService):
 *
 * - starts `customHandler.description.defaultExecutablePath` with its `arguments`, in the app
 *   root, with `FUNCTIONS_CUSTOMHANDLER_PORT` (and the legacy `FUNCTIONS_HTTPWORKER_PORT`) set.
 *   Azure uses `customHandler.port` when host.json sets it; the emulation always picks a free
 *   port so that tests can run side by side;
 * - polls `GET http://127.0.0.1:<port>/` every 25 ms for up to 30 s: any HTTP answer means ready,
 *   a refused connection means not yet;
 * - proxies every request (any path, any method, no `/api` prefix) the way YARP's default
 *   transformer does: method, path, query (`code` included: the host does not strip it) and
 *   headers unchanged, except that `Host` becomes the handler's address, the original host goes
 *   to `X-Forwarded-Host`, `X-Forwarded-Proto`/`-For` are set, `x-ms-invocation-id` is added and
 *   hop-by-hop headers are dropped. Bodies stream both ways; nothing is buffered, so server-sent
 *   events arrive one by one;
 * - with `defaultAuthorizationLevel: function` (pass `functionKeys`), a request needs one of the
 *   keys in `x-functions-key` or `?code=` (the header is looked at first), else 401 with no body.
 *   Core Tools does not enforce keys: leave `functionKeys` out to emulate `func start`.
 *
 * Not emulated: the 230 s response cap and ~4 min idle cut of the Azure front end, scale-out.
 *
 * @example
 * ```ts
 * const host = await startFunctionsHost({ appRoot: root, functionKeys: ['k'] });
 * const res = await fetch(`${host.url}/mcp/time`, { headers: { 'x-functions-key': 'k' } });
 * await host.stop();
 * ```
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

// The .funcignore matcher and the package listing belong to the staging script that azd runs
// (scripts/stage-deployment.ts); tests use the same ones.
export { listDeployedFiles, parseFuncignore } from '../../scripts/stage-deployment.js';

type Milliseconds = number;

export interface FunctionsHostOptions {
  /** The function app's root: where host.json is and where the handler starts. */
  appRoot: string;
  /** Accepted function keys; omitted or empty = no key check (as under `func start`). */
  functionKeys?: readonly string[];
  /** Extra environment for the handler (app settings), over this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** How long the handler may take to answer `GET /`. Default 30 s, the host's limit. */
  startTimeout?: Milliseconds;
}

export interface FunctionsHost {
  /** Base URL of the emulated host, e.g. `http://127.0.0.1:53211`. */
  readonly url: string;
  /** The port the handler was told to listen on (`FUNCTIONS_CUSTOMHANDLER_PORT`). */
  readonly handlerPort: number;
  /** The handler's process. */
  readonly child: ChildProcess;
  /** What the handler wrote so far (stdout and stderr, last 64 KiB each). */
  output(): { stdout: string; stderr: string };
  /** Closes the proxy, sends SIGTERM to the handler and waits for it to exit (SIGKILL after 5 s). */
  stop(): Promise<void>;
}

/** The part of host.json the emulation reads. */
export interface CustomHandlerDescription {
  defaultExecutablePath: string;
  arguments: string[];
  workingDirectory?: string;
}

const POLL_INTERVAL: Milliseconds = 25; // WorkerConstants.WorkerReadyCheckPollingIntervalMilliseconds
const START_TIMEOUT: Milliseconds = 30_000; // WorkerConstants.WorkerInitTimeoutSeconds
const TERMINATE_GRACE: Milliseconds = 5_000; // WorkerConstants.WorkerTerminateGracePeriodInSeconds
const OUTPUT_LIMIT = 64 * 1024;

// Hop-by-hop headers (RFC 9110 §7.6.1) and Host are not forwarded, as in YARP.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Reads `customHandler.description` from `<appRoot>/host.json`, refusing what the host would refuse. */
export async function readCustomHandler(appRoot: string): Promise<CustomHandlerDescription> {
  const hostJson = JSON.parse(await readFile(path.join(appRoot, 'host.json'), 'utf8')) as {
    configurationProfile?: unknown;
    customHandler?: { description?: Partial<CustomHandlerDescription> };
  };
  const description = hostJson.customHandler?.description;
  if (hostJson.configurationProfile !== 'mcp-custom-handler') {
    throw new Error('host.json: configurationProfile must be "mcp-custom-handler"');
  }
  if (!description?.defaultExecutablePath) throw new Error('host.json: customHandler.description.defaultExecutablePath is missing');
  if (await hasFunctionJson(appRoot)) {
    throw new Error('function.json files cannot be combined with the mcp-custom-handler profile');
  }
  return {
    defaultExecutablePath: description.defaultExecutablePath,
    arguments: description.arguments ?? [],
    ...(description.workingDirectory ? { workingDirectory: description.workingDirectory } : {}),
  };
}

/** Starts the handler the way the Functions host does and serves the emulated host in front of it. */
export async function startFunctionsHost(options: FunctionsHostOptions): Promise<FunctionsHost> {
  const description = await readCustomHandler(options.appRoot);
  const handlerPort = await freePort();
  const workerId = randomUUID();
  const cwd = description.workingDirectory ? path.resolve(options.appRoot, description.workingDirectory) : options.appRoot;

  const child = spawn(description.defaultExecutablePath, description.arguments, {
    cwd,
    env: {
      ...process.env,
      ...options.env,
      FUNCTIONS_CUSTOMHANDLER_PORT: String(handlerPort),
      FUNCTIONS_HTTPWORKER_PORT: String(handlerPort),
      FUNCTIONS_CUSTOMHANDLER_WORKER_ID: workerId,
      FUNCTIONS_HTTPWORKER_ID: workerId,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout = captureOutput(child.stdout);
  const stderr = captureOutput(child.stderr);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const output = () => ({ stdout: stdout(), stderr: stderr() });

  try {
    await waitUntilReady(child, handlerPort, options.startTimeout ?? START_TIMEOUT, output);
  } catch (error) {
    await terminate(child, exited);
    throw error;
  }

  const agent = new http.Agent({ keepAlive: true });
  const keys = new Set(options.functionKeys ?? []);
  const server = http.createServer((req, res) => proxy(req, res, { handlerPort, keys, agent }));
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as net.AddressInfo;

  let stopping: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    handlerPort,
    child,
    output,
    stop: () =>
      (stopping ??= (async () => {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        agent.destroy();
        await terminate(child, exited);
      })()),
  };
}

/**
 * The function-level key check: `x-functions-key` first, then `?code=`.
 * Returns true when the request may pass.
 */
export function isAuthorized(req: http.IncomingMessage, keys: ReadonlySet<string>): boolean {
  if (keys.size === 0) return true;
  const header = req.headers['x-functions-key'];
  const fromHeader = Array.isArray(header) ? header[0] : header;
  const fromQuery = new URL(req.url ?? '/', 'http://host').searchParams.get('code');
  const key = fromHeader ?? fromQuery;
  return key !== null && key !== undefined && keys.has(key);
}

function proxy(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  { handlerPort, keys, agent }: { handlerPort: number; keys: ReadonlySet<string>; agent: http.Agent },
): void {
  if (!isAuthorized(req, keys)) {
    req.resume();
    res.writeHead(401, { 'content-length': '0' }).end();
    return;
  }

  const headers: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name === 'host' || HOP_BY_HOP.has(name)) continue;
    headers[name] = value;
  }
  headers.host = `127.0.0.1:${handlerPort}`;
  headers['x-forwarded-host'] = req.headers.host ?? '';
  headers['x-forwarded-proto'] = 'http';
  headers['x-forwarded-for'] = req.socket.remoteAddress ?? '127.0.0.1';
  headers['x-ms-invocation-id'] = randomUUID();

  const upstream = http.request(
    { host: '127.0.0.1', port: handlerPort, method: req.method, path: req.url, headers, agent },
    (upstreamRes) => {
      const responseHeaders: http.OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(upstreamRes.headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(name)) responseHeaders[name] = value;
      }
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, responseHeaders);
      // Send the status line and headers now: an SSE stream may not write its first event for a while.
      res.flushHeaders();
      upstreamRes.pipe(res);
      upstreamRes.once('error', () => res.destroy());
    },
  );
  upstream.once('error', () => {
    if (res.headersSent) res.destroy();
    else res.writeHead(502, { 'content-type': 'text/plain' }).end('custom handler unreachable');
  });
  // The client went away: stop the handler's work too (the host cancels the forwarding).
  res.once('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
}

async function waitUntilReady(
  child: ChildProcess,
  port: number,
  timeout: Milliseconds,
  output: () => { stdout: string; stderr: string },
): Promise<void> {
  const deadline = Date.now() + timeout;
  const failure = (reason: string) => {
    const { stdout, stderr } = output();
    return new Error(`custom handler ${reason}\n--- stderr ---\n${stderr}\n--- stdout ---\n${stdout}`);
  };
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw failure(`exited before answering GET / (code ${child.exitCode}, signal ${child.signalCode})`);
    }
    if (await answers(port)) return;
    if (Date.now() >= deadline) throw failure(`did not answer GET http://127.0.0.1:${port}/ within ${timeout} ms`);
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL));
  }
}

/** Any HTTP answer counts; only a failure to connect means "not yet". */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 1_000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
  });
}

async function terminate(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), TERMINATE_GRACE);
  await exited;
  clearTimeout(timer);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function captureOutput(stream: NodeJS.ReadableStream | null): () => string {
  let text = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    text = (text + chunk).slice(-OUTPUT_LIMIT);
  });
  return () => text;
}

async function hasFunctionJson(dir: string): Promise<boolean> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    if (entry.isFile() && entry.name === 'function.json') return true;
    // The host looks for <function>/function.json one level down.
    if (entry.isDirectory()) {
      const inner: string[] = await readdir(path.join(dir, entry.name)).catch(() => []);
      if (inner.includes('function.json')) return true;
    }
  }
  return false;
}
