/**
 * Backing off from an upstream host that keeps failing, so that an outage is not answered with a
 * burst of requests to a service already struggling. Part of the upstream cache: it asks
 * {@link UpstreamBackoff.admit} before a request leaves and reports what came back with
 * {@link UpstreamBackoff.settle}; what to answer instead of a request not admitted is the cache's.
 *
 * The rule, per origin (scheme, host and port):
 * - A failure is a 5xx or a 429 answer, or a request that timed out, was aborted or could not
 *   connect. Any other answer (2xx to 4xx) is a success: the host is up and answering.
 * - After `afterFailures` consecutive failures the host is backed off for `initial`. A 429 or 503
 *   with `Retry-After` backs it off at once, for what it asks if that is longer (up to `max`):
 *   the host has said when it wants to be asked again.
 * - While backed off, no request goes to the host. Once the interval has passed, the next request
 *   goes out as the probe; until the probe settles every other request is still refused.
 * - A failed probe doubles the interval (1 s, 2 s, 4 s … with the defaults), up to `max`.
 * - Any success resets the host: no backoff, no failures counted.
 *
 * No jitter: jitter spreads the retries of many independent clients that would otherwise arrive
 * in lockstep. Here each gateway instance sends one probe per interval whatever its callers do,
 * so even a scaled-out deployment sends a handful of requests per interval, not a herd; and a
 * fixed schedule lets a tool tell its user exactly when the host will be tried again.
 */
import { LRUCache } from 'lru-cache';
import type { Milliseconds } from '../config/units.js';

/** The cache's validated backoff options and its clock. */
export interface BackoffSettings {
  /** Consecutive failures that start the backoff. */
  readonly afterFailures: number;
  /** The first interval; each failed probe doubles it. */
  readonly initial: Milliseconds;
  /** The longest interval, and the cap on what a `Retry-After` can ask for. */
  readonly max: Milliseconds;
  readonly now: () => number;
}

/** One upstream host as the status page shows it. Only the origin: never a path or a query. */
export interface UpstreamStatus {
  /** e.g. `https://api.weather.gov`. */
  readonly origin: string;
  /** `backingOff`: requests are answered without calling it; `probing`: one request is trying it. */
  readonly state: 'ok' | 'backingOff' | 'probing';
  readonly consecutiveFailures: number;
  /** While backing off: whole seconds until the next request is let through as the probe. */
  readonly retryInSeconds?: number;
  /** While backing off or probing: the current interval, in seconds. */
  readonly intervalSeconds?: number;
  /** What the last failure was: the status code (`"503"`) or the kind of error (`"timeout"`, `"ECONNREFUSED"`). */
  readonly lastError?: string;
}

/** Whether a request may go to its host now. */
export type Admission =
  | { readonly kind: 'go'; readonly ticket: Ticket }
  | {
      readonly kind: 'refused';
      /** When to ask again, in whole seconds, at least 1 (a `Retry-After` value). */
      readonly retryAfterSeconds: number;
      readonly consecutiveFailures: number;
      readonly lastError?: string;
    };

/** What a request admitted to its host must hand back to {@link UpstreamBackoff.settle}. */
export interface Ticket {
  readonly origin: string;
  /** Set on the probe: only the current probe's failure lengthens the interval. */
  readonly probe?: Probe;
}

/** What an admitted request came to: an answer (its status and headers are read), or the error fetch threw. */
export type Settlement = { readonly response: Response } | { readonly error: unknown };

export interface UpstreamBackoff {
  /** Asks for `origin` (a URL's `origin`); a request that goes must be settled, once. */
  admit(origin: string): Admission;
  settle(ticket: Ticket, settlement: Settlement): void;
  /** Every host asked recently, by origin. */
  hosts(): UpstreamStatus[];
}

interface Probe {
  readonly startedAt: number;
}

interface Host {
  failures: number;
  lastError?: string;
  /** The current interval while backing off, else undefined. */
  interval?: Milliseconds;
  /** The clock reading from which the next probe may go. */
  until: number;
  probe?: Probe;
}

/** A failure, or a success, or neither (a request fetch refused to send says nothing of the host). */
type Verdict =
  | { readonly kind: 'success' }
  | { readonly kind: 'failure'; readonly error: string; readonly retryAfter?: Milliseconds }
  | { readonly kind: 'neutral' };

// Hosts a module asks are few; the bound only keeps a module that fetches arbitrary hosts from
// growing the map without end. Every request touches its host, so one backing off stays in it.
const MAX_HOSTS = 100;

/**
 * @example
 * ```ts
 * const backoff = createUpstreamBackoff({ afterFailures: 2, initial: 1000, max: 30_000, now: () => performance.now() });
 * const admission = backoff.admit(url.origin);
 * if (admission.kind === 'refused') return unavailable(admission.retryAfterSeconds);
 * try {
 *   const response = await fetch(url);
 *   backoff.settle(admission.ticket, { response });
 * } catch (error) {
 *   backoff.settle(admission.ticket, { error });
 * }
 * ```
 */
