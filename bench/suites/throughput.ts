/**
 * Requests/s and latency of `tools/call get_current_time` and `tools/list` at each concurrency, on
 * the gateway's stateful and stateless time routes, the same gateway without its request log, the
 * minimal SDK servers (SDK 1.32 on express and on node:http, SDK v2 in the 2026-07-28 era) and the
 * raw ceiling, all running at once (idle ones cost nothing) and measured in turns, so drift in the
 * machine's load reaches every target alike.
 */
import {
  CEILING_ENTRY,
  MINIMAL_ENTRY,
  MINIMAL_NODE_ENTRY,
  MINIMAL_V2_ENTRY,
  childGroup,
  startChild,
  startGateway,
  writeGatewayConfig,
  type Child,
} from '../lib/child.js';
import { buildPrevious } from '../lib/previous-release.js';
import { median, runLoad, type LoadResult } from '../lib/load.js';
import {
  expectResult,
  modernHeaders,
  modernTimeCallBody,
  modernToolsListBody,
  openSessions,
  timeCallBody,
  toolsListBody,
  withRouteErrors,
} from '../lib/mcp.js';
import { startOtlpSink, type OtlpSink } from '../lib/otlp-sink.js';
import { cpuTimesOf } from '../lib/processes.js';
import type { BenchSettings } from '../lib/settings.js';
import { TIME_MODULE, WEATHER_MODULE } from './modules.js';

/**
 * `gateway-quiet`: the same gateway with LOG_LEVEL=warn, i.e. without its per-request log line.
 * `minimal-node`: the minimal SDK server on `node:http`, without express. `minimal-node-otel`: the
 * same with a span and a metric point per request exported like the gateway's (`BENCH_OTEL=1`,
 * bench/reference/otel-instrument.ts), to the same loopback endpoint: what OpenTelemetry's SDK
 * itself costs a server this cheap.
 * `minimal-v2`: the SDK v2 reference (`createMcpHandler` on `node:http`), measured in the modern era.
 * `gateway-modern`: the gateway's `/mcp/time` (the same process as `gateway`) in the modern era.
 * `gateway-otel`: the same gateway exporting traces and metrics over OTLP/HTTP (protobuf, the
 * default) to a loopback endpoint in the benchmark process (bench/lib/otlp-sink.ts).
 * `gateway-otel-carried`: the same with a weather route mounted (and one session opened on it), so
 * that the process carries each request's context through awaits, as a gateway whose modules make
 * upstream requests does (telemetry/context-on-demand.ts); measured on its time route.
 * `gateway-previous`: the gateway of the previous release (bench/lib/previous-release.ts), built
 * for the run, telemetry off, on its own time module: what today's gateway with telemetry off is
 * compared with (full runs).
 */
export const TARGETS = [
  'gateway',
  'gateway-modern',
  'gateway-stateless',
  'gateway-quiet',
  'gateway-otel',
  'gateway-otel-carried',
  'gateway-previous',
  'minimal',
  'minimal-node',
  'minimal-node-otel',
  'minimal-v2',
  'ceiling',
] as const;
export type Target = (typeof TARGETS)[number];
export type Method = 'tools/call' | 'tools/list';
export const METHODS: readonly Method[] = ['tools/call', 'tools/list'];

export interface ThroughputCell {
  target: Target;
  method: Method;
  connections: number;
  result: LoadResult;
  /**
   * The server process's CPU time per response (user and system, all its threads, from /proc),
   * the median of the rounds: it leaves out time spent waiting for the CPU (not the cache misses
   * other work on a shared machine causes).
   * Absent where there is no /proc.
   */
  cpuUsPerRequest?: number;
}

/** The protocol era a target is measured in: 2025 (initialize, sessions) or 2026-07-28 ("modern": no session). */
export type Era = '2025' | 'modern';
/** Targets measured in the modern era; every other one speaks 2025. */
export const MODERN_TARGETS: ReadonlySet<Target> = new Set(['minimal-v2', 'gateway-modern']);
export const eraOf = (target: Target): Era => (MODERN_TARGETS.has(target) ? 'modern' : '2025');

/** Each request of a run: its body (given a fresh id) and, for the modern era, its fixed headers (2025: the session's). */
const REQUESTS: Record<Era, Record<Method, { body: (id: number) => string; headers?: Record<string, string> }>> = {
  '2025': { 'tools/call': { body: timeCallBody }, 'tools/list': { body: toolsListBody } },
  modern: {
    'tools/call': { body: modernTimeCallBody, headers: modernHeaders('tools/call', 'get_current_time') },
    'tools/list': { body: modernToolsListBody, headers: modernHeaders('tools/list') },
  },
};

