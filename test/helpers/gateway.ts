/**
 * Starting the real gateway for tests: in this process (for injected clocks and counters) or as
 * the built entry point in a child process (as `npm start` and the Functions host run it).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { createApp } from '../../src/gateway/http/app.js';
import { parseConfig } from '../../src/gateway/config/config.js';
import { createGateway, type Gateway, type GatewayOptions } from '../../src/gateway/gateway.js';
import { createHttpServer } from '../../src/gateway/http/http-server.js';
import { createLogger } from '../../src/gateway/logger.js';
import { GATEWAY_ENTRY, PROJECT_ROOT, fixturePath } from './project.js';
import { tempDir } from './temp-dir.js';

/** Absolute `module:` path of a test fixture server (test/fixtures/servers/<name>). */
export const fixtureModule = (name: string) => fixturePath('servers', name);
/** Absolute `module:` path of a shipped server (servers/<name>). */
export const shippedModule = (name: string) => path.join(PROJECT_ROOT, 'servers', name);

export interface InProcessGateway {
  url: string;
  gateway: Gateway;
  /** Log lines the gateway wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/** The real gateway and app on 127.0.0.1, ephemeral port, in this process. */
export async function startInProcessGateway(
  yaml: string,
  options: Partial<Omit<GatewayOptions, 'config' | 'logger'>> & {
    env?: NodeJS.ProcessEnv;
    allowedHosts?: string[];
    allowedOrigins?: string[];
  } = {},
): Promise<InProcessGateway> {
  const logs: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  const config = parseConfig(yaml, path.join(PROJECT_ROOT, 'test-gateway.yaml'), options.env ?? {});
  const gateway = await createGateway({ ...options, config, logger: createLogger({ level: 'debug', destination }) });
  // As main.ts does: gateway.yaml's allowedOrigins (and those given here).
  const app = createApp(gateway, { allowedHosts: options.allowedHosts, allowedOrigins: options.allowedOrigins ?? config.allowedOrigins });
  const server = createHttpServer(app, { requestTimeout: config.requestTimeout, logger: gateway.logger }).listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    gateway,
    logs,
    async close() {
      await gateway.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface GatewayProcess {
  url: string;
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  /** Resolves with the exit code when the process ends. */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Runs `node dist/src/gateway/main.js` with a gateway.yaml written from `yaml` (or the project's
 * own when omitted), on an ephemeral port, and waits for its "gateway listening" line.
 */
export async function startGatewayProcess(yaml?: string, env: NodeJS.ProcessEnv = {}): Promise<GatewayProcess> {
  const child = launchGateway(yaml, { PORT: '0', ...env });
  const process_ = collect(child);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start in 15 s:\n${process_.stderr.join('')}`)), 15_000);
    child.stdout!.on('data', () => {
      for (const line of process_.stdout) {
        if (line.includes('"gateway listening"')) {
          clearTimeout(timer);
          resolve(JSON.parse(line).url as string);
          return;
        }
      }
    });
    void process_.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited (${code}) before listening:\n${process_.stderr.join('')}`));
    });
  });
  return { ...process_, url };
}

/** Runs the gateway process to completion (for configurations that must fail to start). */
export async function runGatewayToExit(
  /** The gateway.yaml text, or undefined for the file `env.GATEWAY_CONFIG` names. */
  yaml: string | undefined,
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const child = launchGateway(yaml, { PORT: '0', ...env });
  const result = collect(child);
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const code = await result.exited;
  clearTimeout(timer);
  if (code === 0) throw new Error('expected the gateway to fail');
  return { code, stderr: result.stderr.join(''), stdout: result.stdout.join('\n') };
}

