/**
 * The gateway as a value: its configuration, one {@link Route} per enabled server, the shared
 * upstream cache, and the status everything reports. No listening, no signals, no timers: the
 * entry point (main.ts) owns those.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createIssuerKeyCache } from './auth/oauth.js';
import { createPrincipalNamer } from './auth/principal.js';
import { resourceMetadataUrl } from './auth/protected-resource.js';
import { createRouteAuthenticator, type AuthSummary, type RouteAuthenticator } from './auth/require-auth.js';
import { AuthRefusals, type AuthRefusalCounts } from './auth/refusals.js';
import { sharedTokenRoutes } from './auth/shared-tokens.js';
import { authOf, PROJECT_ROOT, type GatewayConfig } from './config/config.js';
import type { Logger } from './logger.js';
import type { FetchLike } from './module-contract.js';
import { loadServers, type ModuleImporter } from './upstreams/modules.js';
import type { UpstreamStatus as RouteUpstreamStatus } from './upstreams/upstream.js';
import { createRoute, type DrainReport, type Route, type ToolSummary } from './protocol/route.js';
import { createSessionKeyring, type SessionKeyring } from './sessions/session-keys.js';
import { createSessionTokens } from './sessions/session-token.js';
import { createUpstreamCache, type CacheStats, type UpstreamCache, type UpstreamStatus } from './cache/upstream-cache.js';
import { createTelemetry, type Telemetry } from './telemetry/telemetry.js';
import type { GroupTraffic } from './telemetry/traffic-window.js';

export const GATEWAY_VERSION: string = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')).version;

export interface GatewayOptions {
  config: GatewayConfig;
  logger: Logger;
  /** The network, behind the cache; default `globalThis.fetch`. */
  fetch?: FetchLike;
  /** Clock in ms for session idle expiry, cache freshness and backoff (the cache's hosts, command and url routes); default `performance.now`. */
  now?: () => number;
  importModule?: ModuleImporter;
  /**
   * Keys for session ids, and (derived from the current one) for the principals of callers; every
   * instance of a deployment needs the same ones. Default: a random key, so sessions survive
   * neither a restart nor a move to another instance.
   */
  keyring?: SessionKeyring;
  /** Wall clock in ms since the epoch, for session id lifetimes and token expiry; default `Date.now`. */
  wallClock?: () => number;
  /** The network for OAuth routes' OpenID discovery and keys (not cached by the upstream cache); default `globalThis.fetch`. */
  authFetch?: FetchLike;
  /**
   * Where requests and upstream calls are told: spans and metrics when exporting
   * (telemetry/start-telemetry.ts), and the status page's numbers. Default: no export, the numbers only.
   */
  telemetry?: Telemetry;
}

/** Requests and errors of the last minutes, with median and 95th percentile latency (estimates within about 12%). */
export interface TrafficStatus {
  windowMinutes: number;
  requests: number;
  errors: number;
  p50Ms: number | null;
  p95Ms: number | null;
}

/** A route's traffic, in all and per operation (a method, or `tools/call` of one tool). */
export interface RouteTraffic extends TrafficStatus {
  /** Requests by `error.type`: a JSON-RPC code, `tool_error`, or `cancelled` (the client went away before the answer: not counted in `errors`). */
  errorTypes: Record<string, number>;
  /** Requests and errors per minute, oldest first, the current minute last. */
  perMinute: Array<{ requests: number; errors: number }>;
  operations: Array<
    Omit<TrafficStatus, 'windowMinutes'> & {
      method: string;
      /** The tool (tools/call) or prompt (prompts/get); `_OTHER` for names never answered without a protocol error. */
      target?: string;
      errorTypes: Record<string, number>;
    }
  >;
}

/** Requests modules made through the cache, per upstream origin; latency counts only answers that went to the network. */
export interface UpstreamTraffic extends TrafficStatus {
  perMinute: Array<{ requests: number; errors: number }>;
  origins: Array<Omit<TrafficStatus, 'windowMinutes'> & { origin: string; outcomes: Record<string, number> }>;
}

export interface RouteStatus {
  /**
   * Everything about the route. The status page and `/status.json` show a route that requires
   * authentication as `withheld` (http/status-view.ts) to requests without credentials it accepts.
   */
  details: 'full';
  name: string;
  path: string;
  url: string;
  mode: 'stateful' | 'stateless';
  tools: ToolSummary[];
  toolsError?: string;
  /** The tools are still being listed (the first look at the page after start). */
  toolsPending?: boolean;
  /** Requests being answered now. */
  inFlight: number;
  /** Requests served since start, by protocol era: 2025's handshake (`legacy`) and 2026-07-28 (`modern`). */
  served: { legacy: number; modern: number };
  sessions: { active: number; max: number; maxPerPrincipal: number; idleTimeoutSeconds: number } | null;
  /** Where the server lives: in process, or a stdio command or remote URL with its connections. */
  upstream: RouteUpstreamStatus | { kind: 'module' };
  /** What a caller needs; for OAuth routes also where the route's metadata is. Never a key or a token. */
  auth: AuthSummary & { resourceMetadata?: string };
  /** MCP requests refused for their credentials since start, by reason; null on a route without `auth`. */
  authRefusals: AuthRefusalCounts | null;
  /** The last minutes of requests, from the in-process window (whether or not telemetry is exported). */
  traffic: RouteTraffic;
}

