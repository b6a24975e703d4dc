/**
 * The HTTP edge: Host check, request log, authentication, body limits, JSON-RPC shape, dispatch to
 * the route, and the one place errors become HTTP responses. The status page, probes and each
 * OAuth route's resource metadata live here too.
 */
import express, { type ErrorRequestHandler, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { JSONRPCMessageSchema, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { PROTECTED_RESOURCE_WELL_KNOWN } from './auth/protected-resource.js';
import { requireAuth } from './auth/require-auth.js';
import { GatewayError } from './errors.js';
import { requireAllowedHost } from './host-validation.js';
import type { Gateway } from './gateway.js';
import { sessionTag } from './logger.js';
import { renderStatusPage } from './status-page.js';

/** JSON-RPC batches longer than this are refused (the SDK's own bound). */
const MAX_BATCH = 100;

export interface AppOptions {
  /** Host names accepted besides the localhost names (DNS rebinding protection). */
  allowedHosts?: readonly string[];
}

/**
 * Builds the gateway's express app. Listening is the caller's business.
 *
 * @example
 * const app = createApp(await createGateway({ config, logger }), { allowedHosts: ['gw.example.com'] });
 * app.listen(7071, '127.0.0.1');
 */
export function createApp(gateway: Gateway, { allowedHosts = [] }: AppOptions = {}): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', true);

  app.use(logRequests(gateway));
  app.use(requireAllowedHost(allowedHosts));
  const publicBase = publicBaseOf(gateway);

  // The Functions host probes `/` until it answers, and the cold start lasts until then: answer at
  // once, without waiting for the first listing of tools (it starts now and the page refreshes).
  app.get('/', async (req, res) => {
    res.type('html').send(renderStatusPage(await gateway.status(publicBase(req), { waitForTools: false })));
  });
  app.get('/status.json', async (req, res) => {
    res.json(await gateway.status(publicBase(req)));
  });

  // RFC 9728 §3.1: the metadata of the resource `/mcp/<name>` is at the well-known prefix + its path.
  // Public documents, read by browser-based clients too: any origin may fetch them.
  const metadataPaths = [`${PROTECTED_RESOURCE_WELL_KNOWN}/mcp/:route`, `${PROTECTED_RESOURCE_WELL_KNOWN}/mcp/:route/`];
  app.options(metadataPaths, (_req, res) => {
    res
      .set({ 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Methods': 'GET', 'Access-Control-Allow-Headers': '*' })
      .status(204)
      .end();
  });
  app.get(metadataPaths, (req, res) => {
    const name = String(req.params.route);
    const metadata = gateway.authenticators.get(name)?.metadata(publicBase(req));
    res.set('Access-Control-Allow-Origin', '*');
    if (!metadata) {
      res
        .status(404)
        .json({ error: 'not_found', message: `/mcp/${name} is not an OAuth-protected route of this gateway`, routes: routePaths(gateway) });
      return;
    }
    res.json(metadata);
  });
  app.get('/healthz', (_req, res) => {
    res.status(gateway.shuttingDown ? 503 : 200).json({ status: gateway.shuttingDown ? 'stopping' : 'ok' });
  });

  const parseJson = express.json({ limit: gateway.config.maxBodySize, strict: false, type: () => true });
  // Credentials are checked before anything else is read: an unknown caller learns nothing more.
  const authenticate = requireAuth(gateway.authenticators, { publicBase, logger: gateway.logger });
  app.all(
    ['/mcp/:route', '/mcp/:route/'],
    findRoute(gateway),
    authenticate,
    checkHeaders,
    (req, res, next) => {
      if (req.method === 'POST') parseJson(req, res, next);
      else next();
    },
    async (req: Request, res: Response) => {
      const route = res.locals.route as NonNullable<ReturnType<Gateway['routes']['get']>>;
      const body = req.method === 'POST' ? validateJsonRpc(req.body) : undefined;
      if (body) describeRpc(res, body);
      await route.handle({ req, res, body, authInfo: res.locals.authInfo, principal: res.locals.principal });
    },
  );
  app.all(['/mcp', '/mcp/'], (_req, _res, next) => next(routeNotFound(gateway, '')));
  app.use((req, res) => {
    res
      .status(404)
      .json({ error: 'not_found', message: `Nothing at ${req.path}: MCP servers are at /mcp/<name>`, routes: routePaths(gateway) });
  });
  app.use(handleErrors(gateway));
  return app;
}

function findRoute(gateway: Gateway): RequestHandler {
  return (req, res, next) => {
    if (gateway.shuttingDown) return next(new GatewayError('shutting_down', 'The gateway is shutting down'));
    const route = gateway.routes.get(String(req.params.route));
    if (!route) return next(routeNotFound(gateway, String(req.params.route)));
    res.locals.route = route;
    next();
  };
}

function routeNotFound(gateway: Gateway, name: string): GatewayError {
  const routes = routePaths(gateway);
  return new GatewayError('route_not_found', `No MCP server at /mcp/${name}; mounted: ${routes.join(', ')}`, { routes });
}

function routePaths(gateway: Gateway): string[] {
  return [...gateway.routes.keys()].map((name) => `/mcp/${name}`);
}

/** Refuses what the transport would refuse, before any session or server is created for it. */
function checkHeaders(req: Request, _res: Response, next: NextFunction): void {
  const accept = req.headers.accept ?? '';
  if (req.method === 'POST') {
    if (!req.is('application/json')) {
      return next(new GatewayError('unsupported_media_type', 'Unsupported Media Type: Content-Type must be application/json'));
    }
    if (!acceptsBoth(accept)) {
      return next(new GatewayError('not_acceptable', 'Not Acceptable: Client must accept both application/json and text/event-stream'));
    }
  } else if (req.method === 'GET' && !accept.includes('text/event-stream')) {
    // As the transport requires, literally: `*/*` would pass here only to be refused there, after a resume.
    return next(new GatewayError('not_acceptable', 'Not Acceptable: Client must accept text/event-stream'));
  } else if (!['GET', 'POST', 'DELETE'].includes(req.method)) {
    return next(new GatewayError('method_not_allowed', `Method not allowed: ${req.method}`, {}, { Allow: 'GET, POST, DELETE' }));
  }
  next();
}

function acceptsBoth(accept: string): boolean {
  // The SDK's transport requires both types literally; `*/*` alone does not satisfy it.
  return accept.includes('application/json') && accept.includes('text/event-stream');
}

/** A JSON-RPC message or batch, or a GatewayError that says what is wrong with it. */
function validateJsonRpc(body: unknown): JSONRPCMessage | JSONRPCMessage[] {
  if (Array.isArray(body)) {
    if (body.length === 0) throw new GatewayError('invalid_request', 'Invalid Request: empty batch');
    if (body.length > MAX_BATCH) throw new GatewayError('invalid_request', `Invalid Request: batch must not exceed ${MAX_BATCH} messages`);
    return body.map((message, index) => parseMessage(message, ` (batch item ${index})`));
  }
  return parseMessage(body, '');
}

function parseMessage(message: unknown, where: string): JSONRPCMessage {
  // The transport validates every message with the SDK's schema again; only an envelope that is
  // plainly not JSON-RPC needs the full check here, to be answered with a precise error.
  if (looksLikeJsonRpc(message)) return message as JSONRPCMessage;
  const result = JSONRPCMessageSchema.safeParse(message);
  if (result.success) return result.data;
  const id = (message as { id?: unknown } | null)?.id;
  const error = new GatewayError('invalid_request', `Invalid Request: not a JSON-RPC 2.0 request, notification or response${where}`);
  (error as { rpcId?: unknown }).rpcId = typeof id === 'string' || typeof id === 'number' ? id : null;
  throw error;
}

/** A JSON-RPC 2.0 request, notification or response envelope (the SDK checks the rest). */
function looksLikeJsonRpc(message: unknown): boolean {
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return false;
  const m = message as Record<string, unknown>;
  if (m.jsonrpc !== '2.0') return false;
  const validId = typeof m.id === 'string' || (typeof m.id === 'number' && Number.isFinite(m.id));
  if (typeof m.method === 'string') {
    return (m.id === undefined || validId) && (m.params === undefined || (typeof m.params === 'object' && m.params !== null));
  }
  return (
    validId &&
    (('result' in m && typeof m.result === 'object' && m.result !== null) ||
      ('error' in m && typeof m.error === 'object' && m.error !== null))
  );
}

/** Records the JSON-RPC method and tool name for the request log line. */
function describeRpc(res: Response, body: JSONRPCMessage | JSONRPCMessage[]): void {
  const first = Array.isArray(body) ? body[0] : body;
  if (first && 'method' in first) {
    res.locals.rpcMethod = Array.isArray(body) ? `batch(${body.length}):${first.method}` : first.method;
    const tool = (first.params as { name?: unknown } | undefined)?.name;
    if (first.method === 'tools/call' && typeof tool === 'string') res.locals.tool = tool;
  }
}

/** One structured line per request, written when the response ends (streams included). */
function logRequests(gateway: Gateway): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    res.once('close', () => {
      const sessionId = req.headers['mcp-session-id'] ?? res.getHeader('mcp-session-id');
      gateway.logger.info(
        {
          http: { method: req.method, path: req.path, status: res.statusCode },
          route: (res.locals.route as { name?: string } | undefined)?.name,
          rpc: res.locals.rpcMethod,
          tool: res.locals.tool,
          session: sessionTag(typeof sessionId === 'string' ? sessionId : undefined),
          durationMs: Math.round((performance.now() - started) * 10) / 10,
          // Who called (a hash), or why not: never the key or the token.
          ...(res.locals.principal ? { principal: res.locals.principal } : {}),
          ...(res.locals.authFailure ? { auth: res.locals.authFailure } : {}),
          ...(res.locals.errorCode ? { error: res.locals.errorCode } : {}),
        },
        'request',
      );
    });
    next();
  };
}

function handleErrors(gateway: Gateway): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const gatewayError = asGatewayError(error);
    res.locals.errorCode = gatewayError.code;
    if (gatewayError.code === 'internal_error') gateway.logger.error({ err: error, path: req.path }, 'request failed');
    if (res.headersSent) {
      // A stream was already answering: all that is left is to end it.
      res.end();
      return;
    }
    const rpcId = (gatewayError as { rpcId?: string | number | null }).rpcId ?? null;
    res.status(gatewayError.status).set(gatewayError.headers).json(gatewayError.toJsonRpcBody(rpcId));
  };
}

