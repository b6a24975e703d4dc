/**
 * One mounted server: `/mcp/<name>`. Classifies each request's protocol era as the SDK does and
 * hands it to that era: 2026-07-28 to modern.ts (stateless, the SDK's per-request entry), the 2025
 * handshake to legacy.ts (sessions, or a fresh server per request on a stateless route). What both
 * share lives here: the route's upstream (where its server lives), the contexts its servers are
 * built with, change notices to every client of either era, the drain, the tool list.
 */
import type { McpServer, JSONRPCMessage, ServerNotifier } from '@modelcontextprotocol/server';
import { LRUCache } from 'lru-cache';
import type { SessionsConfig } from '../config/config.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ChangeNotifier, FetchLike, ServerContext } from '../module-contract.js';
import type { LoadedServer } from '../upstreams/modules.js';
import { createUpstream, type Upstream, type UpstreamStatus } from '../upstreams/upstream.js';
import { firstHeader } from './headers.js';
import { createLegacyEra, type LegacyRequest, type RouteSession } from './legacy.js';
import { claimsVersionInMeta, createModernEra, isModernRequest } from './modern.js';
import { observeRefusal } from './observed-wire.js';
import { createRouteRequestStates } from './request-state.js';
import type { SessionStore } from '../sessions/session-store.js';
import type { SessionKeyring } from '../sessions/session-keys.js';
import type { SessionTokens } from '../sessions/session-token.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { isToolVisible } from './tool-filter.js';
import { eraOfVersion, requireKnownVersion, unsupportedOnSession } from './versions.js';

/** Callers' contexts (one per principal and era) a route keeps ready; older ones are made again when needed. */
const MAX_CALLER_CONTEXTS = 1024;

/** How long the status page shows a route's failed tool listing before it lists them again. */
export const TOOLS_RETRY_MS = 30_000;

interface ToolListing {
  readonly listing: Promise<ToolSummary[]>;
  /** When it failed, on the route's clock. */
  failedAt?: number;
}

export interface RouteOptions {
  server: LoadedServer;
  sessions: SessionsConfig;
  /** The upstream fetch handed to the module (the shared cache). */
  fetch: FetchLike;
  logger: Logger;
  /** Clock for idle expiry and the upstream's backoff; default `performance.now`. */
  now?: () => number;
  /** Issues and verifies the self-contained session ids that let any instance resume a session. */
  tokens: SessionTokens;
  /** Wall clock in ms since the epoch, the one `tokens` uses; default `Date.now`. */
  wallClock?: () => number;
  /** Whether the route authenticates its callers (then no answer is cacheable as `public`). */
  authenticated: boolean;
  /** The deployment's keys, for the route's `requestState` codec. */
  keyring: SessionKeyring;
  /** gateway.yaml's folder: a `command:` route's `cwd` is relative to it. */
  configDir: string;
  /** `cache.backoff`: also how a failing `command:` or `url:` server is left alone. */
  backoff: { afterFailures: number; initial: number; max: number };
  /** How the gateway introduces itself to upstream servers it shares between clients. */
  clientInfo: { name: string; version: string };
  /** Told of every MCP request and its answer, in both eras. */
  telemetry: Telemetry;
}

/** The protocol era a request was served in: 2025's handshake and sessions, or 2026-07-28's. */
export type ProtocolEra = 'legacy' | 'modern';

export interface ToolSummary {
  name: string;
  title?: string | undefined;
  description?: string | undefined;
}

/** What the route needs from the HTTP layer for one request. */
export interface RouteRequest extends LegacyRequest {
  /** Told which era serves the request, once classified. */
  onEra?: (era: ProtocolEra) => void;
}

/** What {@link Route.drain} saw: calls in flight when it began, and how many it had to answer itself. */
export interface DrainReport {
  inFlight: number;
  answered: number;
}