export interface GatewayStatus {
  service: 'mcp-gateway';
  version: string;
  startedAt: string;
  uptimeSeconds: number;
  routes: RouteStatus[];
  /**
   * The cache's counters and size, and each upstream host it asked recently with its backoff state.
   * Shown as `withheld` (http/status-view.ts) when no route in `routes` is shown in full.
   */
  cache: CacheStats & {
    details: 'full';
    enabled: boolean;
    upstreams: UpstreamStatus[];
    traffic: UpstreamTraffic;
    /** The module routes whose servers took `ctx.fetch`: those whose requests the hosts and traffic are. */
    routes: string[];
  };
  /** Where spans and metrics are exported (`otlp`, `azure-monitor`); empty when export is off. */
  telemetry: { exporters: string[] };
}

export interface Gateway {
  readonly config: GatewayConfig;
  readonly logger: Logger;
  readonly routes: ReadonlyMap<string, Route>;
  /** What each route requires of its callers, by route name. */
  readonly authenticators: ReadonlyMap<string, RouteAuthenticator>;
  /** MCP requests each route refused for their credentials (counted by the HTTP app). */
  readonly authRefusals: AuthRefusals;
  readonly cache: UpstreamCache;
  readonly shuttingDown: boolean;
  /**
   * What the status page shows; `base` is the URL clients reach the gateway at. With
   * `waitForTools: false` it answers at once, before the first listing of tools is done.
   */
  status(base: string, options?: { waitForTools?: boolean }): Promise<GatewayStatus>;
  /** Closes sessions idle past their timeout; call it periodically. */
  sweep(): void;
  /**
   * Stops serving (scale-in, redeploy): new requests are refused with 503 `shutting_down`, GET
   * streams end, calls in flight may finish until `deadline` aborts, and those still running then
   * are answered with a `shutting_down` JSON-RPC error. Then every session is closed.
   */
  drain(deadline: AbortSignal): Promise<DrainReport>;
  /** {@link drain} with no grace: refuses new requests, answers calls in flight with an error, closes every session. */
  close(): Promise<void>;
}

/**
 * Imports every enabled server module (failing with every problem listed) and mounts it.
 *
 * @example
 * const gateway = await createGateway({ config: await loadConfig(defaultConfigPath()), logger: createLogger() });
 */