/** The bench gateway.yaml: the time module twice, stateful and stateless. */
export const throughputYaml = (timeModule: string) => `
servers:
  time:
    module: ${timeModule}
  time-stateless:
    module: ${timeModule}
    sessions: stateless
sessions:
  idleTimeout: 30m
  maxPerRoute: 10000
`;
export const THROUGHPUT_YAML = throughputYaml(TIME_MODULE);

/**
 * Names, titles, descriptions and annotations of the tools a `tools/list` answer (JSON or SSE)
 * lists. Not the schemas: SDK v2 lists JSON Schema 2020-12 where 1.32 lists draft-07.
 */
function describeTools(answer: string): string {
  const json = answer.startsWith('{') ? answer : answer.slice(answer.indexOf('data: ') + 6).split('\n')[0]!;
  const { tools } = (JSON.parse(json) as { result: { tools: Array<Record<string, unknown>> } }).result;
  return JSON.stringify(tools.map(({ name, title, description, annotations }) => ({ name, title, description, annotations })));
}

export async function benchThroughput(settings: BenchSettings): Promise<ThroughputCell[]> {
  const cpu = settings.serverCpu;
  if (settings.targets.includes('gateway-previous')) settings.progress(`building the previous release (${settings.previousRelease})`);
  const previous = settings.targets.includes('gateway-previous') ? buildPrevious(settings.previousRelease) : undefined;
  const { start, stopAll } = childGroup();
  let sink: OtlpSink | undefined;
  try {
    const most = Math.max(...settings.concurrency);
    const all = {} as Record<Target, { url: string; sessions: string[] | undefined; pid: number }>;
    // One gateway serves both of its routes (the bench gateway.yaml mounts the time module twice).
    let gateway: Child | undefined;
    for (const target of settings.targets) {
      if (target === 'gateway' || target === 'gateway-stateless' || target === 'gateway-modern') {
        gateway ??= await start(() => startGateway('throughput', THROUGHPUT_YAML, 'time', { cpu }));
        all[target] =
          target === 'gateway'
            ? { url: gateway.url, sessions: await openSessions(gateway.url, most), pid: gateway.pid }
            : target === 'gateway-modern'
              ? { url: gateway.url, sessions: undefined, pid: gateway.pid }
              : { url: `${gateway.base}/mcp/time-stateless`, sessions: undefined, pid: gateway.pid };
      } else if (target === 'gateway-otel') {
        sink ??= await startOtlpSink();
        const env = { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url };
        const traced = await start(() => startGateway('throughput-otel', THROUGHPUT_YAML, 'time', { cpu, env }));
        all[target] = { url: traced.url, sessions: await openSessions(traced.url, most), pid: traced.pid };
      } else if (target === 'gateway-otel-carried') {
        // The same, with a route whose module takes ctx.fetch (weather, never called here): from its
        // first session on, every request's span follows it through awaits (AsyncLocalStorage).
        sink ??= await startOtlpSink();
        const env = { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url };
        const yaml = THROUGHPUT_YAML.replace('servers:\n', `servers:\n  weather:\n    module: ${WEATHER_MODULE}\n`);
        const traced = await start(() => startGateway('throughput-otel-carried', yaml, 'time', { cpu, env }));
        await openSessions(`${traced.base}/mcp/weather`, 1);
        all[target] = { url: traced.url, sessions: await openSessions(traced.url, most), pid: traced.pid };
      } else if (target === 'gateway-previous') {
        const built = previous ?? { skipped: 'no previous release given' };
        if ('skipped' in built) {
          settings.progress(`gateway-previous skipped: ${built.skipped}`);
          continue;
        }
        const env = { GATEWAY_CONFIG: writeGatewayConfig('throughput-previous', throughputYaml(built.timeModule)) };
        const child = await start(() => startChild({ name: target, entry: built.entry, mcpPath: '/mcp/time', cpu, env }));
        all[target] = { url: child.url, sessions: await openSessions(child.url, most), pid: child.pid };
      } else if (target === 'minimal-node-otel') {
        sink ??= await startOtlpSink();
        const env = { BENCH_OTEL: '1', OTEL_EXPORTER_OTLP_ENDPOINT: sink.url };
        const child = await start(() => startChild({ name: target, entry: MINIMAL_NODE_ENTRY, mcpPath: '/mcp', cpu, env }));
        all[target] = { url: child.url, sessions: await openSessions(child.url, most), pid: child.pid };
      } else if (target === 'gateway-quiet') {
        const quiet = await start(() => startGateway('throughput-quiet', THROUGHPUT_YAML, 'time', { cpu, env: { LOG_LEVEL: 'warn' } }));
        all[target] = { url: quiet.url, sessions: await openSessions(quiet.url, most), pid: quiet.pid };
      } else {
        const entry = {
          minimal: MINIMAL_ENTRY,
          'minimal-node': MINIMAL_NODE_ENTRY,
          'minimal-v2': MINIMAL_V2_ENTRY,
          ceiling: CEILING_ENTRY,
        }[target];
        const child = await start(() => startChild({ name: target, entry, mcpPath: '/mcp', cpu }));
        const stateless = target === 'ceiling' || eraOf(target) === 'modern';
        all[target] = { url: child.url, sessions: stateless ? undefined : await openSessions(child.url, most), pid: child.pid };
      }
    }

    // A target that could not be set up (the previous release without git history) is left out.
    const targets = settings.targets.filter((target) => all[target] !== undefined);
    let tools: { target: Target; listed: string } | undefined;
    for (const target of targets) {
      const { url, sessions } = all[target];
      for (const method of METHODS) {
        const { body, headers } = REQUESTS[eraOf(target)][method];
        if (target === 'ceiling') continue;
        const answer = await expectResult(url, sessions?.[0], body(1), headers);
        // 2026-07-28 results say `resultType`; the SDK's stateless 2025 fallback, which would answer a
        // request that lost its envelope, does not: the modern rows must not measure that one.
        if (eraOf(target) === 'modern' && !answer.includes('"resultType":"complete"')) {
          throw new Error(`${target} did not answer ${method} in the 2026-07-28 era: ${answer.slice(0, 300)}`);
        }
        if (method !== 'tools/list') continue;
        // Every server lists the same tools (the v2 reference registers its own copy of them).
        const listed = describeTools(answer);
        tools ??= { target, listed };
        if (listed !== tools.listed) throw new Error(`${target} lists other tools than ${tools.target}:\n${listed}\n${tools.listed}`);
      }
    }

    for (const target of targets) {
      settings.progress(`warming up ${target}`);
      const { url, sessions } = all[target];
      const { body, headers } = REQUESTS[eraOf(target)]['tools/call'];
      await runLoad({ url, connections: 10, duration: settings.warmup, body, headers, sessions });
    }

    const best = new Map<string, ThroughputCell>();
    const cpuSamples = new Map<string, number[]>();
    for (let round = 0; round < settings.rounds; round++) {
      // Each round visits the targets in a different order, so none is always first after a pause.
      const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
      for (const connections of settings.concurrency) {
        for (const method of settings.methods) {
          for (const target of order) {
            const { url, sessions, pid } = all[target];
            const { body, headers } = REQUESTS[eraOf(target)][method];
            const cpuBefore = cpuTimesOf(pid)?.own;
            // The gateway's targets: a JSON-RPC error inside a 200 counts as a failure too (its status page counts them).
            const result = await withRouteErrors(target.startsWith('gateway') ? url : undefined, () =>
              runLoad({ url, connections, duration: settings.duration, body, headers, sessions: sessions?.slice(0, connections) }),
            );
            settings.progress(
              `round ${round + 1} ${target} ${method} c=${connections}: ${Math.round(result.rps)} req/s, p50 ${result.p50.toFixed(2)} ms` +
                (result.failed ? `, ${result.failed} FAILED` : ''),
            );
            const key = `${target} ${method} ${connections}`;
            const cpuAfter = cpuTimesOf(pid)?.own;
            const responses = result.ok + result.failed;
            if (cpuBefore !== undefined && cpuAfter !== undefined && responses > 0) {
              cpuSamples.set(key, [...(cpuSamples.get(key) ?? []), (cpuAfter - cpuBefore) / responses]);
            }
            const previous = best.get(key);
            // A round with failures is kept only when no round of the cell had none.
            const rate = (r: typeof result) => r.rps - (r.failed > 0 ? 1e9 : 0);
            if (!previous || rate(result) > rate(previous.result)) best.set(key, { target, method, connections, result });
          }
        }
      }
    }
    if (sink)
      settings.progress(`OTLP endpoint received ${JSON.stringify(sink.received.exports)} (${Math.round(sink.received.bytes / 1024)} KiB)`);
    return [...best.entries()].map(([key, cell]) => {
      const samples = cpuSamples.get(key);
      return samples ? { ...cell, cpuUsPerRequest: median(samples) } : cell;
    });
  } finally {
    await stopAll();
    await sink?.close();
  }
}
