/**
 * The HTTP edge, a plain `node:http` request listener: Host check, Origin check and CORS (on
 * /mcp/<name>), request log, authentication, body limits, JSON-RPC shape, dispatch to the route,
 * and the one place errors become HTTP responses. The status page, probes and each OAuth route's
 * resource metadata live here too.
 *
 * No web framework: the edge serves a handful of fixed paths, and on the MCP path express's
 * per-request work (its router, and re-prototyping every request and response object) cost a third
 * of the throughput of the SDK's own express-based example (`npm run bench`, docs/benchmarks.md).
 * Bodies are read by body-parser, express's own parser, which needs no express.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
// The JSON parser alone: the package root loads every parser (urlencoded's `qs` is most of the load).
import jsonParser from 'body-parser/json';
import typeis from 'type-is';
import type { AuthInfo, JSONRPCMessage } from '@modelcontextprotocol/server';
import { authGuard, type AuthVerdict } from '../auth/require-auth.js';
import { clientAddress } from './client-address.js';
import { requestIdsOf } from '../protocol/request-tracker.js';
import { fieldCount, firstHeader, repeatedHeader } from '../protocol/headers.js';
import { decodeSegment, MCP_PATH, METADATA_PATH } from './paths.js';
import { GatewayError, shuttingDown, type GatewayErrorCode } from '../errors.js';
import { hostCheck } from './host-validation.js';
import { allowOrigin, originCheck, preflightHeaders } from './origin-policy.js';
import { authOf } from '../config/config.js';
import { validateJsonRpc } from './jsonrpc-body.js';
import type { Gateway } from '../gateway.js';
import { capForLog, sessionTag } from '../logger.js';
import type { ProtocolEra, Route } from '../protocol/route.js';
import { statelessPostOnly } from '../protocol/legacy.js';
import { renderStatusPage } from './status-page.js';
import { routesCallable, statusShown } from './status-view.js';

export interface AppOptions {
  /** Host names accepted besides the localhost names (DNS rebinding protection). */
  allowedHosts?: readonly string[];
  /**
   * Browser origins accepted on /mcp/<name> besides loopback and the gateway's own (its Host or
   * X-Forwarded-Host, or `publicUrl`), answered with CORS; `['*']`: any. main.ts passes gateway.yaml's.
   */
  allowedOrigins?: readonly string[];
  /** The Functions host in front asks every request for a function key: the status page's ways to connect send one. */
  functionKey?: boolean;
}

/** What the edge learns about one request: for the steps after it and for its log line. */
interface Exchange {
  readonly started: number;
  /** The path without the query string. */
  readonly path: string;
  route?: Route;
  rpcMethod?: string;
  tool?: string;
  authInfo?: AuthInfo;
  /** Who called (a keyed hash, auth/principal.ts), never the key or the token. */
  principal?: string;
  /** The session a new one's initialize opened (other requests name theirs in Mcp-Session-Id). */
  sessionId?: string;
  /** Why credentials were refused. */
  authFailure?: { reason: string; detail: string };
  errorCode?: GatewayErrorCode;
  /** The protocol era that served the request. */
  era?: ProtocolEra;
}

/**
 * The gateway's request listener. Listening is the caller's business.
 *
 * @example
 * const server = http.createServer(createApp(await createGateway({ config, logger }), { allowedHosts: ['gw.example.com'] }));
 * server.listen(7071, '127.0.0.1');
 */
