/** Everything one run measured, and the issue's goals judged against it. */
import type { RunInfo } from '../lib/environment.js';
import type { BridgeSessionsResult } from '../suites/bridge-sessions.js';
import type { BridgeCell, BridgeTarget, BridgeThroughputResult } from '../suites/bridge.js';
import type { ColdStartResult } from '../suites/cold-start.js';
import type { MemoryResult } from '../suites/memory.js';
import type { ResumeResult } from '../suites/resume.js';
import type { Method, Target, ThroughputCell } from '../suites/throughput.js';
import type { WeatherResult } from '../suites/weather.js';
import { ms, ratio, signedMs } from './table.js';

export interface BenchResults {
  info: RunInfo;
  throughput?: ThroughputCell[];
  weather?: WeatherResult[];
  resume?: ResumeResult;
  coldStart?: ColdStartResult[];
  memory?: MemoryResult;
  bridge?: BridgeThroughputResult;
  bridgeSessions?: BridgeSessionsResult;
  /** The commit `gateway-previous` was built from, when it was. */
  previousRelease?: string;
}

export interface Goal {
  goal: string;
  measured: string;
  met: boolean;
}

export function cell(results: BenchResults, target: Target, method: Method, connections: number): ThroughputCell | undefined {
  return results.throughput?.find((c) => c.target === target && c.method === method && c.connections === connections);
}

export function bridgeCell(results: BenchResults, target: BridgeTarget, connections: number): BridgeCell | undefined {
  return results.bridge?.cells.find((c) => c.target === target && c.connections === connections);
}

/** The connection counts the bridge suite measured, lowest first. */
export function bridgeConcurrencies(results: BenchResults): number[] {
  return [...new Set((results.bridge?.cells ?? []).map((c) => c.connections))].sort((a, b) => a - b);
}

/** The lowest requests/s ratio of `target` over `reference` across methods and concurrencies, as a goal of at least `least` (1.0x). */
function throughputGoal(results: BenchResults, target: Target, reference: Target, goal: string, least = 1): Goal | undefined {
  const ratios: Array<{ method: Method; connections: number; value: number }> = [];
  for (const method of ['tools/call', 'tools/list'] as const) {
    for (const connections of [...new Set((results.throughput ?? []).map((c) => c.connections))]) {
      const measured = cell(results, target, method, connections);
      const baseline = cell(results, reference, method, connections);
      if (measured && baseline) ratios.push({ method, connections, value: measured.result.rps / baseline.result.rps });
    }
  }
  if (ratios.length === 0) return undefined;
  const worst = ratios.reduce((a, b) => (b.value < a.value ? b : a));
  const cpu = cpuRatios(results, target, reference);
  const perCpu =
    cpu.length > 0 ? `; per CPU second (${reference}'s CPU per request over ${target}'s): lowest ${ratio(Math.min(...cpu))}` : '';
  return {
    goal,
    measured: `${ratios.map((r) => `${r.method} c=${r.connections} ${ratio(r.value)}`).join(', ')}; lowest ${ratio(worst.value)}${perCpu}`,
    met: worst.value >= least,
  };
}

/**
 * `reference`'s CPU time per request over `target`'s, for every cell both were measured in: what
 * the requests/s ratio would be if both were held to the same CPU: a second reading of each
 * cell, which also moves from run to run on a shared machine, but for other reasons than
 * requests/s (cache misses, not time spent waiting for the CPU).
 */
export function cpuRatios(results: BenchResults, target: Target, reference: Target): number[] {
  const ratios: number[] = [];
  for (const measured of results.throughput ?? []) {
    if (measured.target !== target || measured.cpuUsPerRequest === undefined) continue;
    const baseline = cell(results, reference, measured.method, measured.connections)?.cpuUsPerRequest;
    if (baseline !== undefined) ratios.push(baseline / measured.cpuUsPerRequest);
  }
  return ratios;
}

