/**
 * What one request to `/` or `/status.json` may see of each route. Both are public (the Functions
 * host probes `/`; in Azure the page is on the internet), so a route that requires authentication
 * shows its tools, its server's name and version and its last error texts only to a request that
 * carries credentials the route accepts: else those who cannot call it would learn its whole tool
 * surface. Everyone sees what it needs, its health, sessions and aggregate traffic. Open routes
 * show everything: anyone can call them anyway. The upstream cache's hosts are shown as a route that
 * uses the cache is.
 */
import type { IncomingMessage } from 'node:http';
import type { BackoffState } from '../backoff-schedule.js';
import type { AuthVerdict, RouteAuthenticator } from '../auth/require-auth.js';
import type { GatewayStatus, RouteStatus } from '../gateway.js';
import type { UpstreamStatus } from '../upstreams/upstream.js';

/** A command or url route's server without what identifies it or what its errors said. */
export type WithheldUpstreamStatus = Omit<UpstreamStatus, 'serverInfo' | 'protocolVersion' | 'backoff'> & {
  /** The state and the failures in a row, without the last error's text. */
  readonly backoff: Omit<BackoffState, 'lastError'>;
};

/**
 * A protected route as shown to a request without credentials it accepts: no `tools`,
 * `toolsError`, `toolsPending`, server identity, last error text, nor traffic rows of one tool or
 * prompt (`tools/call` and `prompts/get` rows name them); `details: 'withheld'` says so.
 */
export type WithheldRouteStatus = Omit<RouteStatus, 'details' | 'tools' | 'toolsError' | 'toolsPending' | 'upstream'> & {
  details: 'withheld';
  upstream: WithheldUpstreamStatus | { kind: 'module' };
};

export type ShownRouteStatus = RouteStatus | WithheldRouteStatus;

type CacheStatus = GatewayStatus['cache'];

/**
 * The upstream cache as shown to a request that sees no route using it in full: its counters and
 * aggregate traffic, without the hosts (`upstreams`, `traffic.origins`: their names, states and
 * error texts) or which routes use it; `details: 'withheld'` says so.
 */
export type WithheldCacheStatus = Omit<CacheStatus, 'details' | 'upstreams' | 'traffic' | 'routes'> & {
  details: 'withheld';
  traffic: Omit<CacheStatus['traffic'], 'origins'>;
};

export type ShownCacheStatus = CacheStatus | WithheldCacheStatus;

/** The status document one request gets. */
export type ShownStatus = Omit<GatewayStatus, 'routes' | 'cache'> & { routes: ShownRouteStatus[]; cache: ShownCacheStatus };

/** A route's status with its details withheld. */
export function withheld(route: RouteStatus): WithheldRouteStatus {
  const { details: _details, tools: _tools, toolsError: _error, toolsPending: _pending, upstream, traffic, ...shown } = route;
  return {
    ...shown,
    details: 'withheld',
    upstream: upstream.kind === 'module' ? upstream : withheldUpstream(upstream),
    traffic: { ...traffic, operations: traffic.operations.filter((operation) => operation.target === undefined) },
  };
}

function withheldUpstream(upstream: UpstreamStatus): WithheldUpstreamStatus {
  const { serverInfo: _info, protocolVersion: _version, backoff, ...shown } = upstream;
  const { lastError: _lastError, ...state } = backoff;
  return { ...shown, backoff: state };
}

/**
 * `status` with the details of each protected route `shown` does not allow withheld, and the
 * cache's hosts withheld unless a route whose module took `ctx.fetch` is shown in full: the hosts
 * a module asks, and what they answered, are its server's details too. With no such route yet the
 * cache has asked no host, and withholds nothing.
 */
export function statusShown(status: GatewayStatus, shown: (route: RouteStatus) => boolean): ShownStatus {
  const routes = status.routes.map((route) => (route.auth.kind === 'none' || shown(route) ? route : withheld(route)));
  const full = new Set(routes.flatMap((route) => (route.details === 'full' ? [route.name] : [])));
  const { cache } = status;
  const cacheShown = cache.routes.length === 0 || cache.routes.some((name) => full.has(name));
  return { ...status, routes, cache: cacheShown ? cache : withheldCache(cache) };
}

function withheldCache(cache: CacheStatus): WithheldCacheStatus {
  const { details: _details, upstreams: _upstreams, routes: _routes, traffic, ...counters } = cache;
  const { origins: _origins, ...totals } = traffic;
  return { ...counters, details: 'withheld', traffic: totals };
}

/** What a request to `/status.json` showed of its credentials: for its details, and for its log line. */
export interface StatusCredentials {
  /** The routes whose own authenticator accepts them. */
  readonly callable: ReadonlySet<string>;
  /**
   * Why they were refused, when the request carried credentials some route reads and no route
   * accepts them: the first such route's reason, in gateway.yaml's order (a 401 on `/mcp/<name>`
   * logs the same). Undefined without credentials, or when any route accepts them.
   */
  readonly refusal?: { readonly reason: string; readonly detail: string };
  /** Each OAuth issuer that could not be reached to check them, once, with the routes it left unchecked. */
  readonly outages: ReadonlyArray<{ readonly issuer: string; readonly routes: string[]; readonly detail: string }>;
}

/**
 * Checks a request to `/status.json` against every route with authentication, each by the guard of
 * `/mcp/<name>` (an OAuth token may need the issuer's keys fetched first). A refusal of any kind
 * only withholds that route: it is no error here, and the answer does not say what failed; the
 * request's log line does.
 */
export async function routesCallable(
  guard: (route: string, req: IncomingMessage) => Promise<AuthVerdict>,
  authenticators: Iterable<RouteAuthenticator>,
  req: IncomingMessage,
): Promise<StatusCredentials> {
  const protectedRoutes = [...authenticators].filter(({ summary }) => summary.kind !== 'none');
  // The guard throws for a credential header sent twice (`invalid_header`): here that only withholds too.
  const verdicts = await Promise.all(
    protectedRoutes.map(async ({ route, summary }) => ({ route, summary, verdict: await guard(route, req).catch(() => undefined) })),
  );
  const callable = new Set(verdicts.flatMap(({ route, verdict }) => (verdict?.ok ? [route] : [])));
  // `missing`: the route read none of its credential headers, so this request sent it nothing.
  const refused = verdicts.flatMap(({ route, summary, verdict }) =>
    verdict && !verdict.ok && verdict.failure.reason !== 'missing' ? [{ route, summary, failure: verdict.failure }] : [],
  );
  const outages = new Map<string, { issuer: string; routes: string[]; detail: string }>();
  for (const { route, summary, failure } of refused) {
    if (failure.reason !== 'unavailable' || summary.kind !== 'oauth') continue;
    const outage = outages.get(summary.issuer);
    if (outage) outage.routes.push(route);
    else outages.set(summary.issuer, { issuer: summary.issuer, routes: [route], detail: failure.detail });
  }
  const first = refused[0]?.failure;
  return {
    callable,
    ...(callable.size === 0 && first ? { refusal: { reason: first.reason, detail: first.detail } } : {}),
    outages: [...outages.values()],
  };
}
