/**
 * Bridged routes (issue #14), requests/s and latency of `tools/call`, by connections:
 *
 * - stdio: the gateway's `command:` route (`isolation: session`, the default: a child per
 *   session) vs supergateway 4 (`--stdio … --outputTransport streamableHttp --stateful`, also a
 *   child per session) vs the SDK's `Client` talking to the server itself over stdio, no HTTP.
 *   All three run the same server (bench/reference/stdio-echo-server.ts, v1 SDK) and call its
 *   `echo` tool; every HTTP connection has its own session, so its own child, and so does every
 *   direct client.
 * - remote: the gateway's `url:` route in front of the SDK v2 reference (time server) on
 *   loopback, from 2025 sessions and from 2026-07-28 requests, vs the same requests sent to that
 *   upstream directly, and through a pass-through HTTP proxy (bench/reference/passthrough-proxy.ts):
 *   the least any HTTP hop in front of that upstream costs on this machine.
 *
 * For the stdio bridges (and the module route, and the direct clients' children), the CPU time
 * each run used per answered request, in the bridge process and in the processes it started,
 * from /proc: at more connections the children's share grows (more processes taking turns on one
 * CPU) for every bridge alike, which the requests/s alone do not tell apart from the bridges' own
 * cost.
 *
 * Everything is started once and measured in turns (a different order each round, the best
 * round kept), as the throughput suite does; servers and their children share one CPU.
 */
import path from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import {
  MINIMAL_V2_ENTRY,
  PASSTHROUGH_PROXY_ENTRY,
  PROJECT_ROOT,
  STDIO_ECHO_ENTRY,
  SUPERGATEWAY_ENTRY,
  childGroup,
  startChild,
  startGateway,
  type Child,
  type ChildSpec,
} from '../lib/child.js';
import { connectDirect, runClientLoad, type DirectClient } from '../lib/direct-client.js';
import { runLoad, type LoadResult } from '../lib/load.js';
import {
  expectResult,
  modernHeaders,
  modernTimeCallBody,
  openSessions,
  routeErrors,
  timeCallBody,
  toolCallBody,
  withRouteErrors,
} from '../lib/mcp.js';
import { cpuSince, processesCpu, treeCpu, type CpuUse } from '../lib/processes.js';
import type { BenchSettings } from '../lib/settings.js';

/**
 * `gateway`: the gateway's `command:` route. `gateway-module`: the same tool as a `module:` route
 * of the same gateway (no bridge: what HTTP and the gateway cost by themselves). `supergateway`: supergateway with `--logLevel none`
 * (its fastest); `supergateway-logged`: at its default level, `info`, which logs every message
 * both ways (full runs). `direct`: SDK clients on their own stdio children. `remote` and
 * `remote-modern`: the gateway's `url:` route, 2025 sessions and 2026-07-28 requests.
 * `upstream`: the remote route's upstream, called directly (autocannon, as the route is);
 * `upstream-proxy`: the same requests through the pass-through proxy, on the same CPU (the floor of
 * any route's ratio to `upstream`). `upstream-client`: the same through SDK v2 `Client`s
 * (`StreamableHTTPClientTransport`, which the route's bridge uses too), one request at a time each.
 */
export type BridgeTarget =
  | 'gateway'
  | 'gateway-module'
  | 'gateway-shared'
  | 'supergateway'
  | 'supergateway-logged'
  | 'direct'
  | 'remote'
  | 'remote-modern'
  | 'upstream'
  | 'upstream-proxy'
  | 'upstream-client';

export interface BridgeCell {
  target: BridgeTarget;
  connections: number;
  result: LoadResult;
  /**
   * CPU time per answered request, µs, of the same run (`gateway`, `gateway-module`,
   * `supergateway`, `supergateway-logged`: the bridge process and its descendants; `direct`: the
   * clients' children); none for the other targets, or where there is no /proc.
   */
  cpu?: CpuUse;
}

export interface BridgeThroughputResult {
  cells: BridgeCell[];
  /** What the gateway's client negotiated with each upstream, from the status page. */
  protocolVersions: { stdio?: string; remote?: string };
}

export const ECHO_MESSAGE = 'hello from the bench';
export const echoCallBody = toolCallBody('echo', { message: ECHO_MESSAGE });
export const echoCall = (client: Client) =>
  client.request({ method: 'tools/call', params: { name: 'echo', arguments: { message: ECHO_MESSAGE } } });

/** The echo tool as a gateway module (the gateway finds its build under dist/). */
const ECHO_MODULE = path.join(PROJECT_ROOT, 'bench', 'reference', 'echo-module.ts');

/**
 * A gateway.yaml with the echo server as a `command:` route (`echo`) and as a module
 * (`echo-module`) and, given an upstream, a `url:` route (`remote`).
 */
