/**
 * When to ask an upstream that keeps failing again: gateway.yaml's `cache.backoff`, for one
 * upstream. The upstream cache keeps one schedule per origin (cache/upstream-backoff.ts, which
 * says what an HTTP answer counts as); a `command:` or `url:` route keeps one for its server
 * (upstreams/pool.ts, which says what a child's exit or a forwarded request counts as), and each
 * `subscriptions/listen` stream a connection keeps open on a 2026-07-28 server one of its own
 * (upstreams/listen-reopening.ts: a stream the upstream ended is a failure). The schedule only
 * decides whether an attempt may go: what to answer instead is the caller's.
 *
 * An attempt asks {@link BackoffSchedule.admit} before it goes, and hands what it came to back to
 * {@link BackoffSchedule.settle} as a verdict: a success (the upstream answered), a failure (with
 * a short label for the status page, and how long the upstream asked to be left alone), or
 * neutral (it says nothing of the upstream: a request the caller gave up, a connection the gateway
 * stopped itself). The rule:
 *
 * - After `afterFailures` consecutive failures the upstream is backed off for `initial`. A failure
 *   with `retryAfter` backs it off at once, for what it asks if that is longer (up to `max`): the
 *   upstream has said when it wants to be asked again.
 * - While backed off every attempt is refused, told the whole seconds until the next try. Once
 *   the interval has passed, the next attempt goes as the probe; until the probe settles every
 *   other is still refused. A probe not settled within `max` is given up on (its caller set no
 *   timeout on an upstream that does not answer): the next attempt goes as a new probe, or the
 *   upstream would stay refused for good.
 * - A failed probe doubles the interval (1 s, 2 s, 4 s … with the defaults), up to `max`. A
 *   neutral one gives its turn back: the next attempt probes.
 * - Any success resets the upstream: no backoff, no failures counted, no probe.
 * - Any other failure (an attempt that went before the backoff began, a probe given up on, an
 *   outcome no attempt was admitted for) is counted, and starts the backoff at the threshold, but
 *   does not lengthen an interval already running: only the probe speaks for the upstream then.
 *
 * No jitter: jitter spreads the retries of many independent clients that would otherwise arrive
 * in lockstep. Here each gateway instance sends one probe per interval whatever its callers do,
 * so even a scaled-out deployment sends a handful of attempts per interval, not a herd; and a
 * fixed schedule lets a tool tell its user exactly when the upstream will be tried again.
 */
import type { Milliseconds } from './config/units.js';

/** The validated `cache.backoff` options and the clock (monotonic, in ms). */
export interface BackoffSettings {
  /** Consecutive failures that start the backoff. */
  readonly afterFailures: number;
  /** The first interval; each failed probe doubles it. */
  readonly initial: Milliseconds;
  /** The longest interval, the cap on what a `retryAfter` can ask for, and how long a probe may stay unsettled. */
  readonly max: Milliseconds;
  readonly now: () => number;
}

/** What an attempt came to. */
export type Verdict =
  | { readonly kind: 'success' }
  /** `error`: a short label for the status page (`"503"`, `"timeout"`, `"exited with code 1"`), never a message or a URL. */
  | { readonly kind: 'failure'; readonly error: string; readonly retryAfter?: Milliseconds }
  | { readonly kind: 'neutral' };

/** Why an attempt may not go now. */
export interface Refusal {
  readonly kind: 'refused';
  /** When to ask again, in whole seconds, at least 1 (a `Retry-After` value). */
  readonly retryAfterSeconds: number;
  /**
   * One attempt (the probe) is trying the upstream now: the next may go as soon as it settles, so
   * `retryAfterSeconds` is 1, a hint to look again, not the end of an interval.
   */
  readonly probing: boolean;
  readonly consecutiveFailures: number;
  readonly lastError?: string;
}

/** Whether an attempt may go now; one that goes is settled with its ticket. */
export type Admission = { readonly kind: 'go'; readonly ticket: Ticket } | Refusal;

/** What an admitted attempt hands back to {@link BackoffSchedule.settle}: the probe's says it is the probe. */
export interface Ticket {
  readonly probe?: Probe;
}