function launchGateway(yaml: string | undefined, env: NodeJS.ProcessEnv): ChildProcess {
  let configEnv: NodeJS.ProcessEnv = {};
  if (yaml !== undefined) {
    const file = path.join(tempDir('gateway-test'), 'gateway.yaml');
    writeFileSync(file, yaml);
    configEnv = { GATEWAY_CONFIG: file };
  }
  return spawn(process.execPath, [GATEWAY_ENTRY], {
    cwd: PROJECT_ROOT,
    env: { PATH: process.env.PATH, LOG_LEVEL: 'info', ...configEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function collect(child: ChildProcess): Omit<GatewayProcess, 'url'> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    stdout.push(...lines.filter(Boolean));
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stdout,
    stderr,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/**
 * An SDK Client connected over Streamable HTTP to `url` (a route URL): a 2025 session by default,
 * 2026-07-28 with `era: 'auto'`.
 */
export async function connectClient(
  url: string,
  name = 'gateway-test',
  { era = 'legacy' }: { era?: 'legacy' | 'auto' } = {},
): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name, version: '1.0.0' }, { versionNegotiation: { mode: era } });
  const transport = new StreamableHTTPClientTransport(new URL(url));
  await client.connect(transport);
  return { client, transport };
}

/** The text of a tool result's first content item. */
export function textOf(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  const first = content[0];
  if (!first || first.type !== 'text') throw new Error(`no text content in ${JSON.stringify(result)}`);
  return first.text!;
}

/** Headers of a well-formed MCP POST. */
export const MCP_POST_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** A minimal initialize request body. */
export const initializeBody = (id: number | string = 1) => ({
  jsonrpc: '2.0',
  id,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw-http-test', version: '1.0.0' } },
});

/**
 * A 2025 session opened with raw HTTP (initialize, then notifications/initialized), as a client
 * that never opens a GET stream: idle between its requests. Its id.
 */
export async function openRawSession(url: string, capabilities: Record<string, unknown> = {}): Promise<string> {
  const body = { ...initializeBody(), params: { ...initializeBody().params, capabilities } };
  const response = await fetch(url, { method: 'POST', headers: MCP_POST_HEADERS, body: JSON.stringify(body) });
  assert.equal(response.status, 200, await response.clone().text());
  await response.text();
  const id = response.headers.get('mcp-session-id')!;
  const initialized = await fetch(url, {
    method: 'POST',
    headers: { ...MCP_POST_HEADERS, 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' },
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  assert.equal(initialized.status, 202);
  return id;
}

export interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** An event stream still open when `streamFor` ran out (what came until then is in `body`). */
  open?: boolean;
}

/**
 * One request with node:http, headers exactly as given (fetch sends no Origin of its own choosing
 * and cannot set Host), read to its end. `timeout`: reject when no answer has begun within it (a
 * hang). `streamFor`: an event stream (a GET stream, a listen) that has not ended this long after
 * its head is closed by the client and resolves with `open: true`.
 */
export function rawRequest(
  url: string,
  {
    method = 'POST',
    headers = MCP_POST_HEADERS,
    body,
    agent,
    timeout,
    streamFor,
  }: {
    method?: string;
    headers?: http.OutgoingHttpHeaders;
    body?: string | Buffer;
    agent?: false;
    timeout?: number;
    streamFor?: number;
  } = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const timers: NodeJS.Timeout[] = [];
    const settle =
      <T>(done: (value: T) => void) =>
      (value: T) => {
        for (const timer of timers) clearTimeout(timer);
        done(value);
      };
    const ok = settle(resolve);
    const fail = settle(reject);
    // `agent: false`: a connection of its own, closed after the answer.
    const req = http.request(url, { method, headers, ...(agent === false ? { agent } : {}) }, (res) => {
      for (const timer of timers.splice(0)) clearTimeout(timer);
      let text = '';
      const answer = (open: boolean) => ({ status: res.statusCode!, headers: res.headers, body: text, ...(open ? { open } : {}) });
      if (streamFor !== undefined && String(res.headers['content-type']).startsWith('text/event-stream')) {
        timers.push(
          setTimeout(() => {
            ok(answer(true));
            req.destroy();
          }, streamFor),
        );
      }
      res
        .setEncoding('utf8')
        .on('data', (chunk: string) => (text += chunk))
        .on('end', () => ok(answer(false)))
        .on('error', fail);
    });
    if (timeout !== undefined) {
      timers.push(
        setTimeout(() => {
          fail(new Error(`no answer within ${timeout} ms: ${method} ${url.slice(0, 200)}`));
          req.destroy();
        }, timeout),
      );
    }
    req.on('error', fail);
    req.end(body);
  });
}

/** The JSON-RPC message of an answer: its body, or the last `data:` line of an SSE answer. */
export function rpcOf(answer: RawAnswer): {
  result?: Record<string, unknown>;
  error?: { code: number; message: string; data?: { code?: string } };
} {
  const json = answer.body.startsWith('{')
    ? answer.body
    : answer.body
        .split('\n')
        .findLast((line) => line.startsWith('data: '))
        ?.slice(6);
  if (json === undefined) throw new Error(`no JSON-RPC message in ${answer.status} ${JSON.stringify(answer.body)}`);
  return JSON.parse(json);
}
