/**
 * Backing off from an upstream host that keeps failing, so that an outage is not answered with a
 * burst of requests to a service already struggling. Part of the upstream cache: it asks
 * {@link UpstreamBackoff.admit} before a request leaves and reports what came back with
 * {@link UpstreamBackoff.settle}; what to answer instead of a request not admitted is the cache's.
 *
 * Each origin (scheme, host and port) has its own schedule, by the rule of backoff-schedule.ts
 * (after `afterFailures` failures in a row, one probe per interval, doubling up to `max`, any
 * success resets). What is HTTP's is here:
 * - A failure is a 5xx or a 429 answer, or a request that timed out (its signal's reason is a
 *   `TimeoutError`) or could not connect. Any other answer (2xx to 4xx) is a success: the host is
 *   up and answering. A request fetch refused to send (a GET with a body) is neither: it is the
 *   module's mistake; nor is one its caller cancelled (an `AbortError`).
 * - A 429 or 503 with `Retry-After` backs the host off at once, for what it asks if that is longer
 *   (up to `max`): the host has said when it wants to be asked again.
 * - The hosts asked recently are kept in a bounded LRU, by origin; the status page lists them.
 */
import { LRUCache } from 'lru-cache';
import type { Milliseconds } from '../config/units.js';
import {
  createBackoffSchedule,
  type BackoffSchedule,
  type BackoffSettings,
  type BackoffState,
  type Refusal,
  type Ticket as ScheduleTicket,
  type Verdict,
} from '../backoff-schedule.js';

export type { BackoffSettings };

/** One upstream host as the status page shows it. Only the origin: never a path or a query. */
export interface UpstreamStatus extends BackoffState {
  /** e.g. `https://api.weather.gov`. */
  readonly origin: string;
}

/** Whether a request may go to its host now. */
export type Admission = { readonly kind: 'go'; readonly ticket: Ticket } | Refusal;

/** What a request admitted to its host must hand back to {@link UpstreamBackoff.settle}. */
export interface Ticket {
  readonly origin: string;
  /** The host's schedule's ticket; none when the host had no schedule yet (it was not backing off). */
  readonly schedule?: ScheduleTicket;
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
  const hosts = new LRUCache<string, BackoffSchedule>({ max: MAX_HOSTS });

  function admit(origin: string): Admission {
    const host = hosts.get(origin);
    // A host is remembered from its first answer on (settle): until then nothing holds it back.
    if (!host) return { kind: 'go', ticket: { origin } };
    const admission = host.admit();
    return admission.kind === 'go' ? { kind: 'go', ticket: { origin, schedule: admission.ticket } } : admission;
  }

  function settle(ticket: Ticket, settlement: Settlement): void {
    let host = hosts.get(ticket.origin);
    if (!host) {
      host = createBackoffSchedule(settings);
      hosts.set(ticket.origin, host);
    }
    host.settle(verdictOf(settlement), ticket.schedule);
  }

  function list(): UpstreamStatus[] {
    return [...hosts.entries()]
      .map(([origin, host]): UpstreamStatus => ({ origin, ...host.state() }))
      .sort((a, b) => (a.origin < b.origin ? -1 : 1));
  }

  return { admit, settle, hosts: list };
}

/**
 * Whether fetch refused to send a request at all (a GET with a body, a URL with a user name or
 * password): the module's mistake, not the host's. fetch reports network errors as a TypeError
 * with the cause; one without a cause never left.
 */
export function refusedToSend(error: unknown): boolean {
  return error instanceof TypeError && (error as TypeError & { cause?: unknown }).cause === undefined;
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
  // Only a caller aborts a fetch (fetch's own timeouts are TypeErrors with a cause): a call its
  // caller cancelled says nothing of the host, so one caller cancelling cannot back it off for all.
  if (name === 'AbortError') return { kind: 'neutral' };
  if (refusedToSend(error)) return { kind: 'neutral' };
  const cause = (error as TypeError & { cause?: unknown }).cause;
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
