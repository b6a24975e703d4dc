/**
 * One route's live sessions: bounded by count, per owner and by idle time. A session that leaves
 * the map for any reason (DELETE, idle expiry, eviction, shutdown) has its transport and server
 * closed, not just forgotten.
 *
 * A busy session (a call in flight, an open GET stream) is never evicted and never idles out: at
 * the cap, room is made by closing the least recently used *idle* session, and when every session
 * is busy the newcomer is refused. lru-cache evicts its least recently used entry whatever it is
 * doing, so the order is kept here, in insertion-ordered Maps: a use moves a session to the end.
 */
import type { McpServer, Transport } from '@modelcontextprotocol/server';
import type { Milliseconds } from '../config/units.js';

/** Why a session left the map. */
export type SessionEndReason = 'deleted' | 'expired' | 'evicted' | 'closed' | 'shutdown';

export interface Session {
  readonly id: string;
  readonly server: McpServer;
  readonly transport: Transport;
  /**
   * Whom the session counts against for {@link SessionStoreOptions.maxPerOwner}: the principal on
   * a route with authentication, the client's address on an open one.
   */
  readonly owner: string;
  /** Requests being served right now, open GET streams included. Busy sessions do not expire. */
  active: number;
}

export interface SessionStoreOptions<S extends Session = Session> {
  /** Most sessions kept; a new one beyond it closes the least recently used idle one. */
  maxSessions: number;
  /** Most sessions one owner keeps; a new one beyond it closes that owner's least recently used idle one. */
  maxPerOwner?: number;
  /** A session not used for this long is closed (checked on access and by {@link SessionStore.sweep}). */
  idleTimeout: Milliseconds;
  /** Clock in ms, injectable so tests advance time instead of sleeping. Default `performance.now`. */
  now?: () => number;
  /** Told about every session that ends, after its server is closed. */
  onEnd?: (session: S, reason: SessionEndReason) => void;
}

/** A place held for one new session while its server is built: add it, or cancel. */
export interface Reservation<S extends Session = Session> {
  readonly ok: true;
  add(session: S): void;
  cancel(): void;
}

/** Every session that could make room is busy: of the route (`route`) or of this owner (`owner`). */
export interface Refusal {
  readonly ok: false;
  readonly full: 'route' | 'owner';
  readonly limit: number;
}

export interface SessionStore<S extends Session = Session> {
  /** The session, marking it used; undefined when unknown or idle past its timeout (then it is ended). */
  get(id: string): S | undefined;
  /** The session without marking it used or expiring it. */
  peek(id: string): S | undefined;
  /**
   * Holds a place for a new session of `owner`, closing the least recently used idle session (the
   * owner's own when the owner is at its cap) to make room. Refused when every candidate is busy.
   */
  reserve(owner: string): Reservation<S> | Refusal;
  /**
   * Marks a session busy for the length of one request or stream; call the returned function when
   * it ends. A busy session never expires, and its idle time starts again when it goes quiet.
   */
  use(session: S): () => void;
  /** Ends one session (DELETE, or its transport closed). */
  end(id: string, reason: SessionEndReason): void;
  /** Closes idle sessions past their timeout now; busy ones (open streams, calls in flight) are kept. */
  sweep(): void;
  /** The sessions held, least recently used first. */
  values(): IterableIterator<S>;
  /** Closes every session. */
  closeAll(reason?: SessionEndReason): Promise<void>;
  /** Sessions held (and places reserved), idle ones past their timeout not yet swept excluded. */
  readonly size: number;
}

interface Held<S> {
  readonly session: S;
  lastUsed: number;
}