export function bridgeYaml(maxProcesses: number, upstreamUrl?: string): string {
  return `
servers:
  echo:
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(STDIO_ECHO_ENTRY)}]
    maxProcesses: ${maxProcesses}
  echo-shared:
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(STDIO_ECHO_ENTRY)}]
    isolation: shared
  echo-module:
    module: ${JSON.stringify(ECHO_MODULE)}
${upstreamUrl ? `  remote:\n    url: ${JSON.stringify(upstreamUrl)}\n` : ''}sessions:
  idleTimeout: 30m
  maxPerRoute: 1000
`;
}

/** supergateway in front of the echo server, as issue #14 runs it, on the port it is given. */
export function supergatewaySpec(name: string, cpu: number | undefined, logged: boolean): ChildSpec {
  // supergateway runs its --stdio command through a shell.
  const command = [process.execPath, STDIO_ECHO_ENTRY].map((word) => `'${word.replaceAll("'", "'\\''")}'`).join(' ');
  return {
    name,
    entry: SUPERGATEWAY_ENTRY,
    mcpPath: '/mcp',
    cpu,
    args: (port) => [
      '--stdio',
      command,
      '--outputTransport',
      'streamableHttp',
      '--stateful',
      '--port',
      String(port),
      ...(logged ? [] : ['--logLevel', 'none']),
    ],
  };
}

type Measure = (connections: number, duration: number) => Promise<LoadResult>;

/** Starts a CPU reading of a target's processes for a run at `connections` (see {@link cpuSince}). */
type CpuReading = (connections: number) => ReturnType<typeof cpuSince>;

/** `, CPU µs/req bridge 340 children 60` for the progress line. */
function cpuNote(use: CpuUse | undefined): string {
  if (!use) return '';
  return `, CPU µs/req ${use.bridgeUs === undefined ? '' : `bridge ${Math.round(use.bridgeUs)} `}children ${Math.round(use.childrenUs)}`;
}

/** CPU time per answered request, from a run's totals. */
function perRequest(use: CpuUse | undefined, answered: number): CpuUse | undefined {
  if (!use || answered === 0) return undefined;
  return { ...(use.bridgeUs === undefined ? {} : { bridgeUs: use.bridgeUs / answered }), childrenUs: use.childrenUs / answered };
}

