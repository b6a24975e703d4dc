/**
 * The HMAC codec for 2026-07-28 `requestState` (SEP-2322's multi round-trip results), one per
 * route. The state a server hands the client with `input_required` comes back on the next round,
 * which may reach any instance: so its key is derived from the deployment's session secret (the
 * same on every instance), per route, and the previous secret's key still verifies while keys
 * rotate. Built on the SDK's own codec (`createRequestStateCodec`).
 */
import { createRequestStateCodec, type RequestStateCodec } from '@modelcontextprotocol/server';
import type { SessionKeyring } from '../sessions/session-keys.js';

export function createRouteRequestState(keyring: SessionKeyring, route: string): RequestStateCodec {
  const [current, ...previous] = keyring.derive(`request state\0${route}`).map((key) => createRequestStateCodec({ key }));
  const codec: RequestStateCodec = {
    mint: (payload, ctx) => current!.mint(payload, ctx),
    async verify(state, ctx) {
      try {
        return await current!.verify(state, ctx);
      } catch (error) {
        for (const codec of previous) {
          try {
            return await codec.verify(state, ctx);
          } catch {
            // Not this key either.
          }
        }
        throw error;
      }
    },
  };
  return Object.freeze(codec);
}
