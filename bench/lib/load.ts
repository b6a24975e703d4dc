/**
 * One load run with autocannon: POSTs whose body (a fresh JSON-RPC id each) and session header (or
 * fixed headers) are set per request by `setupRequest`. Latency is taken from autocannon's per-response event with
 * sub-millisecond precision (its own histogram counts whole milliseconds, too coarse at c=1).
 */
import type { IncomingHttpHeaders } from 'node:http';
import autocannon from 'autocannon';
import { sessionHeaders } from './mcp.js';

export interface LoadOptions {
  url: string;
  connections: number;
  /** Seconds to run; ignored when `amount` is set. */
  duration?: number;
  /** Requests to send in all, then stop. */
  amount?: number;
  /** The body of the n-th request (n from 0), given a fresh id. */
  body: (id: number) => string;
  /** Session ids the requests are spread over, round robin; none for stateless targets. */
  sessions?: readonly string[];
  /** Headers of every request instead of the session's (modern-era requests, which have no session). */
  headers?: Readonly<Record<string, string>>;
  /** Called with every response's headers and body (slows the run: for setup runs only). */
  onResponse?: (status: number, body: string, headers: IncomingHttpHeaders) => void;
}

export interface LoadResult {
  /** Responses with a 2xx status. */
  ok: number;
  /** Other statuses, timeouts and socket errors. */
  failed: number;
  /** Seconds from the first request to the last response. */
  seconds: number;
  /** 2xx responses per second. */
  rps: number;
  /** Latency percentiles in ms (2xx responses). */
  p50: number;
  p99: number;
  mean: number;
}

let nextId = 1;

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const sessions = options.sessions ?? [];
  const onResponse = options.onResponse;
  let turn = 0;
  const request: autocannon.Request = {
    method: 'POST',
    setupRequest: (raw) => {
      const sessionId = sessions.length === 0 ? undefined : sessions[turn++ % sessions.length];
      return { ...raw, method: 'POST', headers: options.headers ?? sessionHeaders(sessionId), body: options.body(nextId++) };
    },
    ...(onResponse ? { onResponse: (status, body, _context, headers) => onResponse(status, body, headers ?? {}) } : {}),
  };
  const opts: autocannon.Options = {
    url: options.url,
    connections: options.connections,
    pipelining: 1,
    timeout: 30,
    // autocannon notices the end of a run on its sampling tick: every 100 ms, not every second.
    sampleInt: 100,
    ...(options.amount !== undefined ? { amount: options.amount } : { duration: options.duration ?? 5 }),
    requests: [request],
  };

  const latencies: number[] = [];
  let failed = 0;
  const started = performance.now();
  let lastResponse = started;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    // The callback form returns the instance, whose per-response events carry exact latencies.
    const instance = autocannon(opts, (error, done: autocannon.Result) => (error ? reject(error) : resolve(done)));
    instance.on('response', (_client, status, _bytes, responseTime) => {
      lastResponse = performance.now();
      if (status >= 200 && status < 300) latencies.push(responseTime);
      else failed++;
    });
  });
  // From the first request sent to the last answer: the run's own ticks are not that precise.
  return summarize(latencies, failed + result.errors + result.timeouts, (lastResponse - started) / 1000);
}

/** A run's result from the latencies (ms) of its answered requests, its failures and its length. */
export function summarize(latencies: number[], failed: number, seconds: number): LoadResult {
  latencies.sort((a, b) => a - b);
  return {
    ok: latencies.length,
    failed,
    seconds,
    rps: latencies.length / seconds,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    mean: latencies.reduce((sum, x) => sum + x, 0) / Math.max(1, latencies.length),
  };
}

/** Nearest-rank percentile of sorted values; NaN when there are none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

export const median = (values: readonly number[]) =>
  percentile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
