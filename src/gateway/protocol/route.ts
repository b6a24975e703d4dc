/**
 * One mounted server: `/mcp/<name>`. Owns the route's session map and decides, per request, which
 * transport serves it: the session's (stateful), or a fresh server and transport (stateless).
 * The HTTP details of MCP's Streamable HTTP transport stay in the SDK's transport.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import {
  WebStandardStreamableHTTPServerTransport,
  isInitializeRequest,
  LATEST_PROTOCOL_VERSION,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '@modelcontextprotocol/server';
import type { McpServer, AuthInfo, InitializeRequest, JSONRPCMessage, RequestId } from '@modelcontextprotocol/server';
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { SessionsConfig } from '../config/config.js';
import { GatewayError, JSONRPC, toJsonRpcBody } from '../errors.js';
import { sessionTag, type Logger } from '../logger.js';
import type { ChangeNotifier, FetchLike, ServerContext } from '../module-contract.js';
import type { LoadedServer } from '../upstreams/modules.js';
import { createUpstream, type OpenRequest, type Upstream, type UpstreamStatus } from '../upstreams/upstream.js';
import { createModernEra, FIRST_MODERN_VERSION, isModernRequest } from './modern.js';
import { ObservedWire, observeRefusal } from './observed-wire.js';
import { createRouteRequestState } from './request-state.js';
import { RequestTracker, requestIdsOf } from './request-tracker.js';
import { createSessionStore, type Refusal, type Session, type SessionStore } from '../sessions/session-store.js';
import type { SessionKeyring } from '../sessions/session-keys.js';
import type { SessionClaims, SessionTokens } from '../sessions/session-token.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { filterTools, isToolVisible } from './tool-filter.js';

/** A live session of a stateful route. */
interface RouteSession extends Session {
  readonly transport: WebStandardStreamableHTTPServerTransport;
  /** The session's requests in flight, by id (between transport and server). */
  readonly tracker: RequestTracker;
  /** When the id stops being valid (wall clock, ms), whichever instance holds it: issue time + maxAge. */
  readonly expiresAt: number;
  /** The principal the session is bound to; undefined on a route without authentication. */
  readonly principal: string | undefined;
}