export interface Route {
  readonly name: string;
  readonly mode: 'stateful' | 'stateless';
  readonly sessions: SessionStore<RouteSession>;
  handle(request: RouteRequest): Promise<void>;
  /** Requests being answered now (POSTs carrying requests; GET and listen streams are not counted). */
  readonly inFlight: number;
  /** Requests served since start, by era. */
  readonly served: Readonly<Record<ProtocolEra, number>>;
  /**
   * Stops the route: GET streams end now, new requests are refused, calls in flight may finish
   * until `deadline` aborts; whatever is still unanswered then gets a `shutting_down` JSON-RPC
   * error on its own stream. Then every session is closed.
   */
  drain(deadline: AbortSignal): Promise<DrainReport>;
  /** The route's tools as a client sees them (allow/deny applied); built once, on first use. */
  tools(): Promise<ToolSummary[]>;
  /** A `command:` or `url:` route's upstream connections (children), for the status page. */
  upstream(): UpstreamStatus | undefined;
  /**
   * The route's module has taken `ctx.fetch` (the shared upstream cache), in any context it was
   * given: only such a route can have put a host in the cache's list, and the status page shows
   * that list as the route's details are shown (http/status-view.ts).
   */
  readonly tookFetch: boolean;
}

export function createRoute(options: RouteOptions): Route {
  const { server: loaded, fetch, logger, tokens, telemetry, wallClock = Date.now } = options;
  const clock = options.now ?? (() => performance.now());
  const { name, entry } = loaded;
  const mode = entry.sessions;
  const served = { legacy: 0, modern: 0 };
  const log = logger.child({ route: name });
  const notify: ChangeNotifier = Object.freeze({
    toolsChanged: () => {
      forgetTools();
      announce(
        (server) => server.sendToolListChanged(),
        () => modern.notify.toolsChanged(),
      );
    },
    promptsChanged: () =>
      announce(
        (server) => server.sendPromptListChanged(),
        () => modern.notify.promptsChanged(),
      ),
    resourcesChanged: () =>
      announce(
        (server) => server.sendResourceListChanged(),
        () => modern.notify.resourcesChanged(),
      ),
    resourceUpdated: (uri: string) => modern.notify.resourceUpdated(uri),
  });
  const requestStates = createRouteRequestStates(options.keyring, name);
  const upstream = createUpstream(loaded, {
    configDir: options.configDir,
    clientInfo: options.clientInfo,
    idleTimeout: options.sessions.idleTimeout,
    backoff: options.backoff,
    ...(options.now ? { now: options.now } : {}),
    listeners: (owner) => forgettingTools(owner === undefined ? modern.notify : modern.notifyOwner(owner)),
    telemetry: options.telemetry,
    logger: log,
  });
  const base = { route: name, options: loaded.options, logger: log, notify };
  let tookFetch = false;
  /**
   * A module that takes `ctx.fetch` can make upstream requests, whose spans are children of the
   * request that made them: from then on, telemetry carries each request's span through its
   * asynchronous work (telemetry/context-on-demand.ts).
   */
  const withFetch = (era: 'legacy' | 'modern', caller = ''): ServerContext<unknown> =>
    Object.freeze(
      Object.defineProperty({ ...base, era, requestState: requestStates(caller) } as Omit<ServerContext<unknown>, 'fetch'>, 'fetch', {
        enumerable: true,
        get: () => {
          tookFetch = true;
          telemetry.carryContext();
          return fetch;
        },
      }) as ServerContext<unknown>,
    );
  const context = withFetch('legacy');
  const modernContext = withFetch('modern');
  /**
   * A caller's context: its `requestState` is bound to the caller, so that on a route with
   * authentication one caller's state is refused to another (request-state.ts). One per caller and
   * era, kept for the callers seen last, so a module that builds clients once per `ctx` still does
   * not build them per request.
   */
  let callerContexts: LRUCache<string, ServerContext<unknown>> | undefined;
  const contextFor = (era: 'legacy' | 'modern', principal: string | undefined): ServerContext<unknown> => {
    if (principal === undefined) return era === 'legacy' ? context : modernContext;
    const key = `${era}\0${principal}`;
    // Made on the first authenticated request: an open route never needs it.
    callerContexts ??= new LRUCache({ max: MAX_CALLER_CONTEXTS });
    let made = callerContexts.get(key);
    if (!made) callerContexts.set(key, (made = withFetch(era, principal)));
    return made;
  };

  /** A change, told to every 2025 session held here and to this instance's 2026-07-28 listeners. */
  function announce(toSession: (server: McpServer) => void, toListeners: () => void): void {
    toListeners();
    for (const session of legacy.sessions.values()) {
      // A session's server that never declared list changes (or is closing) has nothing to send.
      if (session.server.isConnected()) {
        try {
          toSession(session.server);
        } catch (error) {
          log.debug({ err: error }, 'a session could not be told of a change');
        }
      }
    }
  }

  // A module's handlers run here, with no bridge to time them: the eras do (call-deadline.ts).
  const callTimeout = entry.kind === 'module' ? { callTimeout: entry.callTimeout } : {};
  const legacy = createLegacyEra({
    route: name,
    entry,
    sessions: options.sessions,
    upstream,
    ...callTimeout,
    contextFor: (principal) => contextFor('legacy', principal),
    tokens,
    wallClock,
    ...(options.now ? { now: options.now } : {}),
    telemetry,
    logger: log,
  });

  const modern = createModernEra({
    route: name,
    createServer: async (owner, principal) =>
      (await upstream.open({ era: 'modern', context: contextFor('modern', principal), owner })).server,
    tools: entry.tools,
    listTtl: entry.listTtl,
    // An answer can differ between callers only where callers differ: authentication, tool lists
    // (which a module could make per-caller one day), or a `command:` or `url:` server of each
    // caller's own (its state is that caller's): only an open, unfiltered, shared route is public.
    cacheScope: !options.authenticated && !entry.tools && (entry.kind === 'module' || entry.isolation === 'shared') ? 'public' : 'private',
    keepAlive: options.sessions.keepAlive,
    ...callTimeout,
    logger,
    telemetry,
    ...(upstream.watchResources ? { watchResources: upstream.watchResources.bind(upstream) } : {}),
  });

  async function handle(request: RouteRequest): Promise<void> {
    let era: ProtocolEra = 'legacy';
    try {
      // A header that names no version (or came twice) is refused in either era, before an era is
      // decided from it. A request that claims its version in `_meta` is the SDK's to judge: it
      // answers an unknown one with -32022 and a header that differs from the claim with -32020.
      if (request.body === undefined || !claimsVersionInMeta(request.body)) requireKnownVersion(request.req);
      era = (await isModernRequest(request.req, request.body)) ? 'modern' : 'legacy';
      return await serveIn(era, request);
    } catch (error) {
      // Refused before any server saw it (an unknown session, a duplicate id, the drain): the
      // requests still get their operations, with the error the client gets.
      if (request.body !== undefined) observeRefusal(telemetry, { route: name, era, body: request.body, req: request.req }, error);
      throw error;
    }
  }

  async function serveIn(era: ProtocolEra, request: RouteRequest): Promise<void> {
    const { req, body } = request;
    if (era === 'modern') {
      // The SDK refuses such a batch itself, without the gateway's code: the era has no batches.
      if (Array.isArray(body)) {
        throw new GatewayError(
          'invalid_request',
          'Invalid Request: a 2026-07-28 request cannot come in a JSON-RPC batch; send each on its own',
        );
      }
      served.modern++;
      request.onEra?.('modern');
      return modern.serve({
        req,
        res: request.res,
        body: body as JSONRPCMessage,
        authInfo: request.authInfo,
        owner: request.owner,
        principal: request.principal,
        onShutdown: request.onShutdown,
      });
    }
    served.legacy++;
    request.onEra?.('legacy');
    const version = firstHeader(req, 'mcp-protocol-version')?.trim();
    if (version !== undefined && eraOfVersion(version) === 'modern') {
      // A 2025 session's request (its GET, its DELETE, what it sends back) in the other era's version.
      if (firstHeader(req, 'mcp-session-id')) throw unsupportedOnSession(version);
      // The 2026-07-28 era has no session to stream from or to end: it is POST only.
      if (req.method !== 'POST') {
        throw new GatewayError('method_not_allowed', `Method not allowed: ${version} requests are POST only`, {}, { Allow: 'POST' });
      }
      // Responses alone (a notification in this version is the modern era's, served there): the
      // era has no session to answer on, its server-to-client questions being input_required results.
      if (body !== undefined && (Array.isArray(body) ? body : [body]).every((message) => !('method' in message))) {
        throw new GatewayError(
          'invalid_request',
          `Invalid Request: a ${version} client sends no JSON-RPC responses (a server asks it with input_required results); a 2025 session's responses carry its Mcp-Session-Id`,
        );
      }
    }
    return legacy.serve(request);
  }

  async function drain(deadline: AbortSignal): Promise<DrainReport> {
    const [old, other] = await Promise.all([legacy.drain(deadline), modern.drain(deadline)]);
    // Upstream last: a bridged call of either era may run until its era's drain is done.
    await upstream.close();
    return { inFlight: old.inFlight + other.inFlight, answered: old.answered + other.answered };
  }

  /** The status page's listing of the route's tools: made once, again after a change, or a while after it failed. */
  let toolList: ToolListing | undefined;
  function forgetTools(): void {
    toolList = undefined;
  }
  /** Names of `tools.allow` and `tools.deny` already warned of. */
  const toldUnmatched = new Set<string>();
  function warnUnmatchedFilter(tools: readonly ToolSummary[]): void {
    const unmatched = unmatchedFilterNames(entry.tools, tools, toldUnmatched);
    if (unmatched.length === 0) return;
    log.warn(
      { names: unmatched, tools: tools.length },
      'tools.allow or tools.deny names a tool the server does not have (a typo hides a tool, or leaves one listed)',
    );
  }
  /** An upstream's notices for the route's listeners, which also make the status page list its tools anew. */
  function forgettingTools(notifier: ServerNotifier): ServerNotifier {
    return {
      toolsChanged: () => {
        forgetTools();
        notifier.toolsChanged();
      },
      promptsChanged: () => notifier.promptsChanged(),
      resourcesChanged: () => notifier.resourcesChanged(),
      resourceUpdated: (uri) => notifier.resourceUpdated(uri),
    };
  }

  return {
    name,
    mode,
    sessions: legacy.sessions,
    handle,
    get inFlight() {
      return legacy.inFlight + modern.inFlight;
    },
    served,
    drain,
    upstream: () => upstream.status(),
    get tookFetch() {
      return tookFetch;
    },
    tools() {
      // A failed listing (a server that did not start, or was backing off) is tried again a while
      // later, not on every read: the page is read often, and on a command route a listing starts
      // a process.
      if (toolList?.failedAt !== undefined && clock() - toolList.failedAt >= TOOLS_RETRY_MS) forgetTools();
      if (!toolList) {
        const made: ToolListing = {
          listing: listTools(upstream, context).then((tools) => {
            warnUnmatchedFilter(tools);
            return tools.filter((t) => isToolVisible(t.name, entry.tools ?? {}));
          }),
        };
        made.listing.catch(() => (made.failedAt = clock()));
        toolList = made;
      }
      return toolList.listing;
    },
  };
}

