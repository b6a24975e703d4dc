/**
 * The upstream connections of one `command:` or `url:` route, by isolation key: a 2025 session's
 * own (`session:<n>`), a caller's (`principal:<owner>`), or the route's one (`shared`).
 *
 * - A key's connection is opened on first use and again after it went away (a crashed child):
 *   the key's holders keep working, with a fresh upstream.
 * - At most `max` are open (children on a `command:` route). A new one beyond it stops the least
 *   recently used connection with no call in flight; its holders get a new one when they next
 *   ask. When every one is busy, the newcomer gets 503 `processes_full`.
 * - A session's connection is stopped when the session ends; a shared or per-caller one when it
 *   has had no holder for `idleTimeout`.
 * - An upstream that goes away unasked, cannot be opened or (a remote) cannot be reached
 *   `backoff.afterFailures` times in a row without answering anything in between is left alone
 *   for a while, by the rule the cache applies to its upstream hosts (backoff-schedule.ts, with
 *   the route as the one key: 1 s, doubling to 30 s by default); requests meanwhile get a fast
 *   `upstream_unavailable` that says when it will be tried again. Once the interval has passed,
 *   one attempt tries the upstream (the probe) while the others still get that error; any answer
 *   resets it.
 *
 * What counts as what, for the schedule:
 * - A failure: a connection that could not be opened (a child that exited or did not answer its
 *   first request in time, a remote that refused), one that went away unasked, and on a `url:`
 *   route a forwarded request that could not reach the upstream (a network failure, a 5xx).
 * - A success: an answer to a request the gateway sends on an open connection, a result or a
 *   JSON-RPC error alike: a forwarded request, or the tool listing a 2026-07-28 request makes
 *   first (tool-index.ts), which may be all a child started for a `server/discover` is asked.
 *   Opening a connection is not one (its handshake, `initialize` or `server/discover`): a child
 *   that answers that and crashes on every call is a failing server, and its restarts must be
 *   held back.
 *   A child the connection stopped as hung (no answer to a ping after a call timed out,
 *   connection.ts) went away unasked too.
 * - Neither: a request cancelled or timed out, a connection the pool stopped itself, and on a
 *   `command:` route a request that failed as its child went away (the loss counts once, where
 *   the connection closed).
 *
 * Where the probe is, by kind (see {@link PoolOptions.admitRequests}):
 * - `command:` calls go to a running child, so only starting one asks the schedule, and the
 *   probe is a child: started after the interval, it stays the probe until it answers a request
 *   (success), goes away (failure: the interval doubles) or is stopped by the pool (its turn
 *   goes back). Meanwhile no other child starts, and the children already running go on serving.
 * - `url:` every forwarded request reaches the remote anew, so every request asks too, and the
 *   probe is one request (a forwarded one, or that tool listing). Opening a connection asks as
 *   well (it reaches the remote), and gives its turn back once open: the requests on it say
 *   whether the remote answers.
 *
 * Where this differs from the cache's upstream hosts, on purpose:
 * - A forwarded request that times out (`callTimeout`) is neither: a tool call may take long and
 *   still be answered; the cache's callers set short timeouts for requests that answer at once.
 * - A 4xx answer other than 429 is neither, not a success: the SDK's client reports it as an
 *   error with the status only (a remote's 404 for a forgotten session renews it, bridge.ts).
 * - No `Retry-After`: the SDK's client does not hand over an answer's headers, so a remote's 429
 *   or 503 counts as a failure like any other.
 * - Once backing off, more failures of attempts that went before it began do not lengthen the
 *   interval (only a failed probe does), as for the cache: a burst of calls that failed together
 *   is one outage, not several.
 */
import { SdkError, SdkErrorCode } from '@modelcontextprotocol/client';
import {
  createBackoffSchedule,
  type BackoffSchedule,
  type BackoffState,
  type Refusal,
  type Ticket,
  type Verdict,
} from '../backoff-schedule.js';
import { GatewayError, shuttingDown } from '../errors.js';
import type { Logger } from '../logger.js';
import { UpstreamOpenError, type UpstreamConnection } from './connection.js';
import { upstreamError } from './bridge.js';
import { endedUnanswered } from './unanswered-streams.js';

