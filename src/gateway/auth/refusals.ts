/**
 * How many MCP requests each route with `auth` refused for their credentials, by reason, since
 * start: the status page's, `/status.json`'s and the `mcp.gateway.auth.refusals` counter's numbers.
 * A refused request has no span (its body is never read, so there is no MCP method to name one
 * after): these counts and its log line are what is kept of it.
 */
import type { AuthRejection } from './outcome.js';

export type AuthRefusalReason = AuthRejection['reason'];

/** Every reason, in the order the status page lists them. */
export const AUTH_REFUSAL_REASONS: readonly AuthRefusalReason[] = ['missing', 'invalid', 'insufficient_scope', 'unavailable'];

export type AuthRefusalCounts = Readonly<Record<AuthRefusalReason, number>>;

export class AuthRefusals {
  readonly #counts = new Map<string, Record<AuthRefusalReason, number>>();

  /** Counts a refusal of a request to `route`. */
  count(route: string, reason: AuthRefusalReason): void {
    let counts = this.#counts.get(route);
    if (!counts) this.#counts.set(route, (counts = { missing: 0, invalid: 0, insufficient_scope: 0, unavailable: 0 }));
    counts[reason]++;
  }

  /** The refusals of `route` so far: every reason, zero until one is counted. */
  of(route: string): AuthRefusalCounts {
    return { missing: 0, invalid: 0, insufficient_scope: 0, unavailable: 0, ...this.#counts.get(route) };
  }

  /** Each route and reason counted at least once, for the metric (a route never refused has no series). */
  *counted(): Iterable<{ readonly route: string; readonly reason: AuthRefusalReason; readonly count: number }> {
    for (const [route, counts] of this.#counts)
      for (const reason of AUTH_REFUSAL_REASONS) if (counts[reason] > 0) yield { route, reason, count: counts[reason] };
  }
}
