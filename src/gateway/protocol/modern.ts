/**
 * MCP 2026-07-28 on a route: no protocol session and no `initialize`; every request carries its
 * protocol version and client capabilities in `_meta` (SEP-2567, SEP-2575). Served by the SDK's
 * own per-request entry, `createMcpHandler`, which builds a server from the module's factory for
 * each request and answers `server/discover`, version and header checks (-32022, -32020),
 * `subscriptions/listen` and `input_required` itself.
 *
 * The handler makes its own transport per request, so what the gateway adds on this era sits
 * around it, on the request and the response: the route's tool allow/deny lists (a hidden tool is
 * refused as the SDK refuses an unknown one; lists leave it out) and the SEP-2549 caching hints
 * the gateway decides (`ttlMs` from gateway.yaml; `cacheScope: public` only where no answer can
 * depend on the caller). Telemetry sees each request here too (observed-wire.ts): its span is
 * active while the SDK serves it, and the server's answer ends it.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import {
  classifyInboundRequest,
  createMcpHandler,
  InMemoryServerEventBus,
  PROTOCOL_VERSION_META_KEY,
  ProtocolError,
  type AuthInfo,
  type JSONRPCMessage,
  type McpHttpHandler,
  type McpRequestContext,
  type McpServer,
  type RequestId,
  type ServerNotifier,
} from '@modelcontextprotocol/server';
import { GatewayError, shuttingDown } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Milliseconds } from '../config/units.js';
import type { Operation, Telemetry } from '../telemetry/telemetry.js';
import { limitCalls } from './call-deadline.js';
import { firstHeader, joinedHeader, leaveConnectionToNode } from './headers.js';
import { createListeners } from './listeners.js';
import { refusalOutcome, watchAnswer, type AnswerWatch } from './observed-wire.js';
import { rewriteStreamedResult } from './streamed-result.js';
import { isToolVisible, type ToolLists } from './tool-filter.js';
import { MAX_UNREAD_STREAM, sendBounded } from './unread-bound.js';
import { eraOfVersion } from './versions.js';

/** Results that carry SEP-2549 caching hints. */
const CACHEABLE_METHODS = new Set(['tools/list', 'prompts/list', 'resources/list', 'resources/templates/list', 'server/discover']);

export interface ModernEraOptions {
  route: string;
  /**
   * A new, unconnected server for one request from `owner` (the principal, or the client address);
   * `principal` is undefined on a route without authentication.
   */
  createServer: (owner: string, principal: string | undefined) => McpServer | Promise<McpServer>;
  tools: ToolLists | undefined;
  /** `ttlMs` on list results and `server/discover`. */
  listTtl: Milliseconds;
  /** `public` only where no answer can depend on the caller (no auth, no per-caller filter). */
  cacheScope: 'public' | 'private';
  keepAlive: Milliseconds;
  /**
   * A module route's `callTimeout`: the request is answered `upstream_timeout` past it
   * (call-deadline.ts). Undefined on command and url routes, whose bridge times its requests.
   */
  callTimeout?: Milliseconds;
  logger: Logger;
  telemetry: Telemetry;
  /**
   * Subscribes upstream to the resources a listener asks to hear of, before its stream opens, until
   * it closes (Upstream.watchResources: command and url routes). `lost`: the subscriptions are gone.
   */
  watchResources?: (owner: string, uris: readonly string[], lost: () => void) => Promise<() => void>;
}

export interface ModernRequest {
  req: IncomingMessage;
  res: ServerResponse;
  body: JSONRPCMessage;
  authInfo: AuthInfo | undefined;
  /** Who is asking (RouteRequest.owner): the factory gets it. */
  owner: string;
  /** The caller's principal (RouteRequest.principal), undefined on a route without authentication. */
  principal?: string | undefined;
  onShutdown?: () => void;
}

