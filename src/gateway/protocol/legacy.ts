/**
 * The 2025 era on a route: `initialize`, then a protocol session (or, on a `sessions: stateless`
 * route, a fresh server and transport for every request), served by the SDK's web-standard
 * Streamable HTTP transport. Owns the route's session map: sessions are capped per route and per
 * caller, bound to the principal that opened them, and resumed from their sealed ids on any
 * instance (a fresh server initialized with what the id carries). Requests in flight are tracked
 * by id on each session's wire, so a duplicate id is refused and the drain can answer what is
 * left. The HTTP details of MCP's Streamable HTTP transport stay in the SDK's transport.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { getRequestListener } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import {
  WebStandardStreamableHTTPServerTransport,
  isInitializeRequest,
  LATEST_PROTOCOL_VERSION,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '@modelcontextprotocol/server';
import type { McpServer, AuthInfo, InitializeRequest, JSONRPCMessage, RequestId } from '@modelcontextprotocol/server';
import { LRUCache } from 'lru-cache';
import type { ServerEntry, SessionsConfig } from '../config/config.js';
import type { Milliseconds } from '../config/units.js';
import { GatewayError, JSONRPC, quoteForMessage, shuttingDown, toJsonRpcBody } from '../errors.js';
import { sessionTag, type Logger } from '../logger.js';
import type { ServerContext } from '../module-contract.js';
import type { OpenRequest, Upstream } from '../upstreams/upstream.js';
import { CallDeadline } from './call-deadline.js';
import { GetStreamState } from './get-stream.js';
import { firstHeader, headerValues, leaveConnectionToNode, repeatedHeader } from './headers.js';
import { anyUnclaimed, endUnclaimed, endWithRefusal, ObservedWire, refusalOutcome, type ExpectedOperations } from './observed-wire.js';
import { RequestTracker, requestIdsOf } from './request-tracker.js';
import { createSessionStore, type Refusal, type Session, type SessionStore } from '../sessions/session-store.js';
import { SESSION_ID_MAX_LENGTH, type SessionClaims, type SessionTokens } from '../sessions/session-token.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { filterTools } from './tool-filter.js';
import { MAX_UNREAD_STREAM, sendBounded } from './unread-bound.js';

/** A live session of a stateful route. */
export interface RouteSession extends Session {
  readonly transport: WebStandardStreamableHTTPServerTransport;
  /** The session's requests in flight, by id (between transport and server). */
  readonly tracker: RequestTracker;
  /** When the id stops being valid (wall clock, ms), whichever instance holds it: issue time + maxAge. */
  readonly expiresAt: number;
  /** The principal the session is bound to; undefined on a route without authentication. */
  readonly principal: string | undefined;
  /** Its upstream's state as sealed in ids (a url route's remote session), ended with it on DELETE. */
  readonly upstreamState: string | undefined;
  /** Whether its client has its GET stream open (told to its upstream, which asks the client there between calls). */
  readonly getStream: GetStreamState;
  /** Where telemetry sees its requests and answers. */
  readonly observed: ObservedWire;
}

/** What the 2025 era needs from the HTTP layer for one request. */
export interface LegacyRequest {
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
}

/** A request as the era serves it: with its requests' operations, started as it came. */
interface ServedRequest extends LegacyRequest {
  readonly operations: ExpectedOperations | undefined;
}

export interface LegacyEraOptions {
  route: string;
  entry: Pick<ServerEntry, 'sessions' | 'tools'>;
  sessions: SessionsConfig;
  upstream: Upstream;
  /**
   * A module route's `callTimeout`: each request its server handles is answered `upstream_timeout`
   * past it (call-deadline.ts). Undefined on command and url routes, whose bridge times its requests.
   */
  callTimeout?: Milliseconds;
  /** The context the route's servers of this era are built with, for a caller (its principal; undefined on an open route). */
  contextFor: (principal: string | undefined) => ServerContext<unknown>;
  /** Issues and verifies the self-contained session ids that let any instance resume a session. */
  tokens: SessionTokens;
  /** Wall clock in ms since the epoch, the one `tokens` uses. */
  wallClock: () => number;
  /** Clock for idle expiry; default `performance.now`. */
  now?: () => number;
  telemetry: Telemetry;
  /** The route's logger. */
  logger: Logger;
}