export interface RouteOptions {
  server: LoadedServer;
  sessions: SessionsConfig;
  /** The upstream fetch handed to the module (the shared cache). */
  fetch: FetchLike;
  logger: Logger;
  /** Clock for idle expiry; default `performance.now`. */
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
export interface RouteRequest {
  req: IncomingMessage;
  res: ServerResponse;
  /** The parsed JSON-RPC body of a POST (already validated as JSON-RPC). */
  body?: JSONRPCMessage | JSONRPCMessage[];
  /** The caller as tools see it (`extra.authInfo`), on a route that authenticates. */
  authInfo?: AuthInfo;
  /**
   * Who the caller is (auth/outcome.ts), on a route that authenticates: a session is bound to the
   * principal that opened it, and refused (404) to any other.
   */
  principal?: string;
  /**
   * Whom a new session counts against for `sessions.maxPerPrincipal`: the principal on a route
   * with authentication, else the client's address.
   */
  owner: string;
  /** Told which session serves the request, once known (a new one's id on initialize), for the log. */
  onSession?: (sessionId: string) => void;
  /** Told when the gateway stopped before the request was answered (and answered it with an error). */
  onShutdown?: () => void;
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
  readonly sessions: SessionStore;
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
}

export function createRoute(options: RouteOptions): Route {
  const { server: loaded, fetch, logger, tokens, telemetry, wallClock = Date.now } = options;
  const maxAge = options.sessions.maxAge;
  const { name, entry } = loaded;
  const mode = entry.sessions;
  const served = { legacy: 0, modern: 0 };
  const log = logger.child({ route: name });
  const notify: ChangeNotifier = Object.freeze({
    toolsChanged: () =>
      announce(
        (server) => server.sendToolListChanged(),
        () => modern.notify.toolsChanged(),
      ),
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
  const requestState = createRouteRequestState(options.keyring, name);
  const upstream = createUpstream(loaded, {
    configDir: options.configDir,
    clientInfo: options.clientInfo,
    idleTimeout: options.sessions.idleTimeout,
    backoff: options.backoff,
    listeners: () => modern.notify,
    telemetry: options.telemetry,
    logger: log,
  });
  const base = { route: name, options: loaded.options, logger: log, notify, requestState };
  /**
   * A module that takes `ctx.fetch` can make upstream requests, whose spans are children of the
   * request that made them: from then on, telemetry carries each request's span through its
   * asynchronous work (telemetry/context-on-demand.ts).
   */
  const withFetch = (era: 'legacy' | 'modern'): ServerContext<unknown> =>
    Object.freeze(
      Object.defineProperty({ ...base, era } as Omit<ServerContext<unknown>, 'fetch'>, 'fetch', {
        enumerable: true,
        get: () => {
          telemetry.carryContext();
          return fetch;
        },
      }) as ServerContext<unknown>,
    );
  const context = withFetch('legacy');
  const modernContext = withFetch('modern');

  /** A change, told to every 2025 session held here and to this instance's 2026-07-28 listeners. */
  function announce(toSession: (server: McpServer) => void, toListeners: () => void): void {
    toListeners();
    for (const session of sessions.values()) {
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

  const sessions = createSessionStore<RouteSession>({
    maxSessions: options.sessions.maxPerRoute,
    maxPerOwner: options.sessions.maxPerPrincipal,
    idleTimeout: options.sessions.idleTimeout,
    now: options.now,
    onEnd: (_session, reason) => log.debug({ reason }, 'session ended'),
  });
  /**
   * Ids DELETEd here, by digest: their tokens stay valid until maxAge, but this instance will not
   * resume them. Bounded, so that creating and deleting sessions cannot grow memory without end:
   * the oldest deletions are forgotten first. Other instances cannot know (there is no shared
   * store); clients do not reuse a deleted id.
   */
  const deleted = new LRUCache<string, true>({ max: MAX_REMEMBERED_DELETIONS, ttl: maxAge, ttlResolution: 1000 });
  /** Resumes in progress, so concurrent first requests for one id share one server. */
  const resuming = new Map<string, Promise<RouteSession>>();

  /** Requests in flight on this route (stateless ones too), for the drain. */
  const calls = new Set<{ readonly tracker: RequestTracker; readonly onShutdown: (() => void) | undefined }>();
  const idleWaiters: Array<() => void> = [];
  let draining = false;

  /** A new server for one client, connected to a new transport. */
  async function open(
    sessionId: (() => string) | undefined,
    owner: string,
    session?: OpenRequest['session'],
  ): Promise<{ server: McpServer; transport: WebStandardStreamableHTTPServerTransport; tracker: RequestTracker; seal?: string }> {
    const { server, seal } = await upstream.open({ era: 'legacy', context, owner, ...(session ? { session } : {}) });
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: sessionId,
      keepAliveMs: options.sessions.keepAlive,
      onsessionclosed: (id) => {
        deleted.set(digest(id), true);
        sessions.end(id, 'deleted');
      },
    });
    const tracker = new RequestTracker(new ObservedWire(transport, { telemetry, route: name, internal: (id) => id === RESUME_ID }));
    const wire = filterTools(tracker, entry.tools);
    // The server chains its own close handler after this one.
    if (sessionId !== undefined) wire.onclose = () => sessions.end(sessionId(), 'closed');
    await server.connect(wire);
    return { server, transport, tracker, ...(seal === undefined ? {} : { seal }) };
  }

  async function serve(
    transport: WebStandardStreamableHTTPServerTransport,
    tracker: RequestTracker,
    { req, res, body, authInfo, onShutdown }: RouteRequest,
  ): Promise<void> {
    const ids = body === undefined ? [] : requestIdsOf(Array.isArray(body) ? body : [body]);
    let call: { tracker: RequestTracker; onShutdown: (() => void) | undefined } | undefined;
    if (ids.length > 0) {
      if (draining) throw new GatewayError('shutting_down', 'The gateway is shutting down', {}, { 'Retry-After': '1' });
      const duplicate = tracker.begin(ids);
      if (duplicate !== undefined) throw duplicateId(duplicate);
      call = { tracker, onShutdown };
      calls.add(call);
    }
    try {
      // The same bridge the SDK's Node transport uses: Node request in, web Response streamed out.
      const listener = getRequestListener((webRequest) => transport.handleRequest(webRequest, { parsedBody: body, authInfo }), {
        overrideGlobalObjects: false,
      });
      // Resolves once the response has ended (streams included): the ids are free again before
      // the client can send its next request.
      await listener(req, res);
    } finally {
      if (call) {
        tracker.end(ids);
        calls.delete(call);
        if (calls.size === 0) for (const wake of idleWaiters.splice(0)) wake();
      }
    }
  }

  async function serveSession(session: RouteSession, request: RouteRequest): Promise<void> {
    const release = sessions.use(session);
    request.res.once('close', release);
    try {
      await serve(session.transport, session.tracker, request);
    } finally {
      release();
    }
  }

  async function handleStateful(request: RouteRequest): Promise<void> {
    const { req, body, principal, owner } = request;
    const sessionId = header(req, 'mcp-session-id');
    if (sessionId !== undefined) {
      const session = await findSession(sessionId, principal, owner);
      return serveSession(session, request);
    }

    const messages = body === undefined ? [] : Array.isArray(body) ? body : [body];
    const initialize = messages.find((m): m is InitializeRequest & JSONRPCMessage => isInitializeRequest(m));
    if (req.method !== 'POST' || !initialize) {
      throw new GatewayError('session_required', 'Bad Request: Mcp-Session-Id header is required');
    }
    if (messages.length > 1) {
      throw new GatewayError('invalid_request', 'Invalid Request: initialize must be sent alone, not in a batch');
    }

    const { protocolVersion, capabilities, clientInfo } = initialize.params;
    if (draining) throw new GatewayError('shutting_down', 'The gateway is shutting down', {}, { 'Retry-After': '1' });
    const place = sessions.reserve(owner);
    if (!place.ok) throw sessionsFull(place);
    let opened: Awaited<ReturnType<typeof open>>;
    let id = '';
    try {
      // The id is issued once the upstream is open: a remote's own session is sealed inside it.
      opened = await open(() => id, owner, { capabilities, clientInfo });
      id = tokens.issue({
        route: name,
        // The version the SDK's server will answer with: the client's when supported, else the latest.
        protocolVersion: SUPPORTED_PROTOCOL_VERSIONS.includes(protocolVersion) ? protocolVersion : LATEST_PROTOCOL_VERSION,
        clientCapabilities: capabilities,
        clientInfo,
        ...(principal === undefined ? {} : { principal }),
        ...(opened.seal === undefined ? {} : { upstream: opened.seal }),
      });
    } catch (error) {
      place.cancel();
      throw error;
    }
    const { server, transport, tracker } = opened;
    const session: RouteSession = { id, server, transport, tracker, owner, active: 0, expiresAt: wallClock() + maxAge, principal };
    place.add(session);
    request.onSession?.(id);
    try {
      await serveSession(session, request);
    } finally {
      // An initialize the transport refused (bad Accept, bad version) leaves no usable session.
      if (transport.sessionId === undefined) sessions.end(id, 'closed');
    }
  }

  /**
   * The live session for an id, if `principal` opened it: held here, or resumed from the id
   * itself. 404 otherwise; a session is never touched (or resumed) for another principal.
   */
  async function findSession(id: string, principal: string | undefined, owner: string): Promise<RouteSession> {
    const held = sessions.get(id);
    if (held) {
      if (held.principal !== principal) throw wrongPrincipal(id);
      if (wallClock() <= held.expiresAt) return held;
      sessions.end(id, 'expired');
      throw sessionNotFound('expired');
    }
    if (deleted.has(digest(id))) throw sessionNotFound('deleted');
    let pending = resuming.get(id);
    if (!pending) {
      const verified = tokens.verify(id, name);
      if (!verified.ok) throw sessionNotFound(verified.reason);
      if (verified.claims.principal !== principal) throw wrongPrincipal(id);
      if (draining) throw new GatewayError('shutting_down', 'The gateway is shutting down', {}, { 'Retry-After': '1' });
      pending = resume(id, verified.claims, owner).finally(() => resuming.delete(id));
      resuming.set(id, pending);
    }
    const session = await pending;
    // A resume started for another request of the same id: its principal is checked here.
    if (session.principal !== principal) throw wrongPrincipal(id);
    return session;
  }

  function wrongPrincipal(id: string): GatewayError {
    log.warn({ session: sessionTag(id) }, 'session id presented by another principal');
    return sessionNotFound('wrong_principal');
  }

  /**
   * Recreates a session this instance does not hold (another instance issued it, or this one
   * restarted or let it idle out): a fresh server, initialized with the parameters the id carries
   * as if the client's initialize had happened here.
   */
  async function resume(id: string, claims: SessionClaims, owner: string): Promise<RouteSession> {
    if (!SUPPORTED_PROTOCOL_VERSIONS.includes(claims.protocolVersion)) throw sessionNotFound('unsupported_protocol_version');
    const place = sessions.reserve(owner);
    if (!place.ok) throw sessionsFull(place);
    let opened: Awaited<ReturnType<typeof open>>;
    try {
      opened = await open(() => id, owner, {
        capabilities: claims.clientCapabilities,
        clientInfo: claims.clientInfo,
        ...(claims.upstream === undefined ? {} : { resume: claims.upstream }),
      });
    } catch (error) {
      place.cancel();
      throw error;
    }
    const { server, transport, tracker } = opened;
    const session: RouteSession = {
      id,
      server,
      transport,
      tracker,
      owner,
      active: 0,
      expiresAt: claims.issuedAt + maxAge,
      principal: claims.principal,
    };
    try {
      const initialize = await transport.handleRequest(
        internalPost(name, {
          jsonrpc: '2.0',
          id: RESUME_ID,
          method: 'initialize',
          params: { protocolVersion: claims.protocolVersion, capabilities: claims.clientCapabilities, clientInfo: claims.clientInfo },
        }),
      );
      const answer = await initialize.text();
      if (initialize.status !== 200 || !answer.includes('"result"'))
        throw new Error(`initialize answered ${initialize.status}: ${answer.slice(0, 200)}`);
      const initialized = await transport.handleRequest(
        internalPost(
          name,
          { jsonrpc: '2.0', method: 'notifications/initialized' },
          { 'mcp-session-id': id, 'mcp-protocol-version': claims.protocolVersion },
        ),
      );
      if (initialized.status !== 202) throw new Error(`notifications/initialized answered ${initialized.status}`);
    } catch (error) {
      place.cancel();
      await server.close().catch(() => undefined);
      throw error;
    }
    place.add(session);
    log.info({ age: Math.round((wallClock() - claims.issuedAt) / 1000) }, 'session resumed');
    return session;
  }

  async function handleStateless(request: RouteRequest): Promise<void> {
    const { req, res } = request;
    if (req.method !== 'POST') {
      throw new GatewayError(
        'method_not_allowed',
        `Method not allowed: the stateless route /mcp/${name} takes POST only`,
        {},
        { Allow: 'POST' },
      );
    }
    const { server, transport, tracker } = await open(undefined, request.owner);
    res.once('close', () => {
      void server.close().catch(() => undefined);
    });
    await serve(transport, tracker, request);
  }

  const modern = createModernEra({
    route: name,
    createServer: async (owner) => (await upstream.open({ era: 'modern', context: modernContext, owner })).server,
    tools: entry.tools,
    listTtl: entry.listTtl,
    // A list can differ between callers only where callers differ: authentication, or tool lists
    // (which a module could make per-caller one day): only an open, unfiltered route is public.
    cacheScope: !options.authenticated && !entry.tools ? 'public' : 'private',
    keepAlive: options.sessions.keepAlive,
    logger,
    telemetry,
  });

  async function handle(request: RouteRequest): Promise<void> {
    const era: ProtocolEra = (await isModernRequest(request.req, request.body)) ? 'modern' : 'legacy';
    try {
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
      served.modern++;
      request.onEra?.('modern');
      return modern.serve({
        req,
        res: request.res,
        body: body as JSONRPCMessage,
        authInfo: request.authInfo,
        owner: request.owner,
        onShutdown: request.onShutdown,
      });
    }
    served.legacy++;
    request.onEra?.('legacy');
    const version = header(req, 'mcp-protocol-version');
    if (req.method !== 'POST' && version !== undefined && version >= FIRST_MODERN_VERSION && header(req, 'mcp-session-id') === undefined) {
      // The 2026-07-28 era has no session to stream from or to end: it is POST only.
      throw new GatewayError('method_not_allowed', `Method not allowed: ${version} requests are POST only`, {}, { Allow: 'POST' });
    }
    return mode === 'stateless' ? handleStateless(request) : handleStateful(request);
  }

  async function drain(deadline: AbortSignal): Promise<DrainReport> {
    const modernDrained = modern.drain(deadline);
    const legacy = await drainLegacy(deadline);
    const other = await modernDrained;
    return { inFlight: legacy.inFlight + other.inFlight, answered: legacy.answered + other.answered };
  }

  async function drainLegacy(deadline: AbortSignal): Promise<DrainReport> {
    draining = true;
    // A GET stream carries nothing an answer needs: it ends now, and the client opens its next one
    // elsewhere (this instance refuses it).
    for (const session of sessions.values()) session.transport.closeStandaloneSSEStream();
    const inFlight = calls.size;
    if (calls.size > 0 && !deadline.aborted) {
      await new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        deadline.addEventListener('abort', () => resolve(), { once: true });
      });
    }
    let answered = 0;
    const left = [...calls];
    for (const call of left) call.onShutdown?.();
    for (const tracker of new Set(left.map((call) => call.tracker))) answered += await tracker.answerPending(shuttingDownAnswer);
    await sessions.closeAll('shutdown');
    await upstream.close();
    return { inFlight, answered };
  }

  let toolList: Promise<ToolSummary[]> | undefined;

  return {
    name,
    mode,
    sessions,
    handle,
    get inFlight() {
      return calls.size + modern.inFlight;
    },
    served,
    drain,
    upstream: () => upstream.status(),
    tools() {
      toolList ??= listTools(upstream, context).then((tools) => tools.filter((t) => isToolVisible(t.name, entry.tools ?? {})));
      return toolList;
    },
  };
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

/** The id of the initialize the gateway sends a resumed session's server itself (not a client's request). */
const RESUME_ID = 'gateway-resume';

/** How many DELETEd ids a route remembers (about 100 bytes each). */
const MAX_REMEMBERED_DELETIONS = 100_000;

/** A deleted id as remembered: 128 bits of its SHA-256, not the id (a bearer credential) itself. */
function digest(id: string): string {
  return createHash('sha256').update(id).digest().subarray(0, 16).toString('base64url');
}

function duplicateId(id: RequestId): GatewayError {
  return new GatewayError(
    'invalid_request',
    `Invalid Request: a request with id ${JSON.stringify(id)} is already in flight on this session; use a new id`,
    { id },
  );
}

function sessionsFull(refusal: Refusal): GatewayError {
  const whose = refusal.full === 'route' ? 'this route' : 'this caller';
  return new GatewayError(
    'sessions_full',
    `Too many sessions: all ${refusal.limit} sessions of ${whose} are busy; retry shortly`,
    { scope: refusal.full === 'route' ? 'route' : 'principal', limit: refusal.limit },
    { 'Retry-After': '1' },
  );
}

/** The answer to a request the gateway stopped before its server answered. */
function shuttingDownAnswer(id: RequestId): JSONRPCMessage {
  return toJsonRpcBody(
    JSONRPC.SERVER_ERROR,
    'The gateway is shutting down: the call did not finish within its grace period; retry it',
    { code: 'shutting_down' },
    id,
  ) as JSONRPCMessage;
}

function sessionNotFound(reason: string): GatewayError {
  return new GatewayError('session_not_found', 'Session not found: initialize a new session', { reason });
}

/** A request the gateway makes to a session's transport itself (never reaches the network). */
function internalPost(route: string, message: JSONRPCMessage, headers: Record<string, string> = {}): Request {
  return new Request(`http://gateway.internal/mcp/${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify(message),
  });
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
