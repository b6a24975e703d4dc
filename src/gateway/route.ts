/**
 * One mounted server: `/mcp/<name>`. Owns the route's session map and decides, per request, which
 * transport serves it: the session's (stateful), or a fresh server and transport (stateless).
 * The HTTP details of MCP's Streamable HTTP transport stay in the SDK's transport.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { LRUCache } from 'lru-cache';
import {
  isInitializeRequest,
  LATEST_PROTOCOL_VERSION,
  SUPPORTED_PROTOCOL_VERSIONS,
  type InitializeRequest,
  type JSONRPCMessage,
} from '@modelcontextprotocol/sdk/types.js';
import type { SessionsConfig } from './config.js';
import { GatewayError } from './errors.js';
import { sessionTag, type Logger } from './logger.js';
import type { FetchLike, ServerContext } from './module-contract.js';
import type { LoadedServer } from './modules.js';
import { createSessionStore, type Session, type SessionStore } from './session-store.js';
import type { SessionClaims, SessionTokens } from './session-token.js';
import { filterTools, isToolVisible } from './tool-filter.js';

/** A live session of a stateful route. */
interface RouteSession extends Session {
  readonly transport: WebStandardStreamableHTTPServerTransport;
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
}

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
  /** Told which session serves the request, once known (a new one's id on initialize), for the log. */
  onSession?: (sessionId: string) => void;
}

export interface Route {
  readonly name: string;
  readonly mode: 'stateful' | 'stateless';
  readonly sessions: SessionStore;
  handle(request: RouteRequest): Promise<void>;
  /** The route's tools as a client sees them (allow/deny applied); built once, on first use. */
  tools(): Promise<ToolSummary[]>;
  close(): Promise<void>;
}