/** An upstream's backoff as the status page and `/status.json` show it. */
export interface BackoffState {
  /** `backingOff`: attempts are refused; `probing`: one attempt is trying the upstream, the others are refused. */
  readonly state: 'ok' | 'backingOff' | 'probing';
  readonly consecutiveFailures: number;
  /** While backing off or probing: whole seconds until the next attempt may go as the probe (0 once it may). */
  readonly retryInSeconds?: number;
  /** While backing off or probing: the current interval, in seconds. */
  readonly intervalSeconds?: number;
  /** The last failure's label, kept after a reset. */
  readonly lastError?: string;
}

export interface BackoffSchedule {
  admit(): Admission;
  /**
   * Counts what an attempt came to. `ticket` is the admission's; without one (an outcome nothing
   * was admitted for, such as a child that crashed long after it started) it counts all the
   * same, but never as the probe's. A ticket counts as the probe's only the first time it is
   * settled, so one may be settled again for a later outcome of the same attempt.
   */
  settle(verdict: Verdict, ticket?: Ticket): void;
  state(): BackoffState;
}

interface Probe {
  readonly startedAt: number;
}

const NOT_PROBE: Ticket = Object.freeze({});

/**
 * @example
 * ```ts
 * const schedule = createBackoffSchedule({ afterFailures: 2, initial: 1000, max: 30_000, now: () => performance.now() });
 * const admission = schedule.admit();
 * if (admission.kind === 'refused') throw unavailable(admission.retryAfterSeconds);
 * try {
 *   const answer = await ask();
 *   schedule.settle({ kind: 'success' }, admission.ticket);
 * } catch (error) {
 *   schedule.settle({ kind: 'failure', error: labelOf(error) }, admission.ticket);
 * }
 * ```
 */
export function createBackoffSchedule(settings: BackoffSettings): BackoffSchedule {
  const { now, afterFailures, initial, max } = settings;
  let failures = 0;
  let lastError: string | undefined;
  /** The current interval while backing off, else undefined. */
  let interval: Milliseconds | undefined;
  /** The clock reading from which the next probe may go. */
  let until = 0;
  let probe: Probe | undefined;

  const probing = (t: number) => probe !== undefined && t - probe.startedAt < max;

  function admit(): Admission {
    if (interval === undefined) return { kind: 'go', ticket: NOT_PROBE };
    const t = now();
    if (t < until || probing(t)) {
      const retryAfterSeconds = Math.max(1, Math.ceil((until - t) / 1000));
      return {
        kind: 'refused',
        retryAfterSeconds,
        probing: t >= until,
        consecutiveFailures: failures,
        ...(lastError ? { lastError } : {}),
      };
    }
    probe = { startedAt: t };
    return { kind: 'go', ticket: { probe } };
  }

  function settle(verdict: Verdict, ticket: Ticket = NOT_PROBE): void {
    const isProbe = ticket.probe !== undefined && ticket.probe === probe;
    if (isProbe) probe = undefined;
    if (verdict.kind === 'neutral') return;
    if (verdict.kind === 'success') {
      failures = 0;
      interval = undefined;
      probe = undefined;
      return;
    }
    failures++;
    lastError = verdict.error;
    const asked = Math.min(max, verdict.retryAfter ?? 0);
    if (isProbe) back(Math.max(Math.min(max, interval! * 2), asked));
    else if (interval === undefined && (failures >= afterFailures || verdict.retryAfter !== undefined)) back(Math.max(initial, asked));
  }

  function back(next: Milliseconds): void {
    interval = next;
    until = now() + next;
  }

  function state(): BackoffState {
    const base = { consecutiveFailures: failures, ...(lastError ? { lastError } : {}) };
    if (interval === undefined) return { state: 'ok', ...base };
    const t = now();
    return {
      state: probing(t) ? 'probing' : 'backingOff',
      ...base,
      retryInSeconds: Math.max(0, Math.ceil((until - t) / 1000)),
      intervalSeconds: interval / 1000,
    };
  }

  return { admit, settle, state };
}
