/**
 * Requests/s and latency of `tools/call get_current_time` and `tools/list` at each concurrency, on
 * the gateway's stateful and stateless time routes, the same gateway without its request log, the
 * minimal SDK server and the raw ceiling, all running at once (idle ones cost nothing) and
 * measured in turns, so drift in the machine's load reaches every target alike.
 */
import { CEILING_ENTRY, MINIMAL_ENTRY, MINIMAL_NODE_ENTRY, startChild, startGateway, type Child } from '../lib/child.js';
import { runLoad, type LoadResult } from '../lib/load.js';
import { expectResult, openSessions, timeCallBody, toolsListBody } from '../lib/mcp.js';
import type { BenchSettings } from '../lib/settings.js';
import { TIME_MODULE } from './modules.js';

/**
 * `gateway-quiet`: the same gateway with LOG_LEVEL=warn, i.e. without its per-request log line.
 * `minimal-node`: the minimal SDK server on `node:http`, without express.
 */
export type Target = 'gateway' | 'gateway-stateless' | 'gateway-quiet' | 'minimal' | 'minimal-node' | 'ceiling';
export type Method = 'tools/call' | 'tools/list';
export const METHODS: readonly Method[] = ['tools/call', 'tools/list'];

export interface ThroughputCell {
  target: Target;
  method: Method;
  connections: number;
  result: LoadResult;
}

const BODIES: Record<Method, (id: number) => string> = { 'tools/call': timeCallBody, 'tools/list': toolsListBody };

/** The bench gateway.yaml: the time module twice, stateful and stateless. */
export const THROUGHPUT_YAML = `
servers:
  time:
    module: ${TIME_MODULE}
  time-stateless:
    module: ${TIME_MODULE}
    sessions: stateless
sessions:
  idleTimeout: 30m
  maxPerRoute: 10000
`;

export async function benchThroughput(settings: BenchSettings): Promise<ThroughputCell[]> {
  const cpu = settings.serverCpu;
  const children: Child[] = [];
  const start = async (spec: () => Promise<Child>) => {
    const child = await spec();
    children.push(child);
    return child;
  };
  try {
    const most = Math.max(...settings.concurrency);
    const all = {} as Record<Target, { url: string; sessions: string[] | undefined }>;
    // One gateway serves both of its routes (the bench gateway.yaml mounts the time module twice).
    let gateway: Child | undefined;
    for (const target of settings.targets) {
      if (target === 'gateway' || target === 'gateway-stateless') {
        gateway ??= await start(() => startGateway('throughput', THROUGHPUT_YAML, 'time', { cpu }));
        all[target] =
          target === 'gateway'
            ? { url: gateway.url, sessions: await openSessions(gateway.url, most) }
            : { url: `${gateway.base}/mcp/time-stateless`, sessions: undefined };
      } else if (target === 'gateway-quiet') {
        const quiet = await start(() => startGateway('throughput-quiet', THROUGHPUT_YAML, 'time', { cpu, env: { LOG_LEVEL: 'warn' } }));
        all[target] = { url: quiet.url, sessions: await openSessions(quiet.url, most) };
      } else {
        const entry = { minimal: MINIMAL_ENTRY, 'minimal-node': MINIMAL_NODE_ENTRY, ceiling: CEILING_ENTRY }[target];
        const child = await start(() => startChild({ name: target, entry, mcpPath: '/mcp', cpu }));
        all[target] = { url: child.url, sessions: target === 'ceiling' ? undefined : await openSessions(child.url, most) };
      }
    }

    const targets = settings.targets;
    for (const target of targets) {
      const { url, sessions } = all[target];
      for (const method of METHODS) {
        if (target !== 'ceiling') await expectResult(url, sessions?.[0], BODIES[method](1));
      }
    }

    for (const target of targets) {
      settings.progress(`warming up ${target}`);
      const { url, sessions } = all[target];
      await runLoad({ url, connections: 10, duration: settings.warmup, body: timeCallBody, sessions });
    }

    const best = new Map<string, ThroughputCell>();
    for (let round = 0; round < settings.rounds; round++) {
      // Each round visits the targets in a different order, so none is always first after a pause.
      const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
      for (const connections of settings.concurrency) {
        for (const method of settings.methods) {
          for (const target of order) {
            const { url, sessions } = all[target];
            const result = await runLoad({
              url,
              connections,
              duration: settings.duration,
              body: BODIES[method],
              sessions: sessions?.slice(0, connections),
            });
            settings.progress(
              `round ${round + 1} ${target} ${method} c=${connections}: ${Math.round(result.rps)} req/s, p50 ${result.p50.toFixed(2)} ms` +
                (result.failed ? `, ${result.failed} FAILED` : ''),
            );
            const key = `${target} ${method} ${connections}`;
            const previous = best.get(key);
            if (!previous || result.rps > previous.result.rps) best.set(key, { target, method, connections, result });
          }
        }
      }
    }
    return [...best.values()];
  } finally {
    await Promise.all(children.map((child) => child.stop()));
  }
}