export function createRoute(options: RouteOptions): Route {
  const { server: loaded, fetch, logger, tokens, wallClock = Date.now } = options;
  const maxAge = options.sessions.maxAge;
  const { name, entry } = loaded;
  const mode = entry.sessions;
  const log = logger.child({ route: name });
  const context: ServerContext<unknown> = Object.freeze({ route: name, options: loaded.options, fetch, logger: log });

  const sessions = createSessionStore<RouteSession>({
    maxSessions: options.sessions.maxPerRoute,
    idleTimeout: options.sessions.idleTimeout,
    now: options.now,
    onEnd: (_session, reason) => log.debug({ reason }, 'session ended'),
  });
  /**
   * Ids DELETEd here: their tokens stay valid until maxAge, but this instance will not resume them.
   * Other instances cannot know (there is no shared store); clients do not reuse a deleted id.
   */
  const deleted = new LRUCache<string, true>({ max: 10_000, ttl: maxAge, ttlResolution: 1000 });
  /** Resumes in progress, so concurrent first requests for one id share one server. */
  const resuming = new Map<string, Promise<RouteSession>>();

  /** A new server for one client, connected to a new transport. */
  async function open(sessionId: string | undefined): Promise<{ server: McpServer; transport: WebStandardStreamableHTTPServerTransport }> {
    const server = loaded.module.createServer(context as ServerContext);
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: sessionId === undefined ? undefined : () => sessionId,
      keepAliveMs: options.sessions.keepAlive,
      onsessionclosed: (id) => {
        deleted.set(id, true);
        sessions.end(id, 'deleted');
      },
    });
    if (sessionId !== undefined) transport.onclose = () => sessions.end(sessionId, 'closed');
    await server.connect(filterTools(transport, entry.tools));
    return { server, transport };
  }

  async function serve(transport: WebStandardStreamableHTTPServerTransport, { req, res, body, authInfo }: RouteRequest): Promise<void> {
    // The same bridge the SDK's Node transport uses: Node request in, web Response streamed out.
    const listener = getRequestListener((webRequest) => transport.handleRequest(webRequest, { parsedBody: body, authInfo }), {
      overrideGlobalObjects: false,
    });
    await listener(req, res);
  }

  async function handleStateful(request: RouteRequest): Promise<void> {
    const { req, res, body, principal } = request;
    const sessionId = header(req, 'mcp-session-id');
    if (sessionId !== undefined) {
      const session = await findSession(sessionId, principal);
      res.once('close', sessions.use(session));
      return serve(session.transport, request);
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
    const id = tokens.issue({
      route: name,
      // The version the SDK's server will answer with: the client's when supported, else the latest.
      protocolVersion: SUPPORTED_PROTOCOL_VERSIONS.includes(protocolVersion) ? protocolVersion : LATEST_PROTOCOL_VERSION,
      clientCapabilities: capabilities,
      clientInfo,
      ...(principal === undefined ? {} : { principal }),
    });
    const { server, transport } = await open(id);
    const session: RouteSession = { id, server, transport, active: 0, expiresAt: wallClock() + maxAge, principal };
    sessions.add(session);
    request.onSession?.(id);
    res.once('close', sessions.use(session));
    try {
      await serve(transport, request);
    } finally {
      // An initialize the transport refused (bad Accept, bad version) leaves no usable session.
      if (transport.sessionId === undefined) sessions.end(id, 'closed');
    }
  }

  /**
   * The live session for an id, if `principal` opened it: held here, or resumed from the id
   * itself. 404 otherwise; a session is never touched (or resumed) for another principal.
   */
  async function findSession(id: string, principal: string | undefined): Promise<RouteSession> {
    const held = sessions.get(id);
    if (held) {
      if (held.principal !== principal) throw wrongPrincipal(id);
      if (wallClock() <= held.expiresAt) return held;
      sessions.end(id, 'expired');
      throw sessionNotFound('expired');
    }
    if (deleted.has(id)) throw sessionNotFound('deleted');
    let pending = resuming.get(id);
    if (!pending) {
      const verified = tokens.verify(id, name);
      if (!verified.ok) throw sessionNotFound(verified.reason);
      if (verified.claims.principal !== principal) throw wrongPrincipal(id);
      pending = resume(id, verified.claims).finally(() => resuming.delete(id));
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
  async function resume(id: string, claims: SessionClaims): Promise<RouteSession> {
    if (!SUPPORTED_PROTOCOL_VERSIONS.includes(claims.protocolVersion)) throw sessionNotFound('unsupported_protocol_version');
    const { server, transport } = await open(id);
    const session: RouteSession = {
      id,
      server,
      transport,
      active: 0,
      expiresAt: claims.issuedAt + maxAge,
      principal: claims.principal,
    };
    try {
      const initialize = await transport.handleRequest(
        internalPost(name, {
          jsonrpc: '2.0',
          id: 'gateway-resume',
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
      await server.close().catch(() => undefined);
      throw error;
    }
    sessions.add(session);
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
    const { server, transport } = await open(undefined);
    res.once('close', () => {
      void server.close().catch(() => undefined);
    });
    await serve(transport, request);
  }

  let toolList: Promise<ToolSummary[]> | undefined;

  return {
    name,
    mode,
    sessions,
    handle: mode === 'stateless' ? handleStateless : handleStateful,
    tools() {
      toolList ??= listTools(loaded, context).then((tools) => tools.filter((t) => isToolVisible(t.name, entry.tools ?? {})));
      return toolList;
    },
    close: () => sessions.closeAll('shutdown'),
  };
}

/** Lists a module's tools the way a client would: a real Client over an in-memory link. */
async function listTools(loaded: LoadedServer, context: ServerContext<unknown>): Promise<ToolSummary[]> {
  // Only the status page and `npm run check` need a client: keep it off the start-up path.
  const [{ Client }, { InMemoryTransport }] = await Promise.all([
    import('@modelcontextprotocol/sdk/client/index.js'),
    import('@modelcontextprotocol/sdk/inMemory.js'),
  ]);
  const server = loaded.module.createServer(context as ServerContext);
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