export interface PoolOptions {
  readonly max: number;
  readonly idleTimeout: number;
  readonly log: Logger;
  /** Opens a new connection for a key; `init` is what its first holder brought. */
  readonly open: (key: string, init: ConnectionInit) => Promise<UpstreamConnection>;
  /** `the server process of route "x"`, for errors. */
  readonly describeUpstream: string;
  /** gateway.yaml's `cache.backoff`: the same rule as for the cache's upstream hosts. */
  readonly backoff: { readonly afterFailures: number; readonly initial: number; readonly max: number };
  /**
   * Whether each forwarded request asks the backoff too ({@link ConnectionPool.pass}), as on a
   * `url:` route, where every request reaches the remote anew; else (a `command:` route) only
   * opening a connection does, and a request's failure to reach its child is that child's loss.
   */
  readonly admitRequests: boolean;
  /** Monotonic clock in ms, for the backoff and for which connection was used last; default `performance.now`. */
  readonly now?: () => number;
}

/** What a forwarded request came to, as {@link ConnectionPool.pass} is told. */
export type RequestOutcome =
  /** A result or a JSON-RPC error: the upstream is up. */
  | { readonly kind: 'answered' }
  /** No answer because the upstream could not be reached: a network failure, a 5xx. */
  | { readonly kind: 'unreachable'; readonly error: unknown }
  /** Cancelled, timed out, or its connection closed (which counts where it closed). */
  | { readonly kind: 'neither' };

/** What a connection is opened with: the first holder's client details and resume state. */
export interface ConnectionInit {
  readonly capabilities: Record<string, unknown>;
  readonly clientInfo: { name: string; version: string } | undefined;
  /** A 2025 session's own connection: it speaks 2025 upstream too, where the upstream does. */
  readonly legacy: boolean;
  /** Upstream session state sealed in a resumed session id (remote routes). */
  readonly resume: string | undefined;
}

export interface Lease {
  /** The key's connection: the open one, or a new one. */
  connection(): Promise<UpstreamConnection>;
  /** A call is under way on this lease (so its connection is not stopped to make room). */
  busy(): () => void;
  /**
   * Replaces the key's connection with a new one, not counted as a failure: the upstream has
   * forgotten its session (a remote answered 404 for it).
   */
  renew(stale: UpstreamConnection): Promise<void>;
  release(): void;
}

export interface PoolStatus {
  /** Connections open now (children running on a `command:` route). */
  readonly open: number;
  readonly max: number;
  /** Connections opened since start, and how many of those replaced one that went away unasked. */
  readonly started: number;
  readonly restarts: number;
  /** The route's backoff, in the shape of each of the cache's upstream hosts (without an origin: the route is the one key). */
  readonly backoff: BackoffState;
}

interface Slot {
  readonly key: string;
  holders: number;
  busy: number;
  lastUsed: number;
  init: ConnectionInit;
  /** Whether opening it at the cap may stop another key's idle connection: once any lease of it may (see {@link ConnectionPool.lease}). */
  makesRoom: boolean;
  connection: UpstreamConnection | undefined;
  opening: Promise<UpstreamConnection> | undefined;
  idleTimer: NodeJS.Timeout | undefined;
  /** Stopped by the pool (evicted, released, closed): its going away is no crash. */
  stopping: Set<UpstreamConnection>;
  /** Whether the key's connection went away unasked before: the next open is a restart. */
  lost: boolean;
}

export class ConnectionPool {
  private readonly slots = new Map<string, Slot>();
  /** Connections being stopped, until they are gone: {@link close} waits for them too. */
  private readonly stops = new Set<Promise<unknown>>();
  private started = 0;
  private restarts = 0;
  private closed = false;
  private readonly now: () => number;
  private readonly backoff: BackoffSchedule;

  constructor(private readonly options: PoolOptions) {
    this.now = options.now ?? (() => performance.now());
    this.backoff = createBackoffSchedule({ ...options.backoff, now: this.now });
  }

