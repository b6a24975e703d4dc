/**
 * The HMAC codec for 2026-07-28 `requestState` (SEP-2322's multi round-trip results), one per
 * route. The state a server hands the client with `input_required` comes back on the next round,
 * which may reach any instance: so its key is derived from the deployment's session secret (the
 * same on every instance), per route, and the previous secret's key still verifies while keys
 * rotate. Built on the SDK's own codec (`createRequestStateCodec`).
 *
 * State is bound to the caller it was minted for (the spec's user binding): on a route with
 * authentication, one caller's state (leaked, or replayed) is refused to every other caller, as
 * tampered state is. A module seals with `ctx.requestState.mint(payload)` as before: the gateway
 * hands each request's server a codec bound to that request's caller.
 */
import { createRequestStateCodec, type RequestStateCodec, type ServerContext } from '@modelcontextprotocol/server';
import type { SessionKeyring } from '../sessions/session-keys.js';

/** The codec of one caller of a route: `caller` is its principal, `''` on a route without authentication. */
export type RouteRequestStates = (caller: string) => RequestStateCodec;

/** What the SDK's `bind` is handed here instead of the handler's context: the caller, and nothing else. */
interface Binding {
  readonly caller: string;
}

export function createRouteRequestStates(keyring: SessionKeyring, route: string): RouteRequestStates {
  const [current, ...previous] = keyring
    .derive(`request state\0${route}`)
    .map((key) => createRequestStateCodec({ key, bind: (ctx) => (ctx as unknown as Binding).caller }));
  return (caller) => {
    const binding = { caller } as unknown as ServerContext;
    const codec: RequestStateCodec = {
      mint: (payload) => current!.mint(payload, binding),
      async verify(state) {
        try {
          return await current!.verify(state, binding);
        } catch (error) {
          for (const codec of previous) {
            try {
              return await codec.verify(state, binding);
            } catch {
              // Not this key either.
            }
          }
          throw error;
        }
      },
    };
    return Object.freeze(codec);
  };
}

/** One caller's codec of a route (`''`: the caller of a route without authentication). */
export function createRouteRequestState(keyring: SessionKeyring, route: string, caller = ''): RequestStateCodec {
  return createRouteRequestStates(keyring, route)(caller);
}