export function createApp(
  gateway: Gateway,
  { allowedHosts = [], allowedOrigins = [], functionKey = false }: AppOptions = {},
): RequestListener {
  const checkHost = hostCheck(allowedHosts);
  const checkOrigin = originCheck({ allowedOrigins, publicUrl: gateway.config.publicUrl });
  // A preflight carries no credentials, so it is answered before auth: it allows the route's API-key header too.
  const keyHeaders = new Map(
    [...gateway.routes.keys()].map((name) => {
      const server = gateway.config.servers[name];
      const auth = server ? authOf(gateway.config, server) : undefined;
      return [name, auth?.kind === 'apiKey' ? auth.header : undefined];
    }),
  );
  const publicBase = publicBaseOf(gateway);
  const authenticate = authGuard(gateway.authenticators, { publicBase });
  const readJson = jsonBodyReader(gateway.config.maxBodySize);
  const routePaths = [...gateway.routes.keys()].map((name) => `/mcp/${name}`);

  async function serveMcp(req: IncomingMessage, res: ServerResponse, exchange: Exchange, name: string): Promise<void> {
    const route = gateway.routes.get(name);
    if (!route) throw routeNotFound(name);
    exchange.route = route;
    // Credentials are checked before anything else is read: an unknown caller learns nothing more.
    const verdict = await authenticate(name, req);
    if (!verdict.ok) {
      exchange.authFailure = verdict.failure;
      gateway.authRefusals.count(name, verdict.failure.reason);
      if (verdict.failure.reason === 'unavailable')
        gateway.logger.warn({ route: name, detail: verdict.failure.detail }, 'authorization server unavailable');
      throw verdict.error;
    }
    exchange.authInfo = verdict.authInfo;
    exchange.principal = verdict.principal;
    // Before the headers: a GET there is refused for its method, not for an Accept it could not use.
    if (route.mode === 'stateless' && (req.method === 'GET' || req.method === 'DELETE')) throw statelessPostOnly(name);
    checkHeaders(req);
    const body = req.method === 'POST' ? validateJsonRpc(await readJson(req, res)) : undefined;
    if (body) describeRpc(exchange, body);
    try {
      await serveBody(req, res, exchange, route, verdict, body);
    } catch (error) {
      // A refusal of one request answers it by its id (JSON-RPC 2.0 §5), unless it says otherwise.
      if (error instanceof GatewayError && error.rpcId === undefined && body && !Array.isArray(body) && 'id' in body && 'method' in body)
        error.rpcId = body.id as string | number;
      throw error;
    }
  }

  async function serveBody(
    req: IncomingMessage,
    res: ServerResponse,
    exchange: Exchange,
    route: Route,
    verdict: Extract<AuthVerdict, { ok: true }>,
    body: JSONRPCMessage | JSONRPCMessage[] | undefined,
  ): Promise<void> {
    // While draining, what in-flight calls may still need gets through: a DELETE, and a session's
    // notifications and responses (a cancellation, a client's answer to a server's request).
    if (
      gateway.shuttingDown &&
      !(
        req.method === 'DELETE' ||
        (body && req.headers['mcp-session-id'] && requestIdsOf(Array.isArray(body) ? body : [body]).length === 0)
      )
    ) {
      throw shuttingDown('The gateway is shutting down; retry (another instance will answer)');
    }
    await route.handle({
      req,
      res,
      body,
      authInfo: exchange.authInfo,
      // Sessions are bound to the owner (unchanged by a rotation of the session secret), not to the
      // keyed principal the log shows (auth/principal.ts).
      principal: verdict.sessionOwner,
      owner: verdict.sessionOwner ?? clientAddress(req),
      onSession: (id) => {
        exchange.sessionId = id;
      },
      onShutdown: () => {
        exchange.errorCode = 'shutting_down';
      },
      onEra: (era) => {
        exchange.era = era;
      },
    });
  }

  async function serveMetadata(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    // RFC 9728 §3.1: the metadata of the resource `/mcp/<name>` is at the well-known prefix + its path.
    // Public documents, read by browser-based clients too: any origin may fetch them.
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        'Access-Control-Allow-Origin': '*',
        'Access-Control-Allow-Methods': 'GET',
        'Access-Control-Allow-Headers': '*',
      });
      res.end();
      return;
    }
    allowMethods(req, 'GET, HEAD, OPTIONS');
    const metadata = gateway.authenticators.get(name)?.metadata(publicBase(req));
    const cors = { 'Access-Control-Allow-Origin': '*' };
    if (!metadata) {
      const message = `/mcp/${name} is not an OAuth-protected route of this gateway`;
      sendJson(res, 404, { error: 'not_found', message, routes: routePaths }, cors);
      return;
    }
    sendJson(res, 200, metadata, cors);
  }

  async function dispatch(req: IncomingMessage, res: ServerResponse, exchange: Exchange): Promise<void> {
    const { path } = exchange;
    const mcp = MCP_PATH.exec(path);
    // Everything under /mcp is MCP's: a path that names no route (`/mcp/echo/extra`, `/mcp//echo`)
    // is refused as JSON-RPC too, with the Origin checked first, as on a route.
    const mcpPath = path === '/mcp' || path.startsWith('/mcp/');
    try {
      checkHost(req);
    } catch (error) {
      // A page at an origin accepted on any host may read why (and the fix: allowedHosts); the
      // request's own host, the one refused, makes no origin of the gateway's here.
      if (mcpPath) readableDespiteHost(req, res);
      throw error;
    }
    if (mcpPath) {
      // Before auth and the body: a page of another site learns nothing, not even whether a key is needed.
      const origin = checkOrigin(req);
      if (origin !== undefined) {
        // On `res` now, so that every answer carries them: the edge's own, the SDK transport's, and
        // the one Node's server writes on the socket for a body that stalls (http-server.ts).
        allowOrigin(res, origin);
        if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
          const name = mcp ? decodeSegment(mcp[1]!) : '';
          if (!keyHeaders.has(name)) throw routeNotFound(mcp ? name : unmountedName(path));
          res.writeHead(204, preflightHeaders(keyHeaders.get(name), firstHeader(req, 'access-control-request-headers'))).end();
          return;
        }
      }
    }
    if (mcp) return serveMcp(req, res, exchange, decodeSegment(mcp[1]!));
    if (mcpPath) throw routeNotFound(unmountedName(path));
    const metadata = METADATA_PATH.exec(path);
    if (metadata) return serveMetadata(req, res, decodeSegment(metadata[1]!));
    switch (path) {
      case '/':
        // The Functions host probes `/` until it answers, and the cold start lasts until then: answer
        // at once, without waiting for the first listing of tools (it starts now; the page refreshes).
        // So no credentials are checked (an OAuth token may wait on its issuer): the page shows every
        // protected route's details withheld, as a browser sends none anyway.
        allowMethods(req, 'GET, HEAD');
        return sendHtml(
          res,
          renderStatusPage(
            statusShown(await gateway.status(publicBase(req), { waitForTools: false }), () => false),
            {
              functionKey,
            },
          ),
        );
      case '/status.json': {
        allowMethods(req, 'GET, HEAD');
        const [status, credentials] = await Promise.all([
          gateway.status(publicBase(req)),
          routesCallable(authenticate, gateway.authenticators.values(), req),
        ]);
        // Someone may be trying keys here, where every refusal still answers 200: the log says so.
        if (credentials.refusal) exchange.authFailure = credentials.refusal;
        // One line per issuer, not per route: N routes of one issuer would log N on each poll.
        for (const outage of credentials.outages) gateway.logger.warn(outage, 'authorization server unavailable');
        return sendJson(
          res,
          200,
          statusShown(status, (route) => credentials.callable.has(route.name)),
        );
      }
      case '/healthz':
        allowMethods(req, 'GET, HEAD');
        return sendJson(res, gateway.shuttingDown ? 503 : 200, { status: gateway.shuttingDown ? 'stopping' : 'ok' });
      default:
        return sendJson(res, 404, {
          error: 'not_found',
          message: `Nothing at ${path}: MCP servers are at /mcp/<name>`,
          routes: routePaths,
        });
    }
  }

  function readableDespiteHost(req: IncomingMessage, res: ServerResponse): void {
    let origin: string | undefined;
    try {
      origin = checkOrigin(req, { ownOrigin: false });
    } catch {
      return; // refused: the answer stays unreadable to it
    }
    if (origin !== undefined) allowOrigin(res, origin);
  }

  function routeNotFound(name: string): GatewayError {
    return new GatewayError('route_not_found', `No MCP server at /mcp/${name}; mounted: ${routePaths.join(', ')}`, { routes: routePaths });
  }

  const log = requestLogger(gateway);
  const fail = errorResponder(gateway);
  return function gatewayEdge(req, res) {
    const exchange: Exchange = { started: performance.now(), path: pathOf(req.url) };
    res.once('close', () => log(req, res, exchange));
    dispatch(req, res, exchange).catch((error: unknown) => fail(res, exchange, error));
  };
}