export interface LegacyEra {
  serve(request: LegacyRequest): Promise<void>;
  /** The sessions this instance holds. */
  readonly sessions: SessionStore<RouteSession>;
  /** POSTs carrying requests being answered now (GET streams are not counted). */
  readonly inFlight: number;
  /**
   * Ends GET streams now, refuses new requests, lets calls finish until `deadline` aborts, answers
   * the rest `shutting_down` on their own streams, then closes every session.
   */
  drain(deadline: AbortSignal): Promise<{ inFlight: number; answered: number }>;
}

export function createLegacyEra(options: LegacyEraOptions): LegacyEra {
  const { route: name, entry, upstream, contextFor, tokens, wallClock, telemetry, logger: log } = options;
  const maxAge = options.sessions.maxAge;
  const mode = entry.sessions;

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
   * store); clients do not reuse a deleted id. Made on the first DELETE: its arrays, sized for
   * every deletion it can remember, are a few milliseconds of a cold start otherwise.
   */
  let deleted: LRUCache<string, true> | undefined;
  const remembered = () => (deleted ??= new LRUCache<string, true>({ max: MAX_REMEMBERED_DELETIONS, ttl: maxAge, ttlResolution: 1000 }));
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
    principal: string | undefined,
    session?: OpenRequest['session'],
  ): Promise<{
    server: McpServer;
    transport: WebStandardStreamableHTTPServerTransport;
    tracker: RequestTracker;
    getStream: GetStreamState;
    observed: ObservedWire;
    seal?: string;
    unsealed?: () => void;
  }> {
    const getStream = new GetStreamState();
    const { server, seal, unsealed } = await upstream.open({
      era: 'legacy',
      context: contextFor(principal),
      owner,
      ...(session ? { session: { ...session, getStream } } : {}),
    });
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: sessionId,
      keepAliveMs: options.sessions.keepAlive,
      onsessionclosed: async (id) => {
        remembered().set(digest(id), true);
        const state = sessions.peek(id)?.upstreamState;
        if (state !== undefined) upstream.endSession?.(state);
        // The transport ends every stream once this returns: a call still running would get an
        // empty one, and its client would wait out its own timeout for the answer.
        await tracker.answerPending(sessionDeletedAnswer);
        sessions.end(id, 'deleted');
      },
    });
    const observed = new ObservedWire(transport);
    const tracker = new RequestTracker(observed, { endStream: (id) => transport.closeSSEStream(id) });
    const filtered = filterTools(tracker, entry.tools);
    const limit = options.callTimeout;
    const wire = limit === undefined ? filtered : new CallDeadline(filtered, { route: name, callTimeout: limit, logger: log });
    // The server chains its own close handler after this one.
    if (sessionId !== undefined) wire.onclose = () => sessions.end(sessionId(), 'closed');
    await server.connect(wire);
    return { server, transport, tracker, getStream, observed, ...(seal === undefined ? {} : { seal }), ...(unsealed ? { unsealed } : {}) };
  }

  async function serve(
    { transport, tracker, observed }: Pick<RouteSession, 'transport' | 'tracker' | 'observed'>,
    { req, res, body, authInfo, onShutdown, operations }: ServedRequest,
    getStream?: GetStreamState,
  ): Promise<void> {
    const ids = body === undefined ? [] : requestIdsOf(Array.isArray(body) ? body : [body]);
    let call: { tracker: RequestTracker; onShutdown: (() => void) | undefined } | undefined;
    if (ids.length > 0) {
      if (draining) throw shuttingDown();
      const duplicate = tracker.begin(ids);
      if (duplicate !== undefined) throw duplicateId(duplicate);
      call = { tracker, onShutdown };
      calls.add(call);
    }
    if (operations) observed.expect(operations);
    try {
      // The same bridge the SDK's Node transport uses: Node request in, web Response streamed out.
      const listener = getRequestListener(
        async (webRequest) => {
          const response = await transport.handleRequest(webRequest, { parsedBody: body, authInfo });
          // The server has every request it was handed by now: one still unclaimed, the transport refused.
          if (operations && !isEventStream(response) && anyUnclaimed(operations))
            endUnclaimed(operations, await refusalOutcome(response.clone()));
          if (isEventStream(response) && response.body) {
            const get = webRequest.method === 'GET';
            // The session's GET stream: open until its response ends (or the client goes away).
            if (get && getStream) res.once('close', getStream.opened());
            // A POST's stream carries what its calls send before they answer (progress, log messages).
            await sendBounded(response, res, MAX_UNREAD_STREAM, (unread) => {
              log.warn(
                { session: sessionTag(transport.sessionId), unreadBytes: unread, limit: MAX_UNREAD_STREAM },
                get
                  ? "a session's GET stream is not read by its client: the stream is cut (the client opens it again), and what waited on it dropped"
                  : "a call's event stream is not read by its client: the stream is cut, and what waited on it dropped; the call goes on, as when its client goes away",
              );
            });
            return RESPONSE_ALREADY_SENT;
          }
          return leaveConnectionToNode(response);
        },
        { overrideGlobalObjects: false },
      );
      // Resolves once the response has ended (streams included): the ids are free again before
      // the client can send its next request.
      await listener(req, res);
    } finally {
      if (operations) observed.forget(operations);
      if (call) {
        tracker.end(ids);
        calls.delete(call);
        if (calls.size === 0) for (const wake of idleWaiters.splice(0)) wake();
      }
    }
  }

  /**
   * A new session's id, with its upstream's state sealed in it when that fits. A remote server's
   * session id may be longer than a gateway id has room for (the spec sets no limit): the session
   * then works on this instance, and another instance that resumes it opens a new upstream session.
   */
  function issueId(claims: Omit<SessionClaims, 'issuedAt' | 'upstream'>, upstream: string | undefined): { id: string; sealed: boolean } {
    if (upstream === undefined) return { id: tokens.issue(claims), sealed: false };
    try {
      return { id: tokens.issue({ ...claims, upstream }), sealed: true };
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      log.warn(
        { upstreamStateLength: upstream.length, maxSessionIdLength: SESSION_ID_MAX_LENGTH },
        "the upstream's session id does not fit in the gateway's; another instance that resumes this session opens a new upstream session",
      );
      return { id: tokens.issue(claims), sealed: false };
    }
  }

  /** Serves a request on a session, busy (`release` from its `sessions.use`) until the request ends. */
  async function serveSession(session: RouteSession, request: ServedRequest, release = sessions.use(session)): Promise<void> {
    request.res.once('close', release);
    try {
      await serve(session, request, session.getStream);
    } finally {
      release();
    }
  }

  async function handleStateful(request: ServedRequest): Promise<void> {
    const { req, body, principal, owner } = request;
    // One id, or none: an empty header is no id (a request other than initialize then needs one),
    // and a repeated one (`id, id` as Node joins it) is refused, not read as an id that is not ours.
    const sent = headerValues(req, 'mcp-session-id');
    if (sent !== undefined && sent.length > 1) throw repeatedHeader('Mcp-Session-Id', sent.length);
    const sessionId = sent?.[0] || undefined;
    const messages = body === undefined ? [] : Array.isArray(body) ? body : [body];
    const initialize = messages.find((m): m is InitializeRequest & JSONRPCMessage => isInitializeRequest(m));
    if (sessionId !== undefined) {
      // As the SDK's transport refuses it ("Server already initialized"), with the gateway's code
      // and what to do: whatever session the id names, initialize is what opens one.
      if (initialize) {
        const refusal = new GatewayError(
          'invalid_request',
          'Invalid Request: initialize opens a new session; send it without the Mcp-Session-Id header',
        );
        if ('id' in initialize) refusal.rpcId = initialize.id as RequestId;
        throw refusal;
      }
      if (req.method === 'DELETE' && sessions.peek(sessionId) === undefined && !resuming.has(sessionId)) {
        return deleteUnheld(sessionId, request);
      }
      const found = await findSession(sessionId, principal, owner);
      return serveSession(found.session, request, found.release);
    }

    if (req.method !== 'POST' || !initialize) {
      throw new GatewayError(
        'session_required',
        sent === undefined
          ? 'Bad Request: Mcp-Session-Id header is required'
          : 'Bad Request: the Mcp-Session-Id header is empty; it is required on every request but initialize',
      );
    }
    if (messages.length > 1) {
      throw new GatewayError('invalid_request', 'Invalid Request: initialize must be sent alone, not in a batch');
    }

    const { protocolVersion, capabilities, clientInfo } = initialize.params;
    if (draining) throw shuttingDown();
    const place = sessions.reserve(owner);
    if (!place.ok) throw sessionsFull(place);
    let opened: Awaited<ReturnType<typeof open>>;
    let id = '';
    try {
      // The id is issued once the upstream is open: a remote's own session is sealed inside it.
      opened = await open(() => id, owner, principal, { capabilities, clientInfo });
    } catch (error) {
      place.cancel();
      throw error;
    }
    let sealed: boolean;
    try {
      ({ id, sealed } = issueId(
        {
          route: name,
          // The version the SDK's server will answer with: the client's when supported, else the latest.
          protocolVersion: SUPPORTED_PROTOCOL_VERSIONS.includes(protocolVersion) ? protocolVersion : LATEST_PROTOCOL_VERSION,
          clientCapabilities: capabilities,
          clientInfo,
          ...(principal === undefined ? {} : { principal }),
        },
        opened.seal,
      ));
    } catch (error) {
      place.cancel();
      // Its upstream connection (a child, a remote session) goes with it.
      await opened.server.close().catch(() => undefined);
      throw error;
    }
    // An upstream state left out of the id is the upstream's to end with its connection, like any no id reaches.
    if (!sealed) opened.unsealed?.();
    const upstreamState = sealed ? opened.seal : undefined;
    const session = routeSession(id, opened, owner, { expiresAt: wallClock() + maxAge, principal, upstreamState });
    const { transport } = session;
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
   * Marked busy in the same step that finds it (call `release` when the request ends): between
   * an await and its continuation another request may ask for room, which closes the least
   * recently used idle session, and a session found idle would be closed under its request.
   */
  async function findSession(
    id: string,
    principal: string | undefined,
    owner: string,
  ): Promise<{ session: RouteSession; release: () => void }> {
    const held = sessions.get(id);
    if (held) {
      if (held.principal !== principal) throw wrongPrincipal(id);
      if (wallClock() <= held.expiresAt) return { session: held, release: sessions.use(held) };
      // A call in flight (or a stream) the id was valid for keeps its answer: the session ends
      // once it is idle (this check again, or the idle sweep), not under it.
      if (held.active === 0) sessions.end(id, 'expired');
      throw sessionNotFound('expired');
    }
    if (deleted?.has(digest(id))) throw sessionNotFound('deleted');
    let pending = resuming.get(id);
    if (!pending) {
      const verified = tokens.verify(id, name);
      if (!verified.ok) throw sessionNotFound(verified.reason);
      if (verified.claims.principal !== principal) throw wrongPrincipal(id);
      if (draining) throw shuttingDown();
      pending = resume(id, verified.claims, owner).finally(() => resuming.delete(id));
      resuming.set(id, pending);
    }
    const session = await pending;
    // A resume started for another request of the same id: its principal is checked here.
    if (session.principal !== principal) throw wrongPrincipal(id);
    // Added idle, and closed since (room made for another session, a DELETE): look again, as a
    // request arriving now would (a deleted id is refused; an evicted one resumes anew).
    if (sessions.peek(id) !== session) return findSession(id, principal, owner);
    return { session, release: sessions.use(session) };
  }

  /**
   * A DELETE of a valid id this instance does not hold (another instance issued it, or this one
   * evicted it or let it idle out): the session ends without being resumed first, which on a
   * command route would start a child only to stop it, and at the cap would close a live idle
   * session to make room. The id is remembered as deleted, as a held session's is; a remote
   * session sealed in it is told to end. Answered as the SDK's transport answers a DELETE.
   */
  function deleteUnheld(id: string, { res, principal }: LegacyRequest): void {
    if (deleted?.has(digest(id))) throw sessionNotFound('deleted');
    const verified = tokens.verify(id, name);
    if (!verified.ok) throw sessionNotFound(verified.reason);
    if (verified.claims.principal !== principal) throw wrongPrincipal(id);
    remembered().set(digest(id), true);
    if (verified.claims.upstream !== undefined) upstream.endSession?.(verified.claims.upstream);
    log.debug({ reason: 'deleted' }, 'session ended (not held here)');
    res.writeHead(200).end();
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
      opened = await open(() => id, owner, claims.principal, {
        capabilities: claims.clientCapabilities,
        clientInfo: claims.clientInfo,
        ...(claims.upstream === undefined ? {} : { resume: claims.upstream }),
      });
    } catch (error) {
      place.cancel();
      throw error;
    }
    const session = routeSession(id, opened, owner, {
      expiresAt: claims.issuedAt + maxAge,
      principal: claims.principal,
      upstreamState: claims.upstream,
    });
    const { server, transport } = session;
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

  async function handleStateless(request: ServedRequest): Promise<void> {
    const { req, res } = request;
    if (req.method !== 'POST') throw statelessPostOnly(name);
    const opened = await open(undefined, request.owner, request.principal);
    res.once('close', () => {
      void opened.server.close().catch(() => undefined);
    });
    await serve(opened, request);
  }

  /**
   * Serves `request` with an operation for each of its requests, started now: finding, resuming or
   * opening its session (a command route's child started) counts in the request's time, and the
   * upstream requests made meanwhile (the child's handshake) are children of its span. A request
   * refused on the way gets the refusal its client gets.
   */
  async function serveObserved(request: LegacyRequest): Promise<void> {
    const operations = startOperations(request);
    const served: ServedRequest = { ...request, operations };
    const handle = () => (mode === 'stateless' ? handleStateless(served) : handleStateful(served));
    if (!operations) return handle();
    const [first] = operations.values();
    try {
      await first!.operation.run(handle);
    } catch (error) {
      endWithRefusal(operations, error);
      throw error;
    } finally {
      // Answered without reaching a server or being refused (none is known): counted all the same.
      endUnclaimed(operations, NOT_SERVED);
    }
  }

  function startOperations({ req, res, body }: LegacyRequest): ExpectedOperations | undefined {
    if (body === undefined) return undefined;
    let operations: ExpectedOperations | undefined;
    const header = (name: string) => firstHeader(req, name);
    const sentVersion = header('mcp-protocol-version')?.trim();
    for (const message of Array.isArray(body) ? body : [body]) {
      if (!('method' in message) || !('id' in message) || message.id === undefined) continue;
      // A second request with the id of one before it in the batch: refused with the batch.
      if (operations?.has(message.id)) continue;
      const operation = telemetry.operation({
        route: name,
        era: 'legacy',
        message,
        header,
        // An initialize's is the one its answer negotiated; a request without the header speaks its session's (told later).
        protocolVersion: message.method === 'initialize' || sentVersion === '' ? undefined : sentVersion,
        // Gone before its answer was written.
        clientGone: () => res.destroyed && !res.writableFinished,
      });
      (operations ??= new Map()).set(message.id, { operation, claimed: false });
    }
    return operations;
  }

  async function drainLegacy(deadline: AbortSignal): Promise<{ inFlight: number; answered: number }> {
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
    return { inFlight, answered };
  }

  return {
    serve: serveObserved,
    sessions,
    get inFlight() {
      return calls.size;
    },
    drain: drainLegacy,
  };
}