/**
 * Names in a route's `tools.allow` or `tools.deny` that none of its server's tools has: a typo
 * there hides a tool (allow) or leaves one listed (deny) without a word. Told once per name, when
 * the tools are listed (the status page, `npm run check`); a server may add tools later.
 */
function unmatchedFilterNames(filter: LoadedServer['entry']['tools'], tools: readonly ToolSummary[], told: Set<string>): string[] {
  const names = new Set(tools.map((tool) => tool.name));
  const unmatched: string[] = [];
  for (const name of [...(filter?.allow ?? []), ...(filter?.deny ?? [])]) {
    if (names.has(name) || told.has(name)) continue;
    told.add(name);
    unmatched.push(name);
  }
  return unmatched;
}

/** Lists a route's tools the way a client would: a real Client over an in-memory link. */
async function listTools(upstream: Upstream, context: ServerContext<unknown>): Promise<ToolSummary[]> {
  // Only the status page and `npm run check` need a client: keep it off the start-up path.
  // Both ends of the in-memory link from one package, as the SDK requires.
  const { Client, InMemoryTransport } = await import('@modelcontextprotocol/client');
  // As a session of its own: a command route's child for it stops as soon as the listing is done.
  const { server } = await upstream.open({
    era: 'legacy',
    context,
    owner: 'gateway-status',
    background: true,
    session: { capabilities: {}, clientInfo: { name: 'mcp-gateway-status', version: '1.0.0' } },
  });
  const client = new Client({ name: 'mcp-gateway-status', version: '1.0.0' });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  try {
    await server.connect(serverSide);
    await client.connect(clientSide);
    const tools: ToolSummary[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.listTools(cursor ? { cursor } : undefined);
      tools.push(...page.tools.map(({ name, title, description }) => ({ name, title, description })));
      cursor = page.nextCursor;
    } while (cursor);
    return tools;
  } finally {
    await client.close().catch(() => undefined);
    await server.close().catch(() => undefined);
  }
}