export interface ModernEra {
  serve(request: ModernRequest): Promise<void>;
  /** Publishes a change to this route's `subscriptions/listen` streams on this instance. */
  readonly notify: ServerNotifier;
  /** Publishes a change to the streams of one owner only (a change on that caller's own upstream connection). */
  notifyOwner(owner: string): ServerNotifier;
  /** Calls being answered now (`subscriptions/listen` streams are not counted). */
  readonly inFlight: number;
  /** Ends listen streams now, lets calls finish until `deadline`, answers the rest `shutting_down`. */
  drain(deadline: AbortSignal): Promise<{ inFlight: number; answered: number }>;
}

/**
 * Whether a request belongs to the 2026-07-28 era, by the SDK's own rule: `classifyInboundRequest`,
 * the classifier that `isLegacyRequest` and `createMcpHandler`'s routing run, fed what they feed it
 * (the HTTP method, the three protocol headers, the parsed body) from the Node request, so no web
 * Request is built just to be classified. Most traffic today is 2025-era: a POST that carries no
 * modern version (in `_meta` or the `MCP-Protocol-Version` header) is legacy without asking.
 */
export async function isModernRequest(req: IncomingMessage, body: JSONRPCMessage | JSONRPCMessage[] | undefined): Promise<boolean> {
  if (req.method !== 'POST' || body === undefined) return false;
  const header = req.headers['mcp-protocol-version'];
  // Trimmed as the SDK trims it (optional whitespace around a header value is no part of it), and
  // a version the gateway speaks: the SDK's own rule compares as strings, and `garbage` sorts
  // after 2026-07-28 (a header that names no version is refused before this, see route.ts).
  const modernHeader = typeof header === 'string' && eraOfVersion(header.trim()) === 'modern';
  const batch = Array.isArray(body);
  if (!modernHeader && !(batch ? body.some(claimsVersion) : claimsVersion(body))) return false;
  // Nor is a 2026-07-28 request itself, most of this era's traffic, asked again: by that rule a
  // request or notification other than initialize that claims a version in `_meta` is this era's
  // or refused by it, never legacy, whatever the headers say (the body is a checked JSON-RPC
  // message by now). Asking would parse it with the SDK's schemas once more than its entry does.
  if (!batch && 'method' in body && body.method !== 'initialize' && claimsVersion(body)) return true;
  const outcome = classifyInboundRequest({
    httpMethod: req.method,
    protocolVersionHeader: joinedHeader(req, 'mcp-protocol-version'),
    mcpMethodHeader: joinedHeader(req, 'mcp-method'),
    mcpNameHeader: joinedHeader(req, 'mcp-name'),
    body,
  });
  return outcome.kind !== 'legacy';
}

/** Whether a body (or a message of a batch) claims a protocol version in `_meta`, as 2026-07-28 requests do. */
export function claimsVersionInMeta(body: JSONRPCMessage | JSONRPCMessage[]): boolean {
  return Array.isArray(body) ? body.some(claimsVersion) : claimsVersion(body);
}

function claimsVersion(message: JSONRPCMessage): boolean {
  const meta = (message as { params?: { _meta?: Record<string, unknown> } }).params?._meta;
  return meta !== undefined && meta !== null && typeof meta === 'object' && PROTOCOL_VERSION_META_KEY in meta;
}

/** A 2026-07-28 request while it is served (see `requests` in {@link createModernEra}). */
interface ServedRequest {
  readonly owner: string;
  readonly principal?: string | undefined;
  readonly id?: RequestId;
  readonly operation?: Operation;
  watch?: AnswerWatch;
  /** Why no server could be made for it: the gateway's own error, answered as the 2025 era does. */
  refused?: GatewayError;
}