/** Maps body-parser failures and anything unexpected onto the error registry. */
function asGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  const type = (error as { type?: string } | null)?.type;
  switch (type) {
    case 'entity.too.large': {
      const limit = (error as { limit?: number }).limit;
      return new GatewayError('body_too_large', `Payload Too Large: the body exceeds the limit of ${limit} bytes`, { limit });
    }
    case 'entity.parse.failed':
      return new GatewayError('parse_error', 'Parse error: Invalid JSON');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new GatewayError('unsupported_media_type', `Unsupported Media Type: ${(error as Error).message}`);
    case 'request.aborted':
    case 'request.size.invalid':
      return new GatewayError('parse_error', 'Parse error: the body ended early');
    default:
      return new GatewayError('internal_error', 'Internal error');
  }
}

/**
 * The origin clients use to reach this gateway: `publicUrl` from gateway.yaml, else the request's
 * (behind the Functions host: X-Forwarded-Host and X-Forwarded-Proto, both checked by the Host check).
 */
function publicBaseOf(gateway: Gateway): (req: Request) => string {
  const configured = gateway.config.publicUrl;
  return (req) => {
    if (configured) return configured;
    const host = req.get('x-forwarded-host')?.split(',')[0]?.trim() || req.get('host') || 'localhost';
    try {
      // Normalized as clients normalize the URL they call: lowercase host, no default port.
      return new URL(`${req.protocol}://${host}`).origin;
    } catch {
      return `${req.protocol}://${host}`;
    }
  };
}