export function createUpstreamBackoff(settings: BackoffSettings): UpstreamBackoff {
  const { now, afterFailures, initial, max } = settings;
  const hosts = new LRUCache<string, Host>({ max: MAX_HOSTS });

  function admit(origin: string): Admission {
    const host = hosts.get(origin);
    if (host?.interval === undefined) return { kind: 'go', ticket: { origin } };
    const t = now();
    // A probe that has not settled within `max` was sent by a caller with no timeout to an
    // upstream that does not answer; another may go, or the host would stay refused for good.
    const probing = host.probe !== undefined && t - host.probe.startedAt < max;
    if (t < host.until || probing) {
      const retryAfterSeconds = Math.max(1, Math.ceil((host.until - t) / 1000));
      return { kind: 'refused', retryAfterSeconds, consecutiveFailures: host.failures, lastError: host.lastError };
    }
    const probe: Probe = { startedAt: t };
    host.probe = probe;
    return { kind: 'go', ticket: { origin, probe } };
  }

  function settle(ticket: Ticket, settlement: Settlement): void {
    const verdict = verdictOf(settlement);
    const host = hosts.get(ticket.origin) ?? { failures: 0, until: 0 };
    hosts.set(ticket.origin, host);
    const isProbe = ticket.probe !== undefined && ticket.probe === host.probe;
    if (isProbe) host.probe = undefined;
    if (verdict.kind === 'neutral') return;
    if (verdict.kind === 'success') {
      host.failures = 0;
      host.interval = undefined;
      host.probe = undefined;
      return;
    }
    host.failures++;
    host.lastError = verdict.error;
    const asked = Math.min(max, verdict.retryAfter ?? 0);
    if (isProbe) {
      back(host, Math.max(Math.min(max, host.interval! * 2), asked));
    } else if (host.interval === undefined && (host.failures >= afterFailures || verdict.retryAfter !== undefined)) {
      back(host, Math.max(initial, asked));
    }
    // Otherwise the host is below the threshold, or a request sent before the backoff began (or a
    // probe given up on) has failed too: counted, and the schedule kept.
  }

  function back(host: Host, interval: Milliseconds): void {
    host.interval = interval;
    host.until = now() + interval;
  }

  function list(): UpstreamStatus[] {
    const t = now();
    return [...hosts.entries()]
      .map(([origin, host]): UpstreamStatus => {
        const base = { origin, consecutiveFailures: host.failures, ...(host.lastError ? { lastError: host.lastError } : {}) };
        if (host.interval === undefined) return { ...base, state: 'ok' };
        const timing = { retryInSeconds: Math.max(0, Math.ceil((host.until - t) / 1000)), intervalSeconds: host.interval / 1000 };
        return { ...base, state: host.probe && t - host.probe.startedAt < max ? 'probing' : 'backingOff', ...timing };
      })
      .sort((a, b) => (a.origin < b.origin ? -1 : 1));
  }

  return { admit, settle, hosts: list };
}

function verdictOf(settlement: Settlement): Verdict {
  if ('response' in settlement) {
    const { status, headers } = settlement.response;
    if (status < 500 && status !== 429) return { kind: 'success' };
    const retryAfter = status === 429 || status === 503 ? retryAfterOf(headers) : undefined;
    return { kind: 'failure', error: String(status), ...(retryAfter !== undefined ? { retryAfter } : {}) };
  }
  const { error } = settlement;
  const name = error instanceof Error || error instanceof DOMException ? error.name : '';
  if (name === 'TimeoutError') return { kind: 'failure', error: 'timeout' };
  if (name === 'AbortError') return { kind: 'failure', error: 'aborted' };
  // fetch reports network errors as a TypeError with the cause; one without a cause is a request
  // it refused to send (a GET with a body), which is the module's mistake, not the host's.
  const cause = error instanceof TypeError ? (error as TypeError & { cause?: unknown }).cause : undefined;
  if (cause === undefined) return { kind: 'neutral' };
  const code = typeof cause === 'object' && cause !== null && 'code' in cause ? cause.code : undefined;
  // Only the code: an error's message may carry the URL, and with it a query holding a secret.
  return { kind: 'failure', error: typeof code === 'string' && /^[A-Z0-9_]+$/.test(code) ? code : 'network error' };
}

/**
 * `Retry-After` (RFC 9110 §10.2.3): delta-seconds, or an HTTP-date counted from the response's
 * own `Date`, since this clock is monotonic, not wall time; undefined when absent or malformed.
 */
function retryAfterOf(headers: Headers): Milliseconds | undefined {
  const value = headers.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  const date = Date.parse(headers.get('date') ?? '');
  return Number.isNaN(at) || Number.isNaN(date) ? undefined : Math.max(0, at - date);
}