export function createModernEra(options: ModernEraOptions): ModernEra {
  const { route, tools, listTtl, cacheScope, logger } = options;
  const log = logger.child({ route, era: 'modern' });
  // The SDK reports here both its refusals of bad requests (a header mismatch, an unsupported
  // version: answered 4xx, which any client can cause at will) and real failures (answered 5xx),
  // untyped. Each request's own log line carries its status, so the details stay at debug level
  // instead of letting a misbehaving client fill the log with warnings.
  const onerror = (error: Error) => log.debug({ err: error }, 'the SDK refused or failed a 2026-07-28 request');
  /**
   * Each request being served, by the web Request the SDK hands the factory: who sent it (the
   * factory's `owner`) and, when telemetry follows it, its operation and the watch on its answer.
   */
  const requests = new WeakMap<Request, ServedRequest>();
  const factory = async ({ requestInfo }: McpRequestContext) => {
    const seen = requestInfo && requests.get(requestInfo);
    let server: McpServer;
    try {
      server = await options.createServer(seen?.owner ?? '', seen?.principal);
    } catch (error) {
      // The SDK answers a failed factory with a bare 500 and tells only `onerror` (debug, above).
      // An upstream that cannot be reached (a command that does not start, a route backed off,
      // every process busy) is the gateway's own error, answered with its status and code (answer()).
      if (error instanceof GatewayError && seen) seen.refused = error;
      // A module's createServer that throws is the gateway's fault to report, as the 2025 era does.
      else log.error({ err: error }, 'the server for a 2026-07-28 request could not be made');
      throw error;
    }
    if (options.callTimeout !== undefined) limitCalls(server, { route, callTimeout: options.callTimeout, logger: log });
    if (seen?.operation) seen.watch = watchAnswer(server, seen.id!, seen.operation);
    return server;
  };
  const bus = new InMemoryServerEventBus((error) => onerror(error));
  const handler = createMcpHandler(factory, { legacy: 'reject', onerror, keepAliveMs: options.keepAlive, bus });
  // Listen streams live as long as the client keeps them: their handlers (one per owner, each
  // hearing the route's bus too) are closed first when the gateway stops, without aborting calls
  // still in flight on the other.
  const listeners = createListeners({ factory, bus, keepAlive: options.keepAlive, onerror });
  const filtering = tools !== undefined && (tools.allow !== undefined || tools.deny !== undefined);

  const calls = new Set<Call>();
  const idleWaiters: Array<() => void> = [];
  let draining = false;

  async function answer(
    entry: McpHttpHandler,
    webRequest: Request,
    { res, body, authInfo, owner, principal }: ModernRequest,
    call?: Call,
    operation?: Operation,
  ): Promise<Response> {
    const method = 'method' in body ? body.method : undefined;
    const id = 'id' in body ? (body.id as RequestId) : undefined;
    if (method === 'tools/call' && filtering && id !== undefined) {
      const name = String((body as { params?: { name?: unknown } }).params?.name);
      // As the SDK answers a tool it does not have: a hidden tool cannot be told from a missing one.
      if (!isToolVisible(name, tools!)) {
        const refusal = { jsonrpc: '2.0' as const, id, error: { code: -32602, message: `Tool ${name} not found` } };
        operation?.end(refusal);
        return jsonResponse(refusal);
      }
    }
    const seen: ServedRequest = operation ? { owner, principal, id: id!, operation } : { owner, principal };
    requests.set(webRequest, seen);
    const served = entry.fetch(webRequest, { parsedBody: body, ...(authInfo ? { authInfo } : {}) });
    const response = await (call ? Promise.race([served, call.cutShort]) : served);
    if (seen.refused) {
      await response.body?.cancel();
      const refused = seen.refused;
      const refusal = refused.toJsonRpcBody(id ?? null);
      operation?.end(refusal);
      return new Response(JSON.stringify(refusal), {
        status: refused.status,
        headers: { 'content-type': 'application/json', ...refused.headers },
      });
    }
    // Refused before a server was built (a version or header mismatch, a missing capability).
    if (operation && !seen.watch?.connected) operation.end(await refusalOutcome(response));
    const rewrite = rewriterFor(method);
    if (rewrite && isJson(response)) return writeText(response, res, rewrite(await response.text()));
    // The SDK streams the answer once the server sent a notification about the request first: the
    // result, its last event, is rewritten as a JSON answer would be (a filtered route's hidden
    // tools must not be listed there either), and the events before it pass as they come.
    const answered =
      rewrite && id !== undefined && isEventStream(response)
        ? new Response(rewriteStreamedResult(response.body!, id, rewrite), { status: response.status, headers: response.headers })
        : response;
    return call && isEventStream(answered) ? call.interruptible(answered) : answered;
  }

  /**
   * What the gateway does to the answer of `method`, as a rewrite of the JSON-RPC response's text;
   * undefined when it passes unchanged. The rewritten text of a JSON answer is whole, so it goes
   * out in one write with its length (writeText), instead of through a second web Response (and a
   * copy of its Headers) that the Node bridge would read back as a stream.
   */
  function rewriterFor(method: string | undefined): ((text: string) => string) | undefined {
    if (method !== undefined && CACHEABLE_METHODS.has(method)) return (text) => listText(text, method);
    if (method === 'resources/read' && cacheScope === 'private') return privateText;
    return undefined;
  }

  /** Sets the gateway's caching hints on a list's answer, and leaves hidden tools out of `tools/list`. */
  function listText(text: string, method: string): string {
    const fast = !(method === 'tools/list' && filtering) ? withHints(text, listTtl, cacheScope) : undefined;
    return fast ?? reserialize(text, method);
  }

  /**
   * A read's hints are its server's (a module's `cacheHint`, a bridged upstream's), except that on
   * a route where answers can depend on the caller, `cacheScope: "public"` becomes `"private"`: a
   * shared cache must not hand one caller's read to another (an upstream behind a per-caller
   * connection, or a module behind authentication, cannot know who else is asking).
   */
  function privateText(text: string): string {
    if (!text.includes('"public"')) return text;
    const message = JSON.parse(text) as { result?: Record<string, unknown> };
    if (message.result?.cacheScope === 'public') message.result.cacheScope = 'private';
    return JSON.stringify(message);
  }

  /** Writes `body` to `res` with the SDK's status and headers, in one write with its length. */
  function writeText(response: Response, res: ServerResponse, body: string): Response {
    const headers: OutgoingHttpHeaders = {};
    response.headers.forEach((value, name) => {
      if (name !== 'content-length' && name !== 'set-cookie') headers[name] = value;
    });
    const cookies = response.headers.getSetCookie();
    if (cookies.length > 0) headers['set-cookie'] = cookies;
    headers['content-length'] = Buffer.byteLength(body);
    res.writeHead(response.status, headers).end(body);
    return RESPONSE_ALREADY_SENT;
  }

  function reserialize(text: string, method: string): string {
    const message = JSON.parse(text) as { result?: Record<string, unknown> };
    if (message.result && typeof message.result === 'object') {
      if (method === 'tools/list' && filtering && Array.isArray(message.result.tools)) {
        message.result.tools = (message.result.tools as Array<{ name: string }>).filter((tool) => isToolVisible(tool.name, tools!));
      }
      message.result.ttlMs = listTtl;
      message.result.cacheScope = cacheScope;
    }
    return JSON.stringify(message);
  }

  /**
   * Sends an event stream (a listen's, or a call's that carries what it sends before it answers:
   * progress, log messages) itself, cut once its client leaves {@link MAX_UNREAD_STREAM} unread
   * (unread-bound.ts); anything else goes back to the Node bridge.
   */
  async function sendAnswer(response: Response, res: ServerResponse, listen: boolean): Promise<Response> {
    if (!isEventStream(response)) return leaveConnectionToNode(response);
    await sendBounded(response, res, MAX_UNREAD_STREAM, (unread) => {
      log.warn(
        { unreadBytes: unread, limit: MAX_UNREAD_STREAM },
        listen
          ? 'a subscriptions/listen stream is not read by its client: the stream is cut (the client listens again), and what waited on it dropped'
          : "a call's event stream is not read by its client: the stream is cut, as when its client goes away, and what waited on it dropped",
      );
    });
    return RESPONSE_ALREADY_SENT;
  }

  return {
    async serve(request) {
      const { req, res, body } = request;
      const listen = 'method' in body && body.method === 'subscriptions/listen';
      const id = 'method' in body && 'id' in body ? (body.id as RequestId) : undefined;
      let operation: Operation | undefined;
      /**
       * The web Request: the Node bridge aborts its signal when the connection closes before the
       * answer is written (read only then: the bridge makes the signal on first use, and remembers an
       * abort until then).
       */
      let webRequest: Request | undefined;
      const onShutdown = () => {
        request.onShutdown?.();
        operation?.end({ error: shuttingDownError(CUT_SHORT) });
      };
      let listener: McpHttpHandler | undefined;
      if (listen) {
        // Refused once the drain began (its handler would outlive the drain).
        const admission = listeners.open(request.owner, res);
        // As the SDK refuses a listen past its handler's cap, before any acknowledgement.
        if (admission.kind === 'gone') return;
        if (admission.kind === 'refused')
          return void writeJson(res, { jsonrpc: '2.0', id, error: { code: -32603, message: admission.message } });
        listener = admission.handler;
        if (options.watchResources && !(await watchResources(request, options.watchResources))) return;
        // The drain began while the upstream took the subscriptions (let go as the answer ends).
        if (draining) throw shuttingDown();
      }
      const call = !listen && id !== undefined ? createCall(id, onShutdown) : undefined;
      if (call) {
        if (draining) throw shuttingDown();
        calls.add(call);
        operation = observe(options.telemetry, route, request, () => webRequest?.signal.aborted === true);
      }
      try {
        const nodeListener = getRequestListener(
          (received) => {
            webRequest = received;
            const answered = answer(listener ?? handler, received, request, call, operation);
            return answered.then((response) => sendAnswer(response, res, listener !== undefined));
          },
          { overrideGlobalObjects: false },
        );
        await (operation ? operation.run(() => nodeListener(req, res)) : nodeListener(req, res));
      } finally {
        operation?.end(UNANSWERED);
        if (call) {
          calls.delete(call);
          if (calls.size === 0) for (const wake of idleWaiters.splice(0)) wake();
        }
      }
    },
    notify: handler.notify,
    notifyOwner: (owner) => listeners.of(owner),
    get inFlight() {
      return calls.size;
    },
    async drain(deadline) {
      draining = true;
      await listeners.close();
      const inFlight = calls.size;
      if (calls.size > 0 && !deadline.aborted) {
        await new Promise<void>((resolve) => {
          idleWaiters.push(resolve);
          deadline.addEventListener('abort', () => resolve(), { once: true });
        });
      }
      const left = [...calls];
      for (const call of left) call.cutShortNow();
      await handler.close();
      return { inFlight, answered: left.length };
    },
  };
}

