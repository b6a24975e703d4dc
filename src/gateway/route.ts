/**
 * One mounted server: `/mcp/<name>`. Owns the route's session map and decides, per request, which
 * transport serves it: the session's (stateful), or a fresh server and transport (stateless).
 * The HTTP details of MCP's Streamable HTTP transport stay in the SDK's transport.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { isInitializeRequest, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { SessionsConfig } from './config.js';
import { GatewayError } from './errors.js';
import type { Logger } from './logger.js';
import type { FetchLike, ServerContext } from './module-contract.js';
import type { LoadedServer } from './modules.js';
import { createSessionStore, type Session, type SessionStore } from './session-store.js';
import { filterTools, isToolVisible } from './tool-filter.js';

/** SSE comment frames this often keep idle streams alive through Azure's ~4 minute idle cut. */
export const SSE_KEEP_ALIVE_MS = 15_000;

export interface RouteOptions {
  server: LoadedServer;
  sessions: SessionsConfig;
  /** The upstream fetch handed to the module (the shared cache). */
  fetch: FetchLike;
  logger: Logger;
  /** Clock for idle expiry; default `performance.now`. */
  now?: () => number;
  /** Makes the id of a new session; default a random UUID. */
  newSessionId?: () => string;
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
  authInfo?: AuthInfo;
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
  const { server: loaded, fetch, logger, newSessionId = randomUUID } = options;
  const { name, entry } = loaded;
  const mode = entry.sessions;
  const log = logger.child({ route: name });
  const context: ServerContext<unknown> = Object.freeze({ route: name, options: loaded.options, fetch, logger: log });

  const sessions = createSessionStore({
    maxSessions: options.sessions.maxPerRoute,
    idleTimeout: options.sessions.idleTimeout,
    now: options.now,
    onEnd: (_session, reason) => log.debug({ reason }, 'session ended'),
  });

  /** A new server for one client, connected to a new transport. */
  async function open(sessionId: string | undefined): Promise<{ server: McpServer; transport: WebStandardStreamableHTTPServerTransport }> {
    const server = loaded.module.createServer(context as ServerContext);
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: sessionId === undefined ? undefined : () => sessionId,
      keepAliveMs: SSE_KEEP_ALIVE_MS,
      onsessionclosed: (id) => sessions.end(id, 'deleted'),
    });
    if (sessionId !== undefined) transport.onclose = () => sessions.end(sessionId, 'closed');
    await server.connect(filterTools(transport, entry.tools));
    return { server, transport };
  }

  async function serve(
    transport: WebStandardStreamableHTTPServerTransport,
    { req, res, body, authInfo }: RouteRequest,
  ): Promise<void> {
    // The same bridge the SDK's Node transport uses: Node request in, web Response streamed out.
    const listener = getRequestListener((webRequest) => transport.handleRequest(webRequest, { parsedBody: body, authInfo }), {
      overrideGlobalObjects: false,
    });
    await listener(req, res);
  }

  async function handleStateful(request: RouteRequest): Promise<void> {
    const { req, res, body } = request;
    const sessionId = header(req, 'mcp-session-id');
    if (sessionId !== undefined) {
      const session = sessions.get(sessionId);
      if (!session) throw new GatewayError('session_not_found', 'Session not found: initialize a new session');
      res.once('close', sessions.use(session));
      return serve(session.transport as WebStandardStreamableHTTPServerTransport, request);
    }

    const messages = body === undefined ? [] : Array.isArray(body) ? body : [body];
    if (req.method !== 'POST' || !messages.some((m) => isInitializeRequest(m))) {
      throw new GatewayError('session_required', 'Bad Request: Mcp-Session-Id header is required');
    }
    if (messages.length > 1) {
      throw new GatewayError('invalid_request', 'Invalid Request: initialize must be sent alone, not in a batch');
    }

    const id = newSessionId();
    const { server, transport } = await open(id);
    const session: Session = { id, server, transport, active: 0 };
    sessions.add(session);
    res.once('close', sessions.use(session));
    try {
      await serve(transport, request);
    } finally {
      // An initialize the transport refused (bad Accept, bad version) leaves no usable session.
      if (transport.sessionId === undefined) sessions.end(id, 'closed');
    }
  }

  async function handleStateless(request: RouteRequest): Promise<void> {
    const { req, res } = request;
    if (req.method !== 'POST') {
      throw new GatewayError('method_not_allowed', `Method not allowed: the stateless route /mcp/${name} takes POST only`, {}, { Allow: 'POST' });
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

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
