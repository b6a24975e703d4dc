/**
 * The last minutes of traffic, in process, for the status page: requests, errors and latency
 * percentiles per group (a route, an upstream host) and per key in it (a method or tool, an
 * origin). It works whether or not telemetry is exported, and costs a few array writes per
 * request: each key keeps one slot per minute, each slot a count of errors, a count per tag
 * (`error.type`, or the cache's outcome) and a log-scale latency histogram.
 *
 * Percentiles come from the histogram: buckets grow by 25% from 0.05 ms, and a percentile is the
 * geometric middle of its bucket, so it is within about 12% of the exact value. Keys are bounded
 * per group (a client can send any method or tool name): past the limit, a key with nothing left in
 * the history makes room, else new keys count as `_OTHER`. The limit is a backstop: telemetry.ts
 * names only the tools a route has, and a route can have hundreds.
 */

export interface TrafficWindowOptions {
  /** Wall clock in ms; slots are whole minutes of it. Default `Date.now`. */
  readonly now?: () => number;
  /** Minutes the totals and percentiles cover. Default 5. */
  readonly windowMinutes?: number;
  /** Minutes of per-minute counts kept for the chart (at least `windowMinutes`). Default 15. */
  readonly historyMinutes?: number;
  /** Keys per group before new ones count as `_OTHER`. Default 512. */
  readonly maxKeys?: number;
}

export interface TrafficTotals {
  readonly requests: number;
  readonly errors: number;
  /** Median latency in ms over the window; null with no timed request. */
  readonly p50Ms: number | null;
  readonly p95Ms: number | null;
  /** Requests by tag (`error.type` for routes, the cache's outcome for upstreams). */
  readonly tags: Readonly<Record<string, number>>;
}

export interface KeyTraffic extends TrafficTotals {
  readonly key: string;
}

export interface GroupTraffic extends TrafficTotals {
  readonly windowMinutes: number;
  /** Requests and errors per minute, oldest first, `historyMinutes` long, the current minute last. */
  readonly perMinute: ReadonlyArray<{ readonly requests: number; readonly errors: number }>;
  /** Each key seen in the window, most requests first. */
  readonly keys: readonly KeyTraffic[];
}

/** One sample: how long it took (undefined: not timed), whether it failed, and its tag. */
export interface TrafficSample {
  readonly ms?: number;
  readonly error?: boolean;
  readonly tag?: string;
}

const MINUTE = 60_000;
const BUCKETS = 64;
const BASE_MS = 0.05;
const GROWTH = 1.25;
const LOG_GROWTH = Math.log(GROWTH);
const MAX_TAGS = 16;
export const OTHER_KEY = '_OTHER';

interface Slot {
  minute: number;
  requests: number;
  errors: number;
  timed: number;
  latency: Uint32Array | undefined;
  tags: Map<string, number> | undefined;
}

export interface TrafficWindow {
  record(group: string, key: string, sample: TrafficSample): void;
  /** The window's totals for `group`, with a row per key. */
  group(group: string): GroupTraffic;
}