export function createSessionStore<S extends Session = Session>(options: SessionStoreOptions<S>): SessionStore<S> {
  const { maxSessions, maxPerOwner = maxSessions, idleTimeout, now = () => performance.now(), onEnd } = options;
  if (!Number.isInteger(maxSessions) || maxSessions < 1) throw new RangeError('maxSessions must be a positive integer');
  if (!Number.isInteger(maxPerOwner) || maxPerOwner < 1) throw new RangeError('maxPerOwner must be a positive integer');
  if (!(idleTimeout > 0)) throw new RangeError('idleTimeout must be a positive number of milliseconds');

  /** Least recently used first. */
  const held = new Map<string, Held<S>>();
  /** Each owner's sessions, least recently used first, and the places reserved for it. */
  const owners = new Map<string, { sessions: Map<string, Held<S>>; reserved: number }>();
  let reserved = 0;
  const closing = new Set<Promise<void>>();

  const ownerOf = (owner: string) => {
    let entry = owners.get(owner);
    if (!entry) owners.set(owner, (entry = { sessions: new Map(), reserved: 0 }));
    return entry;
  };
  const forgetOwnerIfEmpty = (owner: string) => {
    const entry = owners.get(owner);
    if (entry && entry.sessions.size === 0 && entry.reserved === 0) owners.delete(owner);
  };
  const isExpired = (entry: Held<S>) => entry.session.active === 0 && now() - entry.lastUsed >= idleTimeout;

  function touch(entry: Held<S>): void {
    entry.lastUsed = now();
    const { id, owner } = entry.session;
    held.delete(id);
    held.set(id, entry);
    const mine = owners.get(owner)?.sessions;
    mine?.delete(id);
    mine?.set(id, entry);
  }

  function remove(id: string, reason: SessionEndReason): void {
    const entry = held.get(id);
    if (!entry) return;
    held.delete(id);
    owners.get(entry.session.owner)?.sessions.delete(id);
    forgetOwnerIfEmpty(entry.session.owner);
    const done = close(entry.session).then(() => onEnd?.(entry.session, reason));
    closing.add(done);
    void done.finally(() => closing.delete(done));
  }

  /** The least recently used idle session among `entries`, if any. */
  function leastRecentlyUsedIdle(entries: Iterable<Held<S>>): Held<S> | undefined {
    for (const entry of entries) if (entry.session.active === 0) return entry;
    return undefined;
  }

  function purgeExpired(): void {
    for (const entry of held.values()) {
      if (entry.session.active > 0) continue;
      // Order is by last use: the first idle session still within its time ends the search.
      if (!isExpired(entry)) break;
      remove(entry.session.id, 'expired');
    }
  }

  return {
    get(id) {
      const entry = held.get(id);
      if (!entry) return undefined;
      if (isExpired(entry)) {
        remove(id, 'expired');
        return undefined;
      }
      touch(entry);
      return entry.session;
    },
    peek: (id) => held.get(id)?.session,
    reserve(owner) {
      const mine = ownerOf(owner);
      if (mine.sessions.size + mine.reserved >= maxPerOwner) {
        const victim = leastRecentlyUsedIdle(mine.sessions.values());
        if (!victim) {
          forgetOwnerIfEmpty(owner);
          return { ok: false, full: 'owner', limit: maxPerOwner };
        }
        remove(victim.session.id, isExpired(victim) ? 'expired' : 'evicted');
      }
      if (held.size + reserved >= maxSessions) {
        const victim = leastRecentlyUsedIdle(held.values());
        if (!victim) {
          forgetOwnerIfEmpty(owner);
          return { ok: false, full: 'route', limit: maxSessions };
        }
        remove(victim.session.id, isExpired(victim) ? 'expired' : 'evicted');
      }
      const place = ownerOf(owner);
      place.reserved++;
      reserved++;
      let settled = false;
      const settle = () => {
        if (settled) return false;
        settled = true;
        place.reserved--;
        reserved--;
        return true;
      };
      return {
        ok: true,
        add(session) {
          if (!settle()) throw new Error('a reservation adds one session');
          if (session.owner !== owner) throw new Error(`reserved for ${owner}, not ${session.owner}`);
          const entry: Held<S> = { session, lastUsed: now() };
          held.set(session.id, entry);
          ownerOf(owner).sessions.set(session.id, entry);
        },
        cancel() {
          if (settle()) forgetOwnerIfEmpty(owner);
        },
      };
    },
    use(session) {
      session.active++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        session.active--;
        const entry = held.get(session.id);
        if (entry?.session === session) touch(entry);
      };
    },
    end: remove,
    sweep: purgeExpired,
    *values() {
      for (const entry of held.values()) yield entry.session;
    },
    async closeAll(reason = 'shutdown') {
      for (const id of [...held.keys()]) remove(id, reason);
      await Promise.all(closing);
    },
    get size() {
      let live = reserved;
      for (const entry of held.values()) if (!isExpired(entry)) live++;
      return live;
    },
  };
}

async function close(session: Session): Promise<void> {
  // McpServer.close() closes its transport too; the transport's own close is idempotent.
  await session.server.close().catch(() => undefined);
  await session.transport.close().catch(() => undefined);
}
