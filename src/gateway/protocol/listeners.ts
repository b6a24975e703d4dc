/**
 * A route's 2026-07-28 `subscriptions/listen` streams on this instance, by owner (the principal,
 * or the client address on an open route). A change concerns either every caller (a module's
 * `ctx.notify`, a `shared` connection's list changes and updates) or one (the connection one
 * caller's requests use, on a `principal` or `session` route). The SDK's listen router tells a
 * change to every stream on its handler's bus, so each owner's streams are served by a handler of
 * their own (`createMcpHandler` with the `bus` option, the SDK's documented seam), whose bus
 * carries that owner's changes and the route's: one caller's changes never reach another's
 * streams. An owner's handler lives while it has a stream open, so what this keeps follows the
 * streams open, not the callers seen. The streams are capped per route and, so that one caller
 * cannot take them all, per owner.
 */
import type { ServerResponse } from 'node:http';
import {
  createMcpHandler,
  InMemoryServerEventBus,
  type McpHttpHandler,
  type McpServerFactory,
  type ServerEventBus,
  type ServerNotifier,
} from '@modelcontextprotocol/server';
import type { Milliseconds } from '../config/units.js';
import { shuttingDown } from '../errors.js';

/**
 * Listen streams one route may have open on an instance, whoever owns them: the SDK's own default
 * for one handler (`maxSubscriptions`), which was the route's bound when all shared one.
 */
export const MAX_LISTEN_STREAMS = 1024;

/**
 * Listen streams one owner may have open on a route, of {@link MAX_LISTEN_STREAMS}: enough for
 * every window of a busy client, and few enough that one caller cannot take the route's all.
 */
export const MAX_LISTEN_STREAMS_PER_OWNER = 64;

export interface ListenersOptions {
  /** Builds the server whose capabilities a listen is acknowledged with. */
  readonly factory: McpServerFactory;
  /** The route's bus: what is published on it reaches every owner's streams. */
  readonly bus: ServerEventBus;
  readonly keepAlive: Milliseconds;
  readonly onerror: (error: Error) => void;
  readonly max?: number;
  /** Listen streams one owner may have open; default {@link MAX_LISTEN_STREAMS_PER_OWNER}. */
  readonly maxPerOwner?: number;
}

/** What a listen asked for: a handler to serve it with, or the cap it would pass and why. */
export type ListenAdmission =
  | { readonly kind: 'opened'; readonly handler: McpHttpHandler }
  | { readonly kind: 'refused'; readonly cap: 'route' | 'owner'; readonly message: string }
  /** The client went away before its listen was served (an await on the way, such as a token's check): nothing to open. */
  | { readonly kind: 'gone' };

export interface Listeners {
  /**
   * The handler to serve a listen stream from `owner` with, counted until `res` closes; refused
   * when the route has {@link MAX_LISTEN_STREAMS} open, or `owner` has
   * {@link MAX_LISTEN_STREAMS_PER_OWNER} (answered as the SDK answers past its cap: -32603).
   */
  open(owner: string, res: ServerResponse): ListenAdmission;
  /** Tells `owner`'s streams of a change, and no one else's (nothing when it has none open). */
  of(owner: string): ServerNotifier;
  /** Owners with a stream open: each has a handler and a bus, and no one else does. */
  readonly owners: number;
  /** Ends every stream, gracefully (the SDK's empty `subscriptions/listen` result); no new one opens after. */
  close(): Promise<void>;
}

interface Owner {
  readonly handler: McpHttpHandler;
  streams: number;
}

export function createListeners(options: ListenersOptions): Listeners {
  const { factory, bus, onerror } = options;
  const max = options.max ?? MAX_LISTEN_STREAMS;
  const maxPerOwner = options.maxPerOwner ?? MAX_LISTEN_STREAMS_PER_OWNER;
  const owners = new Map<string, Owner>();
  let streams = 0;
  let closed = false;

  function ownerOf(owner: string): Owner {
    let entry = owners.get(owner);
    if (!entry) {
      const handler = createMcpHandler(factory, {
        legacy: 'reject',
        onerror,
        keepAliveMs: options.keepAlive,
        bus: ownerBus(bus, onerror),
      });
      entry = { handler, streams: 0 };
      owners.set(owner, entry);
    }
    return entry;
  }

  return {
    open(owner, res) {
      // A handler made now would outlive the drain that closed the others.
      if (closed) throw shuttingDown();
      // Its close has fired already, and would never give a place taken now back.
      if (res.destroyed) return { kind: 'gone' };
      if (streams >= max) {
        return { kind: 'refused', cap: 'route', message: `Subscription limit reached: this route has ${max} listen streams open` };
      }
      if ((owners.get(owner)?.streams ?? 0) >= maxPerOwner) {
        return {
          kind: 'refused',
          cap: 'owner',
          message: `Subscription limit reached: this caller has ${maxPerOwner} listen streams open on this route, the most one caller may`,
        };
      }
      const entry = ownerOf(owner);
      entry.streams++;
      streams++;
      res.once('close', () => {
        streams--;
        // Its streams leave the buses as they end (the SDK's teardown): nothing else holds the handler.
        if (--entry.streams === 0 && owners.get(owner) === entry) owners.delete(owner);
      });
      return { kind: 'opened', handler: entry.handler };
    },
    of(owner) {
      // Looked up at each change: an owner without a stream open keeps nothing here.
      const notify = () => owners.get(owner)?.handler.notify;
      return {
        toolsChanged: () => notify()?.toolsChanged(),
        promptsChanged: () => notify()?.promptsChanged(),
        resourcesChanged: () => notify()?.resourcesChanged(),
        resourceUpdated: (uri) => notify()?.resourceUpdated(uri),
      };
    },
    get owners() {
      return owners.size;
    },
    async close() {
      closed = true;
      await Promise.all([...owners.values()].map(({ handler }) => handler.close()));
    },
  };
}

/** One owner's bus: its streams hear what is published on it, and on the route's. */
function ownerBus(route: ServerEventBus, onerror: (error: Error) => void): ServerEventBus {
  const own = new InMemoryServerEventBus(onerror);
  return {
    publish: (event) => own.publish(event),
    subscribe(listener) {
      const fromOwner = own.subscribe(listener);
      const fromRoute = route.subscribe(listener);
      return () => {
        fromOwner();
        fromRoute();
      };
    },
  };
}