  /**
   * A hold on a key's connection, until {@link Lease.release}. With `makesRoom: false` (the
   * gateway's own bookkeeping), opening it at the cap fails with processes_full instead of
   * stopping another key's idle connection.
   */
  lease(key: string, init: ConnectionInit, { makesRoom = true }: { makesRoom?: boolean } = {}): Lease {
    let slot = this.slots.get(key);
    if (!slot) {
      slot = {
        key,
        holders: 0,
        busy: 0,
        lastUsed: this.now(),
        init,
        makesRoom,
        connection: undefined,
        opening: undefined,
        idleTimer: undefined,
        stopping: new Set(),
        lost: false,
      };
      this.slots.set(key, slot);
    }
    const held = slot;
    held.makesRoom ||= makesRoom;
    held.holders++;
    clearTimeout(held.idleTimer);
    held.idleTimer = undefined;
    let released = false;
    return {
      connection: () => this.connectionOf(held),
      busy: () => {
        held.busy++;
        held.lastUsed = this.now();
        let done = false;
        return () => {
          if (done) return;
          done = true;
          held.busy--;
          held.lastUsed = this.now();
        };
      },
      renew: async (stale) => {
        if (held.connection === stale) await this.stop(held, stale);
      },
      release: () => {
        if (released) return;
        released = true;
        held.holders--;
        if (held.holders > 0) return;
        if (key.startsWith('session:') || this.closed) this.retire(held);
        else held.idleTimer = setTimeout(() => held.holders === 0 && this.retire(held), this.options.idleTimeout).unref();
      },
    };
  }

  /**
   * Before a request is forwarded. With {@link PoolOptions.admitRequests}, throws a fast
   * `upstream_unavailable` while the upstream is left alone (or another request is probing it).
   * Returns where to say what the request came to; the first call counts, later ones are ignored.
   */
  pass(): (outcome: RequestOutcome) => void {
    let ticket: Ticket | undefined;
    if (this.options.admitRequests) {
      const admission = this.backoff.admit();
      if (admission.kind === 'refused') throw this.unavailable(admission);
      ticket = admission.ticket;
    }
    let told = false;
    return (outcome) => {
      if (told) return;
      told = true;
      this.backoff.settle(this.verdictOf(outcome), ticket);
    };
  }

  status(): PoolStatus {
    const open = [...this.slots.values()].filter((slot) => slot.connection?.isOpen || slot.opening).length;
    return {
      open,
      max: this.options.max,
      started: this.started,
      restarts: this.restarts,
      backoff: this.backoff.state(),
    };
  }

  /** Stops every connection (the gateway is stopping). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.slots.values()].map((slot) => this.retire(slot)));
    // And those already stopping (an ended session's, one stopped to make room): a child still
    // between its stdin's end and its exit would otherwise be killed by the exit hook instead.
    await Promise.all(this.stops);
  }

  private async connectionOf(slot: Slot): Promise<UpstreamConnection> {
    if (slot.connection?.isOpen) {
      slot.lastUsed = this.now();
      return slot.connection;
    }
    slot.opening ??= this.open(slot).finally(() => (slot.opening = undefined));
    return slot.opening;
  }

  private async open(slot: Slot): Promise<UpstreamConnection> {
    if (this.closed) throw shuttingDown();
    const admission = this.backoff.admit();
    if (admission.kind === 'refused') throw this.unavailable(admission);
    const { ticket } = admission;
    try {
      this.makeRoom(slot);
    } catch (error) {
      this.backoff.settle(NEUTRAL, ticket);
      throw error;
    }
    const init = slot.init;
    // A session resumed from its id reaches its upstream session once; a reopen starts afresh.
    slot.init = { ...init, resume: undefined };
    let connection: UpstreamConnection;
    try {
      connection = await this.options.open(slot.key, init);
    } catch (error) {
      this.backoff.settle({ kind: 'failure', error: failureLabel(error) }, ticket);
      throw error;
    }
    // A remote's requests each ask for themselves; a child stays the probe (if it is) until it answers a request.
    if (this.options.admitRequests) this.backoff.settle(NEUTRAL, ticket);
    this.started++;
    if (slot.lost) this.restarts++;
    slot.lost = false;
    slot.connection = connection;
    slot.lastUsed = this.now();
    void connection.closed.then(() => {
      if (slot.connection === connection) slot.connection = undefined;
      if (slot.stopping.delete(connection)) {
        this.backoff.settle(NEUTRAL, ticket);
        return;
      }
      slot.lost = true;
      this.backoff.settle({ kind: 'failure', error: connection.exitDescription() }, ticket);
      this.options.log.warn({ key: keyKind(slot.key), how: connection.exitDescription() }, 'upstream went away');
      if (slot.holders === 0) this.slots.delete(slot.key);
    });
    if (this.closed) {
      await this.stop(slot, connection);
      throw shuttingDown();
    }
    return connection;
  }

  /** The fast answer while the upstream is left alone: a child that is not started, a remote that is not asked. */
  private unavailable({ retryAfterSeconds, probing }: Refusal): Error {
    const { describeUpstream, admitRequests } = this.options;
    // While the probe tries it, the next attempt may go as soon as the probe settles: no interval to name.
    const when = probing
      ? `one ${admitRequests ? 'request' : 'new server process'} is trying it now; retry in ${retryAfterSeconds} s`
      : `the gateway will ${admitRequests ? 'try' : 'start'} it again in ${retryAfterSeconds} s`;
    return upstreamError(
      'upstream_unavailable',
      admitRequests
        ? `${describeUpstream} is unavailable (backing off after repeated failures); ${when}`
        : `${describeUpstream} keeps stopping before it answers; ${when}`,
    );
  }

