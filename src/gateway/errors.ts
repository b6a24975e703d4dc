/**
 * Every error the gateway itself answers with, in one registry: a stable code, the HTTP status and
 * the JSON-RPC error code. Thrown inside, translated once at the edge ({@link toJsonRpcBody}).
 * The README's error table is checked against this registry by a test.
 */

/** JSON-RPC 2.0 codes (and MCP's -32001 "session not found" convention of the SDK). */
export const JSONRPC = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  SERVER_ERROR: -32000,
  SESSION_NOT_FOUND: -32001,
} as const;

export const GATEWAY_ERRORS = {
  route_not_found: {
    status: 404,
    rpc: JSONRPC.SERVER_ERROR,
    summary: 'No server is mounted at this path: any path under /mcp that is not /mcp/<name> of a route (/mcp/echo/extra too).',
  },
  session_not_found: {
    status: 404,
    rpc: JSONRPC.SESSION_NOT_FOUND,
    summary: 'Unknown, expired or closed session id, or one from another route or another caller: initialize again.',
  },
  session_required: {
    status: 400,
    rpc: JSONRPC.SERVER_ERROR,
    summary: 'A request other than initialize came without an Mcp-Session-Id header, or with an empty one.',
  },
  unsupported_protocol_version: {
    status: 400,
    rpc: JSONRPC.SERVER_ERROR,
    summary:
      "The MCP-Protocol-Version header names no version the gateway speaks; data.supported lists them. (A 2026-07-28 request that claims its version in _meta gets the SDK's -32022 instead.)",
  },
  invalid_header: {
    status: 400,
    rpc: JSONRPC.SERVER_ERROR,
    summary:
      "A header that must come once came more than once: Mcp-Session-Id or MCP-Protocol-Version (as separate fields or joined by commas), Host (any path; RFC 9112 §3.2), a POST's Content-Type (as separate fields), or, on a route with authentication, Authorization or the route's API-key header (as separate fields); data.header names it, never its values.",
  },
  parse_error: {
    status: 400,
    rpc: JSONRPC.PARSE_ERROR,
    summary:
      'The body is empty (Content-Length: 0, chunked with no chunks, or inflating to nothing), is not valid JSON, or does not decompress as its Content-Encoding says.',
  },
  invalid_request: {
    status: 400,
    rpc: JSONRPC.INVALID_REQUEST,
    summary:
      'The body is JSON but not a valid JSON-RPC message or batch, or it is an initialize sent with an Mcp-Session-Id (initialize opens a new session), or JSON-RPC responses sent alone in the 2026-07-28 version (that era sends none).',
  },
  invalid_params: {
    status: 400,
    rpc: JSONRPC.INVALID_PARAMS,
    summary: "An initialize request's params are not what MCP defines (protocolVersion, capabilities, clientInfo); the message names each.",
  },
  not_acceptable: {
    status: 406,
    rpc: JSONRPC.SERVER_ERROR,
    summary:
      "The Accept header must name application/json and text/event-stream (GET: text/event-stream), in any case (RFC 9110: media types are case-insensitive); a wildcard alone does not do (the SDK's transport requires the names).",
  },
  unsupported_media_type: { status: 415, rpc: JSONRPC.SERVER_ERROR, summary: 'POST bodies must be Content-Type: application/json.' },
  body_too_large: {
    status: 413,
    rpc: JSONRPC.SERVER_ERROR,
    summary:
      'The body is over maxBodySize: refused as soon as its Content-Length says so or its bytes pass it, and the connection closed, the rest unread (a compressed body: once it inflates past it). In an express app, one an earlier parser read is refused all the same.',
  },
  method_not_allowed: {
    status: 405,
    rpc: JSONRPC.SERVER_ERROR,
    summary: 'HTTP method not supported here (stateless routes take POST only).',
  },
  unauthorized: {
    status: 401,
    rpc: JSONRPC.SERVER_ERROR,
    summary: 'The route requires credentials (an API key or a bearer token) and none valid came; WWW-Authenticate says which.',
  },
  forbidden: {
    status: 403,
    rpc: JSONRPC.SERVER_ERROR,
    summary: 'The token is valid but lacks a scope the route requires; WWW-Authenticate names it.',
  },
  auth_unavailable: {
    status: 503,
    rpc: JSONRPC.SERVER_ERROR,
    summary: "The route's authorization server (OpenID configuration or keys) cannot be reached to check the token; retry later.",
  },
  invalid_host: { status: 403, rpc: JSONRPC.SERVER_ERROR, summary: 'The Host header is not an allowed name (DNS rebinding protection).' },
  invalid_origin: {
    status: 403,
    rpc: JSONRPC.SERVER_ERROR,
    summary:
      "The Origin header (a browser page) names an origin that is not loopback, not the gateway's own and not in allowedOrigins; null included. Checked before authentication, preflights too.",
  },
  sessions_full: {
    status: 503,
    rpc: JSONRPC.SERVER_ERROR,
    summary:
      'Every session of the route (sessions.maxPerRoute), or of this caller (sessions.maxPerPrincipal), is busy, so none can make room; Retry-After says when to retry.',
  },
  request_timeout: {
    status: 408,
    rpc: JSONRPC.SERVER_ERROR,
    summary: 'The request (headers and body) did not arrive within requestTimeout; the connection is closed.',
  },
  upstream_unavailable: {
    status: 502,
    rpc: JSONRPC.SERVER_ERROR,
    summary:
      "A command or url route's server could not be reached: the process did not start, did not answer initialize or answered it with an error (the message quotes it), or the URL failed; the message says how. Retried on the next request, with backoff.",
  },
  upstream_exited: {
    status: 502,
    rpc: JSONRPC.SERVER_ERROR,
    summary:
      "A command route's server process exited, closed its stdout, or was stopped for writing a message over maxMessageSize, for not reading its stdin, or as hung (no answer to a ping after a call timed out), or a url route's remote server sent a message over maxMessageSize (its answer was cut there) or its connection dropped, before answering; the call's own JSON-RPC error. On a command route the session's next request gets a new process; on a url route it reaches the remote as before.",
  },
  upstream_timeout: {
    status: 504,
    rpc: JSONRPC.SERVER_ERROR,
    summary:
      "A command or url route's server, or a module route's server (its tool), did not answer within callTimeout (progress notifications restart the clock; on a command or url route, a question its server asks the client for the call stops it until answered). A resource subscription held on a connection others share (or for a listener) is the connection's own request, bounded by startTimeout on a command route (callTimeout on a url route), and the message names which.",
  },
  processes_full: {
    status: 503,
    rpc: JSONRPC.SERVER_ERROR,
    summary: 'A command route already runs maxProcesses server processes and every one is busy; Retry-After says when to retry.',
  },
  subscriptions_full: {
    status: 503,
    rpc: JSONRPC.SERVER_ERROR,
    summary:
      "A command or url route's upstream connection is already subscribed to 100 resources (for its 2026-07-28 listeners and 2025 sessions together): a subscriptions/listen or resources/subscribe asking for more gets this as its JSON-RPC error and holds none of them.",
  },
  shutting_down: {
    status: 503,
    rpc: JSONRPC.SERVER_ERROR,
    summary:
      'The gateway is stopping: a new request (Retry-After: retry, another instance answers), or a call cut short at the end of shutdownGrace (in its own stream).',
  },
  internal_error: { status: 500, rpc: JSONRPC.INTERNAL_ERROR, summary: 'An unexpected failure; details are in the log, not the response.' },
} as const satisfies Record<string, { status: number; rpc: number; summary: string }>;