export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const { config, logger, now } = options;
  const telemetry = options.telemetry ?? createTelemetry();
  const servers = await loadServers(config, options.importModule);
  const { rules, ...cacheOptions } = config.cache;
  const cache = createUpstreamCache({ ...cacheOptions, ...(rules ? { rules } : {}), fetch: options.fetch, now, telemetry });
  const wallClock = options.wallClock ?? Date.now;
  const keyring = options.keyring ?? createSessionKeyring(randomBytes(32));
  const tokens = createSessionTokens({ keyring, maxAge: config.sessions.maxAge, now: wallClock });
  const routes = new Map<string, Route>(
    servers.map((server) => [
      server.name,
      createRoute({
        server,
        sessions: config.sessions,
        fetch: cache.fetch,
        logger,
        now,
        tokens,
        wallClock,
        authenticated: authOf(config, server.entry).kind !== 'none',
        keyring,
        configDir: config.dir,
        backoff: config.cache.backoff,
        clientInfo: { name: 'mcp-gateway', version: GATEWAY_VERSION },
        telemetry,
      }),
    ]),
  );
  const issuerKeys = createIssuerKeyCache({ now: wallClock, ...(options.authFetch ? { fetch: options.authFetch } : {}) });
  // Keyed from the session keys: every instance of a deployment names a caller alike.
  const principals = createPrincipalNamer(keyring.principalKey);
  const authenticators = new Map<string, RouteAuthenticator>(
    servers.map((server) => [
      server.name,
      createRouteAuthenticator(server.name, authOf(config, server.entry), { issuerKeys, now: wallClock, principals }),
    ]),
  );
  for (const { route, takesTokensOf } of sharedTokenRoutes(servers.map((server) => [server.name, authOf(config, server.entry)]))) {
    const others = takesTokensOf.map((name) => `/mcp/${name}`).join(', ');
    logger.warn(
      {
        route,
        takesTokensOf,
        detail: `/mcp/${route} accepts every token issued for ${others} (the same issuer, an audience in common, and no scope of its own), so a client's token for one of those opens it too; give /mcp/${route} an audience of its own (its URL, which an RFC 8707 authorization server puts in aud) or a scope of its own`,
      },
      'route takes tokens issued for another route',
    );
  }
  const authRefusals = new AuthRefusals();
  telemetry.observe({
    authRefusals: () => authRefusals.counted(),
    *sessions() {
      for (const route of routes.values())
        if (route.mode === 'stateful') yield { route: route.name, era: 'legacy', active: route.sessions.size };
    },
    cache: () => cache.stats(),
    // The same states the status page shows: the cache's hosts, and each route's server health.
    upstreams: () => cache.upstreams(),
    *routeUpstreams() {
      for (const route of routes.values()) {
        const upstream = route.upstream();
        if (upstream) yield { route: route.name, kind: upstream.kind, ...upstream.backoff };
      }
    },
  });
  const startedAt = new Date();
  let shuttingDown = false;

  async function drain(deadline: AbortSignal): Promise<DrainReport> {
    shuttingDown = true;
    const reports = await Promise.all([...routes.values()].map((route) => route.drain(deadline)));
    return reports.reduce((sum, r) => ({ inFlight: sum.inFlight + r.inFlight, answered: sum.answered + r.answered }), {
      inFlight: 0,
      answered: 0,
    });
  }

  return {
    config,
    logger,
    routes,
    authenticators,
    authRefusals,
    cache,
    get shuttingDown() {
      return shuttingDown;
    },
    async status(base, { waitForTools = true } = {}) {
      const routeStatus = await Promise.all(
        [...routes.values()].map(async (route): Promise<RouteStatus> => {
          let tools: ToolSummary[] = [];
          let toolsError: string | undefined;
          let toolsPending = false;
          try {
            const listing = route.tools();
            // Already-settled promises win a race in argument order: a listing done earlier is used.
            const listed = waitForTools ? await listing : await Promise.race([listing, Promise.resolve(undefined)]);
            if (listed) tools = listed;
            else toolsPending = true;
          } catch (error) {
            toolsError = error instanceof Error ? error.message : String(error);
          }
          const { summary } = authenticators.get(route.name)!;
          return {
            details: 'full',
            name: route.name,
            path: `/mcp/${route.name}`,
            url: `${base}/mcp/${route.name}`,
            mode: route.mode,
            tools,
            ...(toolsError ? { toolsError } : {}),
            ...(toolsPending ? { toolsPending } : {}),
            inFlight: route.inFlight,
            served: { ...route.served },
            sessions:
              route.mode === 'stateful'
                ? {
                    active: route.sessions.size,
                    max: config.sessions.maxPerRoute,
                    maxPerPrincipal: config.sessions.maxPerPrincipal,
                    idleTimeoutSeconds: config.sessions.idleTimeout / 1000,
                  }
                : null,
            upstream: route.upstream() ?? { kind: 'module' },
            auth: summary.kind === 'oauth' ? { ...summary, resourceMetadata: resourceMetadataUrl(base, route.name) } : summary,
            authRefusals: summary.kind === 'none' ? null : authRefusals.of(route.name),
            traffic: routeTraffic(telemetry.routeTraffic(route.name)),
          };
        }),
      );
      return {
        service: 'mcp-gateway',
        version: GATEWAY_VERSION,
        startedAt: startedAt.toISOString(),
        uptimeSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
        routes: routeStatus,
        cache: {
          details: 'full',
          enabled: config.cache.enabled,
          ...cache.stats(),
          upstreams: cache.upstreams(),
          traffic: upstreamTraffic(telemetry.upstreamTraffic()),
          // After the hosts: a module takes `ctx.fetch` before it asks any host, so each host listed
          // was asked by a route listed here.
          routes: [...routes.values()].filter((route) => route.tookFetch).map((route) => route.name),
        },
        telemetry: { exporters: [...telemetry.exporters] },
      };
    },
    sweep() {
      for (const route of routes.values()) route.sessions.sweep();
    },
    drain,
    async close() {
      await drain(AbortSignal.abort());
    },
  };
}

function routeTraffic({ keys, tags, ...totals }: GroupTraffic): RouteTraffic {
  return {
    ...totals,
    errorTypes: { ...tags },
    perMinute: totals.perMinute.map((m) => ({ ...m })),
    operations: keys.map(({ key, tags: errorTypes, ...rest }) => {
      // Keys are `<method>` or `<method> <tool or prompt>` (telemetry.ts).
      const space = key.indexOf(' ');
      return space === -1
        ? { method: key, ...rest, errorTypes: { ...errorTypes } }
        : { method: key.slice(0, space), target: key.slice(space + 1), ...rest, errorTypes: { ...errorTypes } };
    }),
  };
}

function upstreamTraffic({ keys, tags: _tags, ...totals }: GroupTraffic): UpstreamTraffic {
  return {
    ...totals,
    perMinute: totals.perMinute.map((m) => ({ ...m })),
    origins: keys.map(({ key, tags, ...rest }) => ({ origin: key, ...rest, outcomes: { ...tags } })),
  };
}