  private verdictOf(outcome: RequestOutcome): Verdict {
    if (outcome.kind === 'answered') return SUCCESS;
    if (outcome.kind === 'unreachable' && this.options.admitRequests) return { kind: 'failure', error: failureLabel(outcome.error) };
    return NEUTRAL;
  }

  /** At the cap, stops the least recently used connection with no call in flight. */
  private makeRoom(slot: Slot): void {
    const open = [...this.slots.values()].filter((other) => other !== slot && (other.connection?.isOpen || other.opening));
    if (open.length < this.options.max) return;
    if (!slot.makesRoom) {
      throw new GatewayError(
        'processes_full',
        `Route busy: all ${this.options.max} upstream connections (maxProcesses) are in use, and the gateway does not stop a session's process for its own work; tried again later`,
        {},
        { 'Retry-After': '1' },
      );
    }
    const idle = open.filter((other) => other.busy === 0 && !other.opening).sort((a, b) => a.lastUsed - b.lastUsed)[0];
    if (!idle) {
      throw new GatewayError(
        'processes_full',
        `Route busy: all ${this.options.max} upstream connections (maxProcesses) are busy (a call in flight, or a listen stream watching resources); retry shortly`,
        {},
        { 'Retry-After': '1' },
      );
    }
    this.options.log.info({ key: keyKind(idle.key) }, 'upstream stopped to make room');
    void this.stop(idle, idle.connection!);
    if (idle.holders === 0) this.slots.delete(idle.key);
  }

  private async retire(slot: Slot): Promise<void> {
    clearTimeout(slot.idleTimer);
    if (this.slots.get(slot.key) === slot) this.slots.delete(slot.key);
    const connection = slot.connection ?? (await slot.opening?.catch(() => undefined));
    if (connection) await this.stop(slot, connection);
  }

  private async stop(slot: Slot, connection: UpstreamConnection): Promise<void> {
    slot.stopping.add(connection);
    if (slot.connection === connection) slot.connection = undefined;
    const closing = connection.close();
    const stopped = closing.catch(() => undefined);
    this.stops.add(stopped);
    try {
      await closing;
    } finally {
      this.stops.delete(stopped);
    }
  }
}

const SUCCESS: Verdict = { kind: 'success' };
const NEUTRAL: Verdict = { kind: 'neutral' };

/**
 * A failure as the status page names it (`lastError`): how a child ended, an HTTP status, a
 * network error code, `timeout`, a response stream that ended without the answer. Never a message, which may carry the command's path, the URL
 * (with a key in its query) or the upstream's own words.
 */
function failureLabel(error: unknown): string {
  for (let cause: unknown = error; cause instanceof Error; cause = cause.cause) {
    if (cause instanceof UpstreamOpenError) return cause.reason;
    if (endedUnanswered(cause)) return 'stream ended unanswered';
    if (cause instanceof SdkError) {
      if (cause.code === SdkErrorCode.RequestTimeout) return 'timeout';
      const status = (cause.data as { status?: unknown } | undefined)?.status;
      if (typeof status === 'number') return String(status);
    }
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(code)) return code;
  }
  return 'error';
}

/** What a key is, for logs: never the session or the caller it names. */
function keyKind(key: string): string {
  return key.slice(0, key.indexOf(':') === -1 ? key.length : key.indexOf(':'));
}