export async function benchBridge(settings: BenchSettings): Promise<BridgeThroughputResult> {
  const cpu = settings.serverCpu;
  const most = Math.max(...settings.bridgeConcurrency);
  const targets = settings.bridgeTargets;
  const { start, stopAll } = childGroup();
  const direct: DirectClient[] = [];
  const clients: Client[] = [];
  try {
    const upstream = await start(() => startChild({ name: 'bridge-upstream', entry: MINIMAL_V2_ENTRY, mcpPath: '/mcp', cpu }));
    // Room for every session's child, and the one the status page lists tools with.
    const gateway = await start(() => startGateway('bridge', bridgeYaml(most + 2, upstream.url), 'echo', { cpu }));
    const remoteUrl = `${gateway.base}/mcp/remote`;

    const measures = {} as Record<BridgeTarget, Measure>;
    // A bridge's descendants are found again at each reading: its children are its sessions'.
    const cpuReadings: Partial<Record<BridgeTarget, CpuReading>> = {};
    /** autocannon on `url`, from `most` sessions (2025) opened up front, or from none (2026-07-28). */
    const overHttp = async (url: string, body: (id: number) => string, modern?: Record<string, string>): Promise<Measure> => {
      const sessions = modern ? undefined : await openSessions(url, most);
      await expectResult(url, sessions?.[0], body(1), modern);
      return (connections, duration) =>
        runLoad({ url, connections, duration, body, headers: modern, sessions: sessions?.slice(0, connections) });
    };
    const modernTime = modernHeaders('tools/call', 'get_current_time');
    for (const target of targets) {
      settings.progress(`bridge: setting up ${target}`);
      switch (target) {
        case 'gateway':
          measures[target] = await overHttp(gateway.url, echoCallBody);
          cpuReadings[target] = () => cpuSince(() => treeCpu(gateway.pid));
          break;
        case 'gateway-module':
          measures[target] = await overHttp(`${gateway.base}/mcp/echo-module`, echoCallBody);
          cpuReadings[target] = () => cpuSince(() => treeCpu(gateway.pid));
          break;
        case 'gateway-shared':
          measures[target] = await overHttp(`${gateway.base}/mcp/echo-shared`, echoCallBody);
          cpuReadings[target] = () => cpuSince(() => treeCpu(gateway.pid));
          break;
        case 'supergateway':
        case 'supergateway-logged': {
          const child = await start(() => startChild(supergatewaySpec(target, cpu, target === 'supergateway-logged')));
          measures[target] = await overHttp(child.url, echoCallBody);
          cpuReadings[target] = () => cpuSince(() => treeCpu(child.pid));
          break;
        }
        case 'direct': {
          for (let i = 0; i < most; i++) direct.push(await connectDirect(STDIO_ECHO_ENTRY, cpu));
          const answer = await echoCall(direct[0]!.client);
          if (JSON.stringify(answer).indexOf(ECHO_MESSAGE) === -1) throw new Error(`the direct client got ${JSON.stringify(answer)}`);
          measures[target] = (connections, duration) =>
            runClientLoad({ clients: direct.slice(0, connections).map((d) => d.client), duration, request: echoCall });
          const children = direct.map((d) => d.pid);
          cpuReadings[target] = (connections) => cpuSince(() => processesCpu(children.slice(0, connections)));
          break;
        }
        case 'remote':
          measures[target] = await overHttp(remoteUrl, timeCallBody);
          break;
        case 'remote-modern':
          measures[target] = await overHttp(remoteUrl, modernTimeCallBody, modernTime);
          break;
        case 'upstream':
          measures[target] = await overHttp(upstream.url, modernTimeCallBody, modernTime);
          break;
        case 'upstream-proxy': {
          const proxy = await start(() =>
            startChild({
              name: 'bridge-proxy',
              entry: PASSTHROUGH_PROXY_ENTRY,
              mcpPath: '/mcp',
              cpu,
              env: { UPSTREAM_URL: upstream.base },
            }),
          );
          measures[target] = await overHttp(proxy.url, modernTimeCallBody, modernTime);
          break;
        }
        case 'upstream-client': {
          for (let i = 0; i < most; i++) clients.push(await connectHttpClient(upstream.url));
          await timeCall(clients[0]!);
          measures[target] = (connections, duration) =>
            runClientLoad({ clients: clients.slice(0, connections), duration, request: timeCall });
          break;
        }
      }
    }

    for (const target of targets) {
      settings.progress(`bridge: warming up ${target}`);
      await measures[target](most, settings.bridgeWarmup);
    }

    // The first look at the status page lists each route's tools (a child of its own on `echo`): not in a round.
    await routeErrors(`${gateway.base}/mcp/echo`);
    const best = new Map<string, BridgeCell>();
    for (let round = 0; round < settings.rounds; round++) {
      const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
      for (const connections of settings.bridgeConcurrency) {
        for (const target of order) {
          const route = GATEWAY_ROUTE[target];
          let perAnswer: CpuUse | undefined;
          // A 200 can carry a JSON-RPC error (an upstream backing off answers fast): the gateway counts them.
          const result = await withRouteErrors(route && `${gateway.base}/mcp/${route}`, async () => {
            // Read around the load alone, not the status page reads.
            const since = cpuReadings[target]?.(connections);
            const run = await measures[target](connections, settings.duration);
            perAnswer = perRequest(since?.(), run.ok);
            return run;
          });
          settings.progress(
            `bridge round ${round + 1} ${target} c=${connections}: ${Math.round(result.rps)} req/s, p50 ${result.p50.toFixed(2)} ms` +
              cpuNote(perAnswer) +
              (result.failed ? `, ${result.failed} FAILED` : ''),
          );
          const key = `${target} ${connections}`;
          const previous = best.get(key);
          // A run that got no answer at all (a stall) has NaN requests/s: any other run beats it.
          // A run with errors is kept only when no round of the cell had none.
          const rate = (r: LoadResult) => (Number.isFinite(r.rps) ? r.rps : -1) - (r.failed > 0 ? 1e9 : 0);
          if (!previous || rate(result) > rate(previous.result))
            best.set(key, { target, connections, result, ...(perAnswer ? { cpu: perAnswer } : {}) });
        }
      }
    }
    return { cells: [...best.values()], protocolVersions: await negotiatedVersions(gateway) };
  } finally {
    await Promise.all([...direct.map((d) => d.close()), ...clients.map((c) => c.close())]);
    await stopAll();
  }
}

/** The gateway route each target is served by, for the errors the gateway counted (JSON-RPC errors in 200s). */
const GATEWAY_ROUTE: Partial<Record<BridgeTarget, string>> = {
  gateway: 'echo',
  'gateway-module': 'echo-module',
  'gateway-shared': 'echo-shared',
  remote: 'remote',
  'remote-modern': 'remote',
};

/** An SDK v2 client on Streamable HTTP, negotiating the era as the gateway's bridge does. */
async function connectHttpClient(url: string): Promise<Client> {
  const client = new Client({ name: 'mcp-gateway-bench-direct', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

const timeCall = (client: Client) =>
  client.request({ method: 'tools/call', params: { name: 'get_current_time', arguments: { timezone: 'UTC' } } });

/** The protocol revision the gateway's client negotiated with each route's upstream (read last: the status page lists tools). */
async function negotiatedVersions(gateway: Child): Promise<BridgeThroughputResult['protocolVersions']> {
  const status = (await (await fetch(`${gateway.base}/status.json`)).json()) as {
    routes: Array<{ name: string; upstream?: { protocolVersion?: string } }>;
  };
  const of = (name: string) => status.routes.find((route) => route.name === name)?.upstream?.protocolVersion;
  return { stdio: of('echo'), remote: of('remote') };
}