export type GatewayErrorCode = keyof typeof GATEWAY_ERRORS;

/** An error the gateway answers with its registered status and JSON-RPC code. */
export class GatewayError extends Error {
  readonly status: number;
  readonly rpcCode: number;
  /**
   * The id of the request this error answers: undefined until known (the HTTP app sets it from a
   * single request's body), null when it could not be read (JSON-RPC 2.0 §5) or must not be used
   * (a duplicate id: the call already running has it).
   */
  rpcId: string | number | null | undefined = undefined;
  constructor(
    readonly code: GatewayErrorCode,
    message: string,
    readonly data: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'GatewayError';
    this.status = GATEWAY_ERRORS[code].status;
    this.rpcCode = GATEWAY_ERRORS[code].rpc;
  }

  /** The JSON-RPC error response body: `data.code` carries the stable gateway code. */
  toJsonRpcBody(id: string | number | null = this.rpcId ?? null) {
    return toJsonRpcBody(this.rpcCode, this.message, { code: this.code, ...this.data }, id);
  }
}

/** The answer to work that arrives while the gateway stops: another instance will take it. */
export function shuttingDown(message = 'The gateway is shutting down'): GatewayError {
  return new GatewayError('shutting_down', message, {}, { 'Retry-After': '1' });
}

export function toJsonRpcBody(code: number, message: string, data?: Record<string, unknown>, id: string | number | null = null) {
  return { jsonrpc: '2.0' as const, error: { code, message, ...(data ? { data } : {}) }, id };
}

/** An id or a key a client sent, named in an error message: JSON, and a long string cut ({@link cutForMessage}). */
export function quoteForMessage(value: string | number): string {
  return typeof value === 'number' ? String(value) : JSON.stringify(cutForMessage(value));
}

/** At most 64 characters of what a client sent, for a message that names it: an id or a key may be as long as the body. */
export function cutForMessage(text: string): string {
  return text.length <= 64 ? text : `${text.slice(0, 64)}…`;
}