/**
 * A listener asking for resource updates on a bridged route: its resources are subscribed upstream
 * before the SDK acknowledges the stream, so no update after the acknowledgement is missed, and let
 * go when the stream closes; when the upstream connection goes away, the stream ends with it (the
 * client listens again). False when the upstream refused: the listen is answered with its JSON-RPC
 * error, as the SDK answers a listen it cannot take.
 */
async function watchResources(
  { res, body, owner }: ModernRequest,
  watch: NonNullable<ModernEraOptions['watchResources']>,
): Promise<boolean> {
  const uris = (body as { params?: { notifications?: { resourceSubscriptions?: unknown } } }).params?.notifications?.resourceSubscriptions;
  // Anything else is the SDK's to refuse (-32602) or has nothing to subscribe to.
  if (!Array.isArray(uris) || uris.length === 0 || !uris.every((uri) => typeof uri === 'string')) return true;
  const gone = new Promise<void>((resolve) => res.once('close', resolve));
  let unwatch: () => void;
  try {
    unwatch = await watch(owner, uris as string[], () => res.destroy());
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    const id = (body as { id: RequestId }).id;
    const refusal = {
      jsonrpc: '2.0',
      id,
      error: { code: error.code, message: error.message, ...(error.data === undefined ? {} : { data: error.data }) },
    };
    writeJson(res, refusal);
    return false;
  }
  void gone.then(unwatch);
  return true;
}