/** A GET's answer that opens the session's stream (not a 405, a 409 for a second one, or an error). */
function isEventStream(response: Response): boolean {
  return response.status === 200 && (response.headers.get('content-type') ?? '').startsWith('text/event-stream');
}

/** What a request's operation ends with when it was neither served nor refused (it cannot be, but is then counted). */
const NOT_SERVED = { error: { code: -32603, message: 'the request was not served' } } as const;

/** The id of the initialize the gateway sends a resumed session's server itself (not a client's request). */
const RESUME_ID = 'gateway-resume';

/** How many DELETEd ids a route remembers (about 100 bytes each). */
const MAX_REMEMBERED_DELETIONS = 100_000;

/** A deleted id as remembered: 128 bits of its SHA-256, not the id (a bearer credential) itself. */
/** A session of `opened` (a server and its transport), idle until its first request. */
function routeSession(
  id: string,
  opened: Pick<RouteSession, 'server' | 'transport' | 'tracker' | 'getStream' | 'observed'>,
  owner: string,
  held: Pick<RouteSession, 'expiresAt' | 'principal' | 'upstreamState'>,
): RouteSession {
  const { server, transport, tracker, getStream, observed } = opened;
  return { id, server, transport, tracker, getStream, observed, owner, active: 0, ...held };
}

function digest(id: string): string {
  return createHash('sha256').update(id).digest().subarray(0, 16).toString('base64url');
}

function duplicateId(id: RequestId): GatewayError {
  const refusal = new GatewayError(
    'invalid_request',
    `Invalid Request: a request with id ${quoteForMessage(id)} is already in flight on this session; use a new id`,
    { id },
  );
  // Not by its id: a client would take it for the answer of the call still running.
  refusal.rpcId = null;
  return refusal;
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

/** The answer to a request still in flight when its session was DELETEd. */
function sessionDeletedAnswer(id: RequestId): JSONRPCMessage {
  return toJsonRpcBody(
    JSONRPC.SESSION_NOT_FOUND,
    'Session not found: the session was deleted before the call finished; initialize a new session',
    { code: 'session_not_found', reason: 'deleted' },
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

/** The refusal of a GET or DELETE on a `sessions: stateless` route, which has no session and no stream to offer. */
export function statelessPostOnly(route: string): GatewayError {
  return new GatewayError(
    'method_not_allowed',
    `Method not allowed: the stateless route /mcp/${route} takes POST only`,
    {},
    { Allow: 'POST' },
  );
}