export function createTrafficWindow(options: TrafficWindowOptions = {}): TrafficWindow {
  const now = options.now ?? Date.now;
  const windowMinutes = options.windowMinutes ?? 5;
  const history = Math.max(windowMinutes, options.historyMinutes ?? 15);
  const maxKeys = options.maxKeys ?? 512;
  const groups = new Map<string, Map<string, Slot[]>>();

  function slotFor(slots: Slot[], minute: number): Slot {
    const index = minute % history;
    let slot = slots[index];
    if (slot === undefined) {
      slot = { minute, requests: 0, errors: 0, timed: 0, latency: undefined, tags: undefined };
      slots[index] = slot;
    } else if (slot.minute !== minute) {
      slot.minute = minute;
      slot.requests = 0;
      slot.errors = 0;
      slot.timed = 0;
      slot.latency?.fill(0);
      slot.tags?.clear();
    }
    return slot;
  }

  /** Forgets one key with nothing in the history (never `_OTHER`); whether there was one. */
  function forgetIdle(keys: Map<string, Slot[]>, current: number): boolean {
    for (const [key, slots] of keys) {
      if (key !== OTHER_KEY && slots.every((slot) => slot === undefined || current - slot.minute >= history)) {
        keys.delete(key);
        return true;
      }
    }
    return false;
  }

  return {
    record(groupName, key, sample) {
      let keys = groups.get(groupName);
      if (keys === undefined) groups.set(groupName, (keys = new Map()));
      let slots = keys.get(key);
      if (slots === undefined) {
        if (keys.size >= maxKeys && !forgetIdle(keys, Math.floor(now() / MINUTE))) key = OTHER_KEY;
        slots = keys.get(key);
        if (slots === undefined) keys.set(key, (slots = []));
      }
      const slot = slotFor(slots, Math.floor(now() / MINUTE));
      slot.requests++;
      if (sample.error) slot.errors++;
      if (sample.tag !== undefined) {
        slot.tags ??= new Map();
        if (slot.tags.size < MAX_TAGS || slot.tags.has(sample.tag)) slot.tags.set(sample.tag, (slot.tags.get(sample.tag) ?? 0) + 1);
      }
      if (sample.ms !== undefined) {
        slot.timed++;
        (slot.latency ??= new Uint32Array(BUCKETS))[bucketOf(sample.ms)]!++;
      }
    },

    group(groupName) {
      const current = Math.floor(now() / MINUTE);
      const perMinute = Array.from({ length: history }, () => ({ requests: 0, errors: 0 }));
      const total = new Accumulator();
      const rows: KeyTraffic[] = [];
      for (const [key, slots] of groups.get(groupName) ?? []) {
        const row = new Accumulator();
        for (const slot of slots) {
          if (slot === undefined) continue;
          const age = current - slot.minute;
          if (age < 0 || age >= history) continue;
          const point = perMinute[history - 1 - age]!;
          point.requests += slot.requests;
          point.errors += slot.errors;
          if (age < windowMinutes) row.add(slot);
        }
        if (row.requests > 0) {
          rows.push({ key, ...row.totals() });
          total.add(row);
        }
      }
      rows.sort((a, b) => b.requests - a.requests || a.key.localeCompare(b.key));
      return { windowMinutes, ...total.totals(), perMinute, keys: rows };
    },
  };
}

/** Sums slots, and reads percentiles off the summed histogram. */
class Accumulator {
  requests = 0;
  errors = 0;
  timed = 0;
  readonly latency = new Uint32Array(BUCKETS);
  readonly tags = new Map<string, number>();

  add(slot: Slot | Accumulator): void {
    this.requests += slot.requests;
    this.errors += slot.errors;
    this.timed += slot.timed;
    if (slot.latency) for (let i = 0; i < BUCKETS; i++) this.latency[i]! += slot.latency[i]!;
    if (slot.tags) for (const [tag, count] of slot.tags) this.tags.set(tag, (this.tags.get(tag) ?? 0) + count);
  }

  totals(): TrafficTotals {
    return {
      requests: this.requests,
      errors: this.errors,
      p50Ms: this.percentile(0.5),
      p95Ms: this.percentile(0.95),
      tags: Object.fromEntries([...this.tags].sort((a, b) => b[1] - a[1])),
    };
  }

  private percentile(q: number): number | null {
    if (this.timed === 0) return null;
    const rank = Math.max(1, Math.ceil(q * this.timed));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.latency[i]!;
      if (seen >= rank) return roundMs(middleOf(i));
    }
    return roundMs(middleOf(BUCKETS - 1));
  }
}

/** Bucket 0 holds up to 0.05 ms; bucket i ≥ 1 holds [0.05·1.25^(i-1), 0.05·1.25^i); the last, everything above. */
export function bucketOf(ms: number): number {
  if (!(ms > BASE_MS)) return 0;
  return Math.min(BUCKETS - 1, 1 + Math.floor(Math.log(ms / BASE_MS) / LOG_GROWTH));
}

function middleOf(bucket: number): number {
  return bucket === 0 ? BASE_MS / 2 : BASE_MS * Math.pow(GROWTH, bucket - 0.5);
}

/** Three significant digits: the estimate is not better than that. */
function roundMs(ms: number): number {
  return Number(ms.toPrecision(3));
}
