/**
 * One route's live sessions: bounded by count and idle time (lru-cache). A session that leaves the
 * map for any reason (DELETE, idle expiry, eviction at the cap, shutdown) has its transport and
 * server closed, not just forgotten.
 */
import { LRUCache } from 'lru-cache';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { Milliseconds } from './units.js';

/** Why a session left the map. */
export type SessionEndReason = 'deleted' | 'expired' | 'evicted' | 'closed' | 'shutdown';

export interface Session {
  readonly id: string;
  readonly server: McpServer;
  readonly transport: Transport;
  /** Requests being served right now, open GET streams included. Busy sessions do not expire. */
  active: number;
}

export interface SessionStoreOptions<S extends Session = Session> {
  /** Most sessions kept; adding one more closes the least recently used. */
  maxSessions: number;
  /** A session not used for this long is closed (checked on access and by {@link SessionStore.sweep}). */
  idleTimeout: Milliseconds;
  /** Clock in ms, injectable so tests advance time instead of sleeping. Default `performance.now`. */
  now?: () => number;
  /** Told about every session that ends, after its server is closed. */
  onEnd?: (session: S, reason: SessionEndReason) => void;
}

export interface SessionStore<S extends Session = Session> {
  /** The session, marking it used; undefined when unknown or expired. */
  get(id: string): S | undefined;
  add(session: S): void;
  /**
   * Marks a session busy for the length of one request or stream; call the returned function when
   * it ends. A busy session never expires, and its idle time starts again when it goes quiet.
   */
  use(session: S): () => void;
  /** Ends one session (DELETE, or its transport closed). */
  end(id: string, reason: SessionEndReason): void;
  /** Closes idle sessions now; busy ones (open streams, calls in flight) are kept alive. */
  sweep(): void;
  /** Closes every session. */
  closeAll(reason?: SessionEndReason): Promise<void>;
  readonly size: number;
}

const DISPOSE_REASON: Record<LRUCache.DisposeReason, SessionEndReason> = {
  evict: 'evicted',
  expire: 'expired',
  delete: 'deleted',
  set: 'deleted',
  fetch: 'deleted',
};

export function createSessionStore<S extends Session = Session>(options: SessionStoreOptions<S>): SessionStore<S> {
  const { maxSessions, idleTimeout, now = () => performance.now(), onEnd } = options;
  if (!Number.isInteger(maxSessions) || maxSessions < 1) throw new RangeError('maxSessions must be a positive integer');
  if (!(idleTimeout > 0)) throw new RangeError('idleTimeout must be a positive number of milliseconds');

  const endReasons = new Map<string, SessionEndReason>();
  const closing = new Set<Promise<void>>();

  const sessions = new LRUCache<string, S>({
    max: maxSessions,
    ttl: idleTimeout,
    updateAgeOnGet: true,
    perf: { now },
    // lru-cache otherwise reuses one clock reading for 1 ms; an injected clock must be read each time.
    ttlResolution: 0,
    disposeAfter: (session, id, reason) => {
      const why = endReasons.get(id) ?? DISPOSE_REASON[reason];
      endReasons.delete(id);
      busy.delete(id);
      const done = close(session).then(() => onEnd?.(session, why));
      closing.add(done);
      void done.finally(() => closing.delete(done));
    },
  });

  // lru-cache's iteration skips stale entries, so busy sessions are tracked here to be kept alive.
  const busy = new Map<string, S>();
  const touch = (session: S) => {
    // Setting the same value renews its TTL and recency without disposing it.
    if (sessions.peek(session.id, { allowStale: true }) === session) sessions.set(session.id, session);
  };

  return {
    get: (id) => {
      const inUse = busy.get(id);
      if (inUse) touch(inUse);
      return sessions.get(id);
    },
    add: (session) => {
      sessions.set(session.id, session);
    },
    use: (session) => {
      session.active++;
      busy.set(session.id, session);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        if (--session.active === 0) busy.delete(session.id);
        touch(session);
      };
    },
    end: (id, reason) => {
      if (!sessions.has(id)) return;
      endReasons.set(id, reason);
      sessions.delete(id);
    },
    sweep: () => {
      // A GET stream can stay open for hours with no POST: that session is in use, not idle.
      for (const session of busy.values()) touch(session);
      sessions.purgeStale();
    },
    closeAll: async (reason = 'shutdown') => {
      for (const id of [...sessions.keys()]) endReasons.set(id, reason);
      sessions.clear();
      await Promise.all(closing);
    },
    get size() {
      // Expired entries linger until touched or swept; do not count them as live.
      let live = 0;
      for (const id of sessions.keys()) if (sessions.getRemainingTTL(id) > 0) live++;
      return live;
    },
  };
}

async function close(session: Session): Promise<void> {
  // McpServer.close() closes its transport too; the transport's own close is idempotent.
  await session.server.close().catch(() => undefined);
  await session.transport.close().catch(() => undefined);
}
