/**
 * OpenTelemetry's semantic conventions for MCP (the GenAI conventions' `mcp.md`), applied to one
 * JSON-RPC request and its answer: the span name, the attributes, `error.type`. Plain data, no
 * SDK: the status page's numbers and the exported ones are classified by the same functions.
 *
 * Nothing here reads a session id, a key, a token or a tool's arguments: arguments and results
 * are added only by {@link contentAttributes}, which the caller uses behind the opt-in.
 */

/** The protocol era a request was served in: 2025's handshake and sessions (`legacy`), or 2026-07-28 (`modern`). */
export type Era = 'legacy' | 'modern';

export type AttributeValue = string | number | boolean;
export type Attributes = Record<string, AttributeValue>;

/** The parts of a JSON-RPC request the conventions read. */
export interface RequestMessage {
  readonly method: string;
  readonly id?: string | number;
  readonly params?: unknown;
}

/** An answer: a JSON-RPC response (result or error), as it went back to the client. */
export type Outcome = { readonly result: unknown } | { readonly error: { readonly code: number; readonly message?: string } };

/** What a span and a metric point say about one request; filled in by {@link describeRequest}. */
export interface RequestDescription {
  /** `{mcp.method.name} {target}`, e.g. `tools/call get_forecast`. */
  readonly spanName: string;
  readonly method: string;
  /** The tool (`tools/call`) or prompt (`prompts/get`) named, if any. */
  readonly tool: string | undefined;
  readonly prompt: string | undefined;
  readonly attributes: Attributes;
}

/** Methods the conventions name, and those 2026-07-28 adds; others are `_OTHER` in metrics. */
export const KNOWN_METHODS: ReadonlySet<string> = new Set([
  'completion/complete',
  'initialize',
  'logging/setLevel',
  'ping',
  'prompts/get',
  'prompts/list',
  'resources/list',
  'resources/read',
  'resources/subscribe',
  'resources/templates/list',
  'resources/unsubscribe',
  'tools/call',
  'tools/list',
  'server/discover',
  'subscriptions/listen',
]);

/** Names a client sends (method, tool) are cut to this many characters in span names and attributes. */
const MAX_NAME = 128;
/** Opt-in content is cut to this many characters. */
const MAX_CONTENT = 4096;

/**
 * The span name and attributes of one request.
 *
 * @example
 * describeRequest({ method: 'tools/call', id: 7, params: { name: 'get_forecast', arguments: { … } } },
 *   { route: 'weather', era: 'legacy', protocolVersion: '2025-06-18' });
 * // { spanName: 'tools/call get_forecast', attributes: { 'mcp.method.name': 'tools/call', 'gen_ai.tool.name': 'get_forecast',
 * //   'gen_ai.operation.name': 'execute_tool', 'jsonrpc.request.id': '7', 'mcp.protocol.version': '2025-06-18', … } }
 */
export function describeRequest(
  message: RequestMessage,
  context: { readonly route: string; readonly era: Era; readonly protocolVersion: string | undefined },
): RequestDescription {
  const { method, tool, prompt } = requestNames(message);
  const attributes: Attributes = {
    'mcp.method.name': method,
    'mcp.gateway.route': context.route,
    'mcp.gateway.era': context.era,
    'network.transport': 'tcp',
    'network.protocol.name': 'http',
  };
  // An id is any string the body limit allows, and a span keeps it until exported (a slow
  // collector: thousands of spans): cut like a name.
  if (message.id !== undefined && message.id !== null) attributes['jsonrpc.request.id'] = cut(String(message.id));
  if (context.protocolVersion) attributes['mcp.protocol.version'] = cut(context.protocolVersion);
  if (tool !== undefined) {
    attributes['gen_ai.tool.name'] = tool;
    attributes['gen_ai.operation.name'] = 'execute_tool';
  }
  if (prompt !== undefined) attributes['gen_ai.prompt.name'] = prompt;
  const target = tool ?? prompt;
  return { spanName: target === undefined ? method : `${method} ${target}`, method, tool, prompt, attributes };
}