/** One modern request in flight, and the means to answer it with an error if the gateway stops first. */
interface Call {
  /** Resolves with the `shutting_down` answer once {@link cutShortNow} is called. */
  readonly cutShort: Promise<Response>;
  /** An SSE answer already under way, with a final `shutting_down` event if cut short. */
  interruptible(response: Response): Response;
  cutShortNow(): void;
}

/** The operation of one modern request (listen streams and notifications have none). */
function observe(telemetry: Telemetry, route: string, { req, body }: ModernRequest, clientGone: () => boolean): Operation {
  const meta = (body as { params?: { _meta?: Record<string, unknown> } }).params?._meta;
  const version = meta?.[PROTOCOL_VERSION_META_KEY] ?? req.headers['mcp-protocol-version'];
  return telemetry.operation({
    route,
    era: 'modern',
    message: body as { method: string; id: RequestId },
    header: (name) => firstHeader(req, name),
    protocolVersion: typeof version === 'string' ? version : undefined,
    clientGone,
  });
}

/** What telemetry records for a request whose exchange ended without any answer (the client went away). */
const UNANSWERED = { error: { code: -32000, message: 'the request ended without an answer' } } as const;
const CUT_SHORT = 'The gateway is shutting down: the call did not finish within its grace period; retry it';

function createCall(id: RequestId, onShutdown: (() => void) | undefined): Call {
  let resolveCutShort!: (response: Response) => void;
  const cutShort = new Promise<Response>((resolve) => (resolveCutShort = resolve));
  let endStream: (() => void) | undefined;
  const error = { jsonrpc: '2.0' as const, id, error: shuttingDownError(CUT_SHORT) };
  return {
    cutShort,
    interruptible(response) {
      const upstream = response.body!.getReader();
      const encoder = new TextEncoder();
      let done = false;
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          endStream = () => {
            if (done) return;
            done = true;
            controller.enqueue(encoder.encode(`event: message\ndata: ${JSON.stringify(error)}\n\n`));
            controller.close();
            void upstream.cancel().catch(() => undefined);
          };
        },
        async pull(controller) {
          const chunk = await upstream.read();
          if (done) return;
          if (chunk.done) {
            done = true;
            controller.close();
          } else controller.enqueue(chunk.value);
        },
        cancel: (reason) => upstream.cancel(reason),
      });
      return new Response(body, { status: response.status, headers: response.headers });
    },
    cutShortNow() {
      onShutdown?.();
      resolveCutShort(jsonResponse(error));
      endStream?.();
    },
  };
}