/** The goals of the benchmark issue, each with what this run measured. */
export function goals(results: BenchResults): Goal[] {
  const list: Goal[] = [];
  for (const goal of [
    throughputGoal(results, 'gateway', 'minimal', 'gateway requests/s >= 1.0x the minimal SDK server at every concurrency'),
    throughputGoal(
      results,
      'gateway-modern',
      'minimal-v2',
      'gateway modern-era (2026-07-28) requests/s >= 1.0x the SDK v2 reference at every concurrency',
    ),
    throughputGoal(
      results,
      'gateway-otel',
      'gateway',
      'gateway requests/s with telemetry exported (OTLP to a loopback endpoint) >= 0.9x with telemetry off, at every concurrency',
      0.9,
    ),
    throughputGoal(
      results,
      'gateway',
      'gateway-previous',
      'gateway requests/s with telemetry off >= 0.95x the previous release (main before telemetry, built for the run), at every concurrency: within noise',
      0.95,
    ),
  ]) {
    if (goal) list.push(goal);
  }
  const warm = results.weather?.find((w) => w.cache === 'warm');
  if (warm) {
    const value = warm.result.p50 / warm.timeReference.p50;
    list.push({
      goal: 'weather get_forecast p50 with the cache warm within 2x of a time tools/call p50 (10 connections, same gateway)',
      measured: `${ms(warm.result.p50)} ms vs ${ms(warm.timeReference.p50)} ms: ${ratio(value)}`,
      met: value <= 2,
    });
  }
  const gatewayStart = results.coldStart?.find((c) => c.target === 'gateway');
  const minimalStart = results.coldStart?.find((c) => c.target === 'minimal');
  if (gatewayStart && minimalStart) {
    const value = gatewayStart.median / minimalStart.median;
    list.push({
      goal: 'cold start (spawn to first tools/list) <= 1.2x the minimal SDK server',
      measured: `median ${ms(gatewayStart.median)} ms vs ${ms(minimalStart.median)} ms: ${ratio(value)}`,
      met: value <= 1.2,
    });
  }
  const abandon = results.memory?.abandon;
  const last = abandon?.checkpoints.at(-1);
  if (abandon && last) {
    const value = last.rssKiB / abandon.baseline.rssKiB;
    list.push({
      goal: `RSS after ${abandon.sessions.toLocaleString('en-US')} sessions opened and abandoned returns within 20% of the baseline (after expiry and a GC)`,
      measured:
        `${ratio(value)} the baseline RSS (${ratio(last.rssBeforeGcKiB / abandon.baseline.rssKiB)} before the forced GC); ` +
        `V8 heap in use ${ratio(last.heapUsedKiB / abandon.baseline.heapUsedKiB)} the baseline`,
      met: value <= 1.2,
    });
  }
  list.push(...bridgeGoals(results));
  return list;
}

/**
 * Issue #14's goals: a stdio route serves at least 1.5x supergateway's requests/s at every
 * concurrency and adds at most 0.5 ms to a direct client's p50; a remote route's p50 is within
 * 1.3x of calling its upstream directly. Latency goals are judged at 1 connection, where p50 is
 * the cost of one request rather than of the queue in front of it.
 */
function bridgeGoals(results: BenchResults): Goal[] {
  const list: Goal[] = [];
  const ratios = bridgeConcurrencies(results).flatMap((connections) => {
    const gateway = bridgeCell(results, 'gateway', connections)?.result;
    const peer = bridgeCell(results, 'supergateway', connections)?.result;
    return gateway && peer ? [{ connections, value: gateway.rps / peer.rps }] : [];
  });
  if (ratios.length > 0) {
    const worst = Math.min(...ratios.map((r) => r.value));
    list.push({
      goal: 'stdio route tools/call requests/s >= 1.5x supergateway 4 (`--stateful`) at every concurrency',
      measured: `${ratios.map((r) => `c=${r.connections} ${ratio(r.value)}`).join(', ')}; lowest ${ratio(worst)}`,
      met: worst >= 1.5,
    });
  }
  const gateway = bridgeCell(results, 'gateway', 1)?.result;
  const direct = bridgeCell(results, 'direct', 1)?.result;
  if (gateway && direct) {
    const added = gateway.p50 - direct.p50;
    list.push({
      goal: 'stdio route tools/call p50 at most 0.5 ms over an SDK client talking to the same server directly (1 connection)',
      measured: `${ms(gateway.p50)} ms vs ${ms(direct.p50)} ms: ${signedMs(added)} ms`,
      met: added <= 0.5,
    });
  }
  const upstream = bridgeCell(results, 'upstream', 1)?.result;
  const remote = (['remote', 'remote-modern'] as const).flatMap((target) => {
    const result = bridgeCell(results, target, 1)?.result;
    return result && upstream ? [{ era: target === 'remote' ? '2025 sessions' : '2026-07-28', value: result.p50 / upstream.p50 }] : [];
  });
  if (upstream && remote.length > 0) {
    const worst = Math.max(...remote.map((r) => r.value));
    // The floor of any route's ratio: a pass-through HTTP proxy in front of the same upstream.
    const proxy = bridgeCell(results, 'upstream-proxy', 1)?.result;
    list.push({
      goal: 'remote route tools/call p50 within 1.3x of calling its upstream directly (1 connection, both client eras)',
      measured:
        `${remote.map((r) => `${r.era} ${ratio(r.value)}`).join(', ')} of ${ms(upstream.p50)} ms; highest ${ratio(worst)}` +
        (proxy ? `; a pass-through HTTP proxy alone: ${ratio(proxy.p50 / upstream.p50)}` : ''),
      met: worst <= 1.3,
    });
  }
  return list;
}