/** What a request names, cut to length: its method, and the tool (`tools/call`) or prompt (`prompts/get`). */
export function requestNames(message: RequestMessage): Pick<RequestDescription, 'method' | 'tool' | 'prompt'> {
  const method = cut(message.method);
  const params = isObject(message.params) ? message.params : undefined;
  const tool = method === 'tools/call' && typeof params?.name === 'string' ? cut(params.name) : undefined;
  const prompt = method === 'prompts/get' && typeof params?.name === 'string' ? cut(params.name) : undefined;
  return { method, tool, prompt };
}

/**
 * `error.type` of an answer: the JSON-RPC error code as a string, `tool_error` for a tool result
 * with `isError: true`, undefined for a success.
 */
export function errorTypeOf(outcome: Outcome): string | undefined {
  if ('error' in outcome) return String(outcome.error.code);
  return isObject(outcome.result) && outcome.result.isError === true ? 'tool_error' : undefined;
}

/**
 * The version an `initialize` answer settled on: the server's choice, which is what the request
 * used. The client may ask for any string, and the server answers an unknown one with a version
 * of its own, so the requested one is neither the version used nor bounded.
 */
export function negotiatedVersion(outcome: Outcome): string | undefined {
  if (!('result' in outcome) || !isObject(outcome.result)) return undefined;
  const version = outcome.result.protocolVersion;
  return typeof version === 'string' ? cut(version) : undefined;
}

/** The attributes an answer adds: `error.type`, and `rpc.response.status_code` for a JSON-RPC error. */
export function outcomeAttributes(outcome: Outcome, errorType: string | undefined): Attributes {
  if (errorType === undefined) return {};
  return 'error' in outcome ? { 'error.type': errorType, 'rpc.response.status_code': errorType } : { 'error.type': errorType };
}

/**
 * The message a failed span's status carries: the JSON-RPC error's message, or `tool error` for an
 * `isError` result (its text is the tool's result, which goes into telemetry only by opt-in).
 */
export function errorMessageOf(outcome: Outcome): string | undefined {
  if ('error' in outcome) return typeof outcome.error.message === 'string' ? cut(outcome.error.message, 256) : undefined;
  return 'tool error';
}

/**
 * The opt-in attributes: `gen_ai.tool.call.arguments` and `gen_ai.tool.call.result` (JSON, cut to
 * 4096 characters) for a tool call, `mcp.resource.uri` for resource requests. They may carry
 * anything a user typed or a tool returned: only with `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`.
 */
export function contentAttributes(message: RequestMessage, outcome: Outcome | undefined): Attributes {
  const params = isObject(message.params) ? message.params : undefined;
  const attributes: Attributes = {};
  if (message.method === 'tools/call') {
    if (params?.arguments !== undefined) attributes['gen_ai.tool.call.arguments'] = cut(JSON.stringify(params.arguments), MAX_CONTENT);
    if (outcome && 'result' in outcome && errorTypeOf(outcome) === undefined) {
      attributes['gen_ai.tool.call.result'] = cut(JSON.stringify(outcome.result), MAX_CONTENT);
    }
  }
  if (message.method.startsWith('resources/') && typeof params?.uri === 'string') attributes['mcp.resource.uri'] = cut(params.uri, 1024);
  return attributes;
}

/**
 * The trace context a request carries in `params._meta` (SEP-414: `traceparent`, `tracestate`,
 * `baggage`, unprefixed), if any.
 */
export function metaTraceContext(message: RequestMessage): { traceparent: string; tracestate?: string } | undefined {
  const params = isObject(message.params) ? message.params : undefined;
  const meta = params && isObject(params._meta) ? params._meta : undefined;
  if (!meta || typeof meta.traceparent !== 'string') return undefined;
  return typeof meta.tracestate === 'string'
    ? { traceparent: meta.traceparent, tracestate: meta.tracestate }
    : { traceparent: meta.traceparent };
}

/** The method name as a metric attribute: a known one, else `_OTHER` (a client can send any string). */
export function metricMethod(method: string): string {
  return KNOWN_METHODS.has(method) ? method : '_OTHER';
}

function cut(text: string, max = MAX_NAME): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