/**
 * The SDK writes a 2026-07-28 result's hints as `"resultType":"complete","ttlMs":N,"cacheScope":"S"`
 * after everything the result holds (only the SDK's own `_meta` follows): the last such run in the
 * text is the result's own. Replacing it spares parsing and re-serializing the whole list. Undefined
 * when the text is not written that way (then the caller parses it).
 */
export function withHints(text: string, ttlMs: number, scope: 'public' | 'private'): string | undefined {
  const start = text.lastIndexOf(HINTS_PREFIX);
  if (start === -1) return undefined;
  const match = HINTS.exec(text.slice(start));
  if (!match) return undefined;
  return `${text.slice(0, start)}${HINTS_PREFIX}${ttlMs},"cacheScope":"${scope}"${text.slice(start + match[0].length)}`;
}

const HINTS_PREFIX = '"resultType":"complete","ttlMs":';
const HINTS = /^"resultType":"complete","ttlMs":\d+,"cacheScope":"(?:public|private)"/;

function shuttingDownError(message: string) {
  return { code: -32000, message, data: { code: 'shutting_down' } };
}

function isJson(response: Response): boolean {
  return (response.headers.get('content-type') ?? '').includes('application/json');
}

function isEventStream(response: Response): boolean {
  return response.body !== null && (response.headers.get('content-type') ?? '').includes('text/event-stream');
}

function writeJson(res: ServerResponse, message: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(message));
}

function jsonResponse(message: unknown): Response {
  return new Response(JSON.stringify(message), { status: 200, headers: { 'content-type': 'application/json' } });
}
