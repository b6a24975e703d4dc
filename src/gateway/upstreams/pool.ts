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
 * - An upstream that goes away unasked (or cannot be reached) `backoff.afterFailures` times in a
 *   row without answering anything in between is left alone for a while (`cache.backoff`: 1 s,
 *   doubling to 30 s by default); requests meanwhile get a fast `upstream_unavailable` that says
 *   when it will be tried again. Any answer resets it.
 */
import { GatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { UpstreamConnection } from './connection.js';
import { upstreamError } from './bridge.js';

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
  readonly now?: () => number;
}

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
  /** While restarts are held back: whole seconds until the next try. */
  readonly retryInSeconds?: number;
}

interface Slot {
  readonly key: string;
  holders: number;
  busy: number;
  lastUsed: number;
  init: ConnectionInit;
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
  private started = 0;
  private restarts = 0;
  private failures = 0;
  private holdUntil = 0;
  private interval = 0;
  private closed = false;
  private readonly now: () => number;

  constructor(private readonly options: PoolOptions) {
    this.now = options.now ?? Date.now;
  }

  /** A hold on a key's connection, until {@link Lease.release}. */
  lease(key: string, init: ConnectionInit): Lease {
    let slot = this.slots.get(key);
    if (!slot) {
      slot = {
        key,
        holders: 0,
        busy: 0,
        lastUsed: this.now(),
        init,
        connection: undefined,
        opening: undefined,
        idleTimer: undefined,
        stopping: new Set(),
        lost: false,
      };
      this.slots.set(key, slot);
    }
    const held = slot;
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
   * A request could not reach the upstream (a remote's network failure): counted like a lost
   * connection, so a remote that keeps failing is left alone for a while.
   */
  unreachable(): void {
    this.failed();
  }

  /** While the upstream is left alone: ms until it is tried again; else 0. */
  holdingBack(): number {
    return Math.max(0, this.holdUntil - this.now());
  }

  /** The upstream answered: it is up, so restarts are not held back. */
  answered(): void {
    this.failures = 0;
    this.interval = 0;
    this.holdUntil = 0;
  }

  status(): PoolStatus {
    const open = [...this.slots.values()].filter((slot) => slot.connection?.isOpen || slot.opening).length;
    const wait = this.holdUntil - this.now();
    return {
      open,
      max: this.options.max,
      started: this.started,
      restarts: this.restarts,
      ...(wait > 0 ? { retryInSeconds: Math.ceil(wait / 1000) } : {}),
    };
  }

  /** Stops every connection (the gateway is stopping). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.slots.values()].map((slot) => this.retire(slot)));
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
    if (this.closed) throw new GatewayError('shutting_down', 'The gateway is shutting down', {}, { 'Retry-After': '1' });
    const wait = this.holdUntil - this.now();
    if (wait > 0) {
      throw upstreamError(
        'upstream_unavailable',
        `${this.options.describeUpstream} keeps stopping before it answers; the gateway will start it again in ${Math.ceil(wait / 1000)} s`,
      );
    }
    this.makeRoom(slot);
    const init = slot.init;
    // A session resumed from its id reaches its upstream session once; a reopen starts afresh.
    slot.init = { ...init, resume: undefined };
    let connection: UpstreamConnection;
    try {
      connection = await this.options.open(slot.key, init);
    } catch (error) {
      this.failed();
      throw error;
    }
    this.started++;
    if (slot.lost) this.restarts++;
    slot.lost = false;
    slot.connection = connection;
    slot.lastUsed = this.now();
    void connection.closed.then(() => {
      if (slot.connection === connection) slot.connection = undefined;
      if (slot.stopping.delete(connection)) return;
      slot.lost = true;
      this.failed();
      this.options.log.warn({ key: keyKind(slot.key), how: connection.exitDescription() }, 'upstream went away');
      if (slot.holders === 0) this.slots.delete(slot.key);
    });
    if (this.closed) {
      await this.stop(slot, connection);
      throw new GatewayError('shutting_down', 'The gateway is shutting down', {}, { 'Retry-After': '1' });
    }
    return connection;
  }

  private failed(): void {
    this.failures++;
    const { afterFailures, initial, max } = this.options.backoff;
    if (this.failures < afterFailures) return;
    this.interval = this.interval === 0 ? initial : Math.min(max, this.interval * 2);
    this.holdUntil = this.now() + this.interval;
  }

  /** At the cap, stops the least recently used connection with no call in flight. */
  private makeRoom(slot: Slot): void {
    const open = [...this.slots.values()].filter((other) => other !== slot && (other.connection?.isOpen || other.opening));
    if (open.length < this.options.max) return;
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
    await connection.close();
  }
}

/** What a key is, for logs: never the session or the caller it names. */
function keyKind(key: string): string {
  return key.slice(0, key.indexOf(':') === -1 ? key.length : key.indexOf(':'));
}