/** What a path under /mcp that names no route names: `''` for `/mcp`, `echo/extra` for `/mcp/echo/extra`. */
function unmountedName(path: string): string {
  return decodeSegment(path.slice('/mcp/'.length));
}

/** The path of a request target, without the query; absolute-form targets (`http://h/p`) too. */
function pathOf(url: string | undefined): string {
  if (!url) return '/';
  if (url.startsWith('/')) {
    const query = url.indexOf('?');
    return query === -1 ? url : url.slice(0, query);
  }
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}

function allowMethods(req: IncomingMessage, allow: string): void {
  if (!allow.split(', ').includes(req.method ?? '')) {
    throw new GatewayError('method_not_allowed', `Method not allowed: ${req.method}`, {}, { Allow: allow });
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  send(res, status, JSON.stringify(body), 'application/json; charset=utf-8', headers);
}

function sendHtml(res: ServerResponse, html: string): void {
  send(res, 200, html, 'text/html; charset=utf-8', {});
}

function send(res: ServerResponse, status: number, text: string, type: string, headers: Record<string, string>): void {
  res.writeHead(status, { ...headers, 'Content-Type': type, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Reads a POST body as JSON with body-parser, within the size limit (of the inflated body, when it
 * came compressed). Rejects with body-parser's errors, and with a `parse_error` for a body that does
 * not decompress (body-parser passes zlib's error on as it is).
 */
function jsonBodyReader(limit: number): (req: IncomingMessage, res: ServerResponse) => Promise<unknown> {
  const parse = jsonParser({
    limit,
    strict: false,
    type: () => true,
    // body-parser reads an empty body as `{}`, which would be refused as a message without
    // `jsonrpc`. Its verify hook sees the bytes read (inflated, when they came compressed), so a
    // body sent chunked with no chunks, or one that inflates to nothing, is told apart from `{}`.
    verify: (_req, _res, bytes) => {
      if (bytes.length === 0) throw Object.assign(new Error('the body is empty'), { type: EMPTY_BODY });
    },
  });
  return (req, res) =>
    new Promise((resolve, reject) => {
      // A body is empty when it says so, or, in HTTP/1, has neither a length nor chunks (RFC 9112
      // §6.3; an HTTP/2 request need not declare its length): body-parser would not read it at all.
      const length = req.headers['content-length'];
      if (length === '0' || (length === undefined && req.headers['transfer-encoding'] === undefined && req.httpVersionMajor < 2)) {
        return reject(emptyBody());
      }
      // Read already, by a middleware of an app the gateway is mounted in (express-router.ts):
      // body-parser would pass over it and leave whatever that middleware left.
      if (req.readableEnded) return resolve(bodyReadBefore(req, limit));
      // Too large, on the wire: refused at once, and the connection closed after the answer. On a
      // refusal, body-parser reads the body to its end before it says so: a slow upload, or one
      // that stalls, would wait for it (or for requestTimeout's 408) to learn it was never wanted.
      // A compressed body is held to the limit once inflated, by body-parser, as before.
      if ((req.headers['content-encoding'] ?? 'identity').toLowerCase() === 'identity') {
        if (length !== undefined && Number(length) > limit) return reject(bodyTooLarge(limit, { Connection: 'close' }));
        let received = 0;
        const count = (chunk: Buffer) => {
          received += chunk.length;
          if (received <= limit) return;
          req.off('data', count);
          reject(bodyTooLarge(limit, { Connection: 'close' }));
        };
        req.on('data', count);
      }
      parse(req, res, (error?: unknown) => {
        if (!error) return resolve((req as { body?: unknown }).body);
        if (isDecompressionError(req, error)) {
          // gzip, deflate or br: body-parser refuses any other encoding before inflating.
          const encoding = String(req.headers['content-encoding']).toLowerCase();
          return reject(
            new GatewayError('parse_error', `Parse error: the body does not decompress as its Content-Encoding (${encoding}) says`),
          );
        }
        reject(error);
      });
    });
}

/** The refusal of a body over `limit`; `Connection: close` when the rest of it is not read. */
function bodyTooLarge(limit: number, headers: Record<string, string> = {}): GatewayError {
  return new GatewayError('body_too_large', `Payload Too Large: the body exceeds the limit of ${limit} bytes`, { limit }, headers);
}

/**
 * Whether body-parser passed on an error of its decompression stream: zlib's own (numeric `errno`,
 * string `code`), which carries no body-parser `type`, on a body that came encoded. gzip and
 * deflate name theirs `Z_…`, brotli `ERR__ERROR_FORMAT_…` and the like: the spelling tells nothing.
 */
function isDecompressionError(req: IncomingMessage, error: unknown): boolean {
  const encoding = req.headers['content-encoding']?.toLowerCase() ?? 'identity';
  const { type, code, errno } = (error ?? {}) as { type?: unknown; code?: unknown; errno?: unknown };
  return encoding !== 'identity' && type === undefined && typeof code === 'string' && typeof errno === 'number';
}

/**
 * The body an app's middleware read before the gateway: what a JSON parser made of it, or the text
 * or Buffer that `express.text()` or `express.raw()` left, parsed here as the gateway's own reader
 * would (its limit, its errors). Throws body-parser's errors, mapped by {@link asGatewayError}.
 */
function bodyReadBefore(req: IncomingMessage, limit: number): unknown {
  const { body } = req as { body?: unknown };
  if (typeof body !== 'string' && !Buffer.isBuffer(body)) {
    // Consumed, and nothing left: the request is fine, the app's middleware took it.
    if (body === undefined) {
      throw new Error(
        "the request body was read before the gateway's router and not left in req.body: mount the router before that middleware",
      );
    }
    // The app's parser had its own limit (express.json()'s 100 KB); maxBodySize still holds.
    if (parsedSize(req, body) > limit) throw Object.assign(new Error('request entity too large'), { type: 'entity.too.large', limit });
    return body;
  }
  const length = Buffer.byteLength(body);
  if (length > limit) throw Object.assign(new Error('request entity too large'), { type: 'entity.too.large', limit });
  if (length === 0) throw emptyBody();
  try {
    return JSON.parse(body.toString());
  } catch {
    throw Object.assign(new Error('invalid JSON'), { type: 'entity.parse.failed' });
  }
}

/**
 * The size of a body an app's JSON parser read: its declared length when it came uncompressed, as
 * the gateway's own reader checks it; else (chunked, or inflated) the length of its JSON, which is
 * what it inflated to give or take the whitespace.
 */
function parsedSize(req: IncomingMessage, body: unknown): number {
  const declared = req.headers['content-length'];
  const encoding = req.headers['content-encoding']?.toLowerCase() ?? 'identity';
  if (declared !== undefined && encoding === 'identity') return Number(declared);
  try {
    return Buffer.byteLength(JSON.stringify(body) ?? '');
  } catch {
    // What a parser's reviver made is not JSON (a BigInt): its own limit is all there is.
    return 0;
  }
}

/** The `type` of the error body-parser passes on for an empty body ({@link jsonBodyReader}'s verify hook). */
const EMPTY_BODY = 'entity.empty';

function emptyBody(): GatewayError {
  return new GatewayError('parse_error', 'Parse error: the body is empty');
}

/** Refuses what the transport would refuse, before any session or server is created for it. */
function checkHeaders(req: IncomingMessage): void {
  const accept = lowercaseAccept(req) ?? '';
  if (req.method === 'POST') {
    // Node keeps the first of repeated Content-Type fields, the SDK's transport reads them joined (and refuses them).
    const types = fieldCount(req, 'content-type');
    if (types > 1) throw repeatedHeader('Content-Type', types);
    if (!typeis(req, ['application/json'])) {
      throw new GatewayError('unsupported_media_type', 'Unsupported Media Type: Content-Type must be application/json');
    }
    if (!acceptsBoth(accept)) {
      throw new GatewayError('not_acceptable', 'Not Acceptable: Client must accept both application/json and text/event-stream');
    }
  } else if (req.method === 'GET' && !accept.includes('text/event-stream')) {
    // As the transport requires, literally: `*/*` would pass here only to be refused there, after a resume.
    throw new GatewayError('not_acceptable', 'Not Acceptable: Client must accept text/event-stream');
  } else if (!['GET', 'POST', 'DELETE'].includes(req.method ?? '')) {
    throw new GatewayError('method_not_allowed', `Method not allowed: ${req.method}`, {}, { Allow: 'GET, POST, DELETE' });
  }
}

/**
 * The Accept header, lowercased in the request itself when it has an uppercase letter: media types
 * are case-insensitive (RFC 9110 §8.3.1), but the SDK's transport looks for the lowercase names as
 * substrings, and would answer `Application/JSON` with 406. The transport reads the web Request
 * @hono/node-server makes, whose headers come from `req.headers`, or from `req.rawHeaders` once
 * they are copied: both are changed. The common, lowercase header is left as it is.
 */
function lowercaseAccept(req: IncomingMessage): string | undefined {
  const accept = req.headers.accept;
  if (accept === undefined || !/[A-Z]/.test(accept)) return accept;
  const lower = accept.toLowerCase();
  req.headers.accept = lower;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2)
    if (raw[i]!.length === 6 && raw[i]!.toLowerCase() === 'accept') raw[i + 1] = raw[i + 1]!.toLowerCase();
  return lower;
}

function acceptsBoth(accept: string): boolean {
  // The SDK's transport requires both types literally; `*/*` alone does not satisfy it.
  return accept.includes('application/json') && accept.includes('text/event-stream');
}

/** Records the JSON-RPC method and tool name for the request log line, cut as a path is (any client chooses them). */
function describeRpc(exchange: Exchange, body: JSONRPCMessage | JSONRPCMessage[]): void {
  const first = Array.isArray(body) ? body[0] : body;
  if (first && 'method' in first) {
    const method = capForLog(first.method);
    exchange.rpcMethod = Array.isArray(body) ? `batch(${body.length}):${method}` : method;
    const tool = (first.params as { name?: unknown } | undefined)?.name;
    if (first.method === 'tools/call' && typeof tool === 'string') exchange.tool = capForLog(tool);
  }
}

/** One structured line per request, written when the response ends (streams included). */
function requestLogger(gateway: Gateway): (req: IncomingMessage, res: ServerResponse, exchange: Exchange) => void {
  return (req, res, exchange) => {
    const sessionId = req.headers['mcp-session-id'] ?? exchange.sessionId;
    gateway.logger.info(
      {
        // A response that never started (the client went away, or the request timed out and Node
        // answered on the socket) has no status of its own to report.
        http: { method: req.method, path: capForLog(exchange.path), status: res.headersSent ? res.statusCode : undefined },
        ...(res.writableEnded ? {} : { aborted: true }),
        route: exchange.route?.name,
        era: exchange.era,
        rpc: exchange.rpcMethod,
        tool: exchange.tool,
        session: sessionTag(typeof sessionId === 'string' ? sessionId : undefined),
        durationMs: Math.round((performance.now() - exchange.started) * 10) / 10,
        ...(exchange.principal ? { principal: exchange.principal } : {}),
        ...(exchange.authFailure ? { auth: exchange.authFailure } : {}),
        ...(exchange.errorCode ? { error: exchange.errorCode } : {}),
      },
      'request',
    );
  };
}

/** Answers a failed request with its registered status and a JSON-RPC error body. */
function errorResponder(gateway: Gateway): (res: ServerResponse, exchange: Exchange, error: unknown) => void {
  return (res, exchange, error) => {
    const gatewayError = asGatewayError(error);
    exchange.errorCode = gatewayError.code;
    if (gatewayError.code === 'internal_error') gateway.logger.error({ err: error, path: capForLog(exchange.path) }, 'request failed');
    if (res.headersSent) {
      // A stream was already answering: all that is left is to end it.
      res.end();
      return;
    }
    // A body still coming (refused before it was read: an unknown route, a missing key) would be
    // read by Node to its end once this answer ends, up to requestTimeout: the connection closes
    // after the answer instead. One that came whole is drained at once, and the connection kept.
    const headers = bodyArrived(res.req) ? gatewayError.headers : { ...gatewayError.headers, Connection: 'close' };
    sendJson(res, gatewayError.status, gatewayError.toJsonRpcBody(), headers);
  };
}

/**
 * Whether all of a request's body is here: parsed to its end, none declared, or (Node marks the end
 * only after the handler's first turn) as many bytes waiting unread as its Content-Length says.
 */
function bodyArrived(req: IncomingMessage): boolean {
  if (req.complete) return true;
  const length = req.headers['content-length'];
  // Chunked: its end is not known until it is read.
  if (req.headers['transfer-encoding'] !== undefined) return false;
  // Neither framing: no body at all (a GET).
  return length === undefined || req.readableLength >= Number(length);
}

/** Maps body-parser failures and anything unexpected onto the error registry. */
function asGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  const type = (error as { type?: string } | null)?.type;
  switch (type) {
    case 'entity.too.large':
      return bodyTooLarge((error as { limit: number }).limit);
    case EMPTY_BODY:
      return emptyBody();
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
 * (behind the Functions host: X-Forwarded-Host, checked by the Host check, and X-Forwarded-Proto
 * when it is http or https).
 */
function publicBaseOf(gateway: Gateway): (req: IncomingMessage) => string {
  const configured = gateway.config.publicUrl;
  return (req) => {
    if (configured) return configured;
    const host = firstValue(req.headers['x-forwarded-host']) || req.headers.host || 'localhost';
    // Only a scheme: any other value (`https://evil.example/?`) would make the origin another host.
    const forwarded = firstValue(req.headers['x-forwarded-proto'])?.toLowerCase();
    const protocol =
      forwarded === 'http' || forwarded === 'https' ? forwarded : (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
    try {
      // Normalized as clients normalize the URL they call: lowercase host, no default port.
      return new URL(`${protocol}://${host}`).origin;
    } catch {
      return `${protocol}://${host}`;
    }
  };
}

/** The first of a comma-separated header's values (proxies append theirs), trimmed. */
function firstValue(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  return value?.split(',')[0]?.trim() || undefined;
}
