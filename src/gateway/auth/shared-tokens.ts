/**
 * Routes that take each other's tokens. Each route is a resource of its own (its URL, its RFC 9728
 * document), and the MCP authorization spec wants a token to open only the resource it was issued
 * for (RFC 8707). What a route accepts is its `auth:`, though, and a top-level `auth:` gives every
 * route without its own the same one: then a token a client got for one route opens the others.
 * That is a configuration the gateway cannot refuse (the top-level default is how a deployment
 * closes all its routes at once), so the start-up log says it instead.
 */
import type { AuthConfig } from './auth-config.js';
import { hasScope, shortScope } from './oauth.js';

/** An OAuth route that takes every token issued for the routes `takesTokensOf`. */
export interface SharedTokenRoute {
  route: string;
  takesTokensOf: string[];
}

/**
 * For each OAuth route, the other routes whose tokens open it: the same issuer, an audience in
 * common, and every scope it requires among those the other requires (as a token carries them:
 * Entra ID writes `api://<app>/x` as `x`). Routes that each require a scope the other does not
 * are apart; so are routes of distinct audiences (their URLs, for an RFC 8707 issuer).
 *
 * @example
 * sharedTokenRoutes([['tools', toolsAuth], ['quick', quickAuth]]); // [{ route: 'quick', takesTokensOf: ['tools'] }]
 */
export function sharedTokenRoutes(routes: ReadonlyArray<readonly [string, AuthConfig]>): SharedTokenRoute[] {
  const oauth = routes.flatMap(([route, auth]) => (auth.kind === 'oauth' ? [{ route, auth }] : []));
  const shared: SharedTokenRoute[] = [];
  for (const { route, auth } of oauth) {
    const takesTokensOf = oauth
      .filter(
        (other) =>
          other.route !== route &&
          other.auth.issuer === auth.issuer &&
          other.auth.audience.some((audience) => auth.audience.includes(audience)) &&
          auth.scopes.every((scope) => hasScope(tokenScopes(other.auth.scopes), scope)),
      )
      .map((other) => other.route);
    if (takesTokensOf.length > 0) shared.push({ route, takesTokensOf });
  }
  return shared;
}

/** The scopes of a token issued for a route that requires `scopes`: as written, and short (Entra ID's `scp`). */
function tokenScopes(scopes: readonly string[]): string[] {
  return scopes.flatMap((scope) => [scope, shortScope(scope) ?? scope]);
}
