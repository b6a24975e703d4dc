/**
 * What the edge accepts as the body of a POST: a JSON-RPC 2.0 message or a batch of them, in the
 * envelope MCP uses. Checked before any session or server is created for it, so a bad body is
 * answered with a precise `invalid_request` error (errors.ts) naming what is wrong, instead of the
 * transport's bare -32700 "Parse error" for valid JSON.
 *
 * The envelope rules are the SDK's schema (`JSONRPCMessageSchema`), which the transport applies
 * to every message again: an id is a string or a (safe) integer, never null or a fraction
 * (JSON-RPC 2.0 §4 allows null and says numbers SHOULD NOT have fractional parts; MCP says ids
 * are strings or integers); `params` and `result` are objects (MCP has no positional params); an
 * error response's `error` has an integer `code` and a string `message`; no other members.
 * Checked here by hand, without zod, on the hot path; only what the hand check leaves to the
 * schema (`_meta`) is parsed with it. An `initialize` is checked in full (`invalid_params`): the
 * session id is made from its params. The schemas are the server package's own (`specTypeSchemas`,
 * built on first use): `@modelcontextprotocol/core` would be a second copy of them to load.
 */
import { PROTOCOL_VERSION_META_KEY, RELATED_TASK_META_KEY as RELATED_TASK_KEY, specTypeSchemas } from '@modelcontextprotocol/server';
import type { JSONRPCMessage, RequestId, StandardSchemaV1 } from '@modelcontextprotocol/server';
import { cutForMessage as cut, GatewayError, quoteForMessage as quote } from '../errors.js';

/** JSON-RPC batches longer than this are refused (the SDK's own bound). */
export const MAX_BATCH = 100;

/**
 * How deep objects and arrays may nest in one message, the message itself being level 1 (so
 * `params` is 2 and a tool's `arguments` 3). JSON.parse takes any depth, but what recurses over
 * the value afterwards does not: JSON.stringify overflowed the stack at 5,000 levels in the
 * session id encoder (client capabilities: a 500) and in the SDK's report of a response to an
 * unknown request (a -32700 quoting the RangeError); a module's own code could do the same.
 * 128 is far beyond any MCP payload (the deepest capability MCP defines is 5 levels inside
 * `capabilities`; JSON Schemas in tool arguments rarely go past 10) and far below any stack;
 * serde_json's default recursion limit is the same.
 */
export const MAX_DEPTH = 128;

const REQUEST_MEMBERS = new Set(['jsonrpc', 'id', 'method', 'params']);
const RESULT_MEMBERS = new Set(['jsonrpc', 'id', 'result']);
const ERROR_MEMBERS = new Set(['jsonrpc', 'id', 'error']);

/**
 * The body as JSON-RPC messages, or a GatewayError (`invalid_request`; `invalid_params` for an
 * initialize) that says what is wrong: with the offending message's id when it is a request whose
 * id could be read (JSON-RPC 2.0 §5: null otherwise).
 *
 * @example
 * validateJsonRpc({ jsonrpc: '2.0', id: 1, method: 'ping' }); // the message
 * validateJsonRpc({ jsonrpc: '2.0', id: 1, method: 'ping', params: [] }); // throws: params must be an object…
 */
export function validateJsonRpc(body: unknown): JSONRPCMessage | JSONRPCMessage[] {
  if (!Array.isArray(body)) return parseMessage(body, '');
  if (body.length === 0) throw refusal('invalid_request', 'Invalid Request: empty batch', null);
  if (body.length > MAX_BATCH) throw refusal('invalid_request', `Invalid Request: batch must not exceed ${MAX_BATCH} messages`, null);
  const messages = body.map((message, index) => parseMessage(message, ` (batch item ${index})`));
  const repeated = repeatedRequestId(messages);
  if (repeated !== undefined) {
    // Answers are matched to requests by id: two requests with one id cannot both be answered.
    throw refusal('invalid_request', `Invalid Request: the batch repeats the request id ${quote(repeated)}`, null);
  }
  return messages;
}

/**
 * The first id two requests of a batch share. Responses the client sends back carry the ids of
 * the server's requests, and notifications have none: neither counts. `1` and `"1"` differ.
 */
export function repeatedRequestId(messages: readonly JSONRPCMessage[]): RequestId | undefined {
  const seen = new Set<RequestId>();
  for (const message of messages) {
    if (!('method' in message) || !('id' in message)) continue;
    if (seen.has(message.id)) return message.id;
    seen.add(message.id);
  }
  return undefined;
}

function parseMessage(message: unknown, where: string): JSONRPCMessage {
  // First, before anything else walks the value (metaProblem's zod, the SDK, the session id encoder).
  if (nestsDeeperThan(message, MAX_DEPTH)) {
    const problem = `objects and arrays nest more than ${MAX_DEPTH} levels deep, the gateway's limit`;
    throw refusal('invalid_request', `Invalid Request: ${problem}${where}`, requestIdOf(message));
  }
  const problem = envelopeProblem(message) ?? metaProblem(message);
  if (problem !== undefined) throw refusal('invalid_request', `Invalid Request: ${problem}${where}`, requestIdOf(message));
  const parsed = message as JSONRPCMessage;
  // A 2026-07-28 initialize (one claiming the modern era in `_meta`) asks for a method that era
  // removed: the SDK answers it (404, -32601), not the session checks of the 2025 handshake.
  if ('method' in parsed && parsed.method === 'initialize' && !claimsModernEra(parsed)) checkInitialize(parsed, where);
  return parsed;
}

/**
 * An initialize must be one the gateway can open a session from, on any route: a request (a
 * notification would open a session nobody is told the id of, left to idle out) whose params
 * the SDK's schema accepts (else route.ts would not see an initialize at all, and answer that a
 * session id is required).
 */
function checkInitialize(message: JSONRPCMessage, where: string): void {
  const id = 'id' in message ? message.id : undefined;
  if (id === undefined) throw refusal('invalid_request', `Invalid Request: initialize must be a request with an id${where}`, null);
  const { issues } = specTypeSchemas.InitializeRequest['~standard'].validate(message);
  if (issues) throw refusal('invalid_params', `Invalid params: initialize ${describeIssues(issues)}${where}`, id);
}

function claimsModernEra(message: JSONRPCMessage): boolean {
  const meta = (message as { params?: { _meta?: unknown } }).params?._meta;
  return typeof meta === 'object' && meta !== null && PROTOCOL_VERSION_META_KEY in meta;
}

function refusal(code: 'invalid_request' | 'invalid_params', message: string, rpcId: RequestId | null): GatewayError {
  const error = new GatewayError(code, message);
  error.rpcId = rpcId;
  return error;
}

/**
 * Whether objects and arrays nest more than `limit` levels deep in `value` (`{}` is 1 level,
 * `{"a":[]}` 2). Runs on every POST body, so it is cheap: it stops at the first branch past the
 * limit, and recursion is bounded by `limit` (safe for any input while the limit is small).
 * Measured on Node 20: about 60 ns for a tools/call or initialize body (a tenth of its
 * JSON.parse), 0.6 ms for a 1.3 MB body of 20,000 rows (7% of its JSON.parse), 1 µs to refuse
 * 200,000 levels.
 */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (limit === 0) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (nestsDeeperThan(value[i], limit - 1)) return true;
    return false;
  }
  for (const key in value) if (nestsDeeperThan((value as Record<string, unknown>)[key], limit - 1)) return true;
  return false;
}

/**
 * What makes `message` not a JSON-RPC message of MCP's envelope, in words for the client, or
 * undefined when the envelope is right (`_meta` aside: {@link metaProblem}).
 */
export function envelopeProblem(message: unknown): string | undefined {
  if (!isObject(message)) return `a message must be a JSON object, not ${describe(message)}`;
  if (message.jsonrpc !== '2.0') return 'jsonrpc must be "2.0"';
  if ('method' in message) {
    if (typeof message.method !== 'string') return 'method must be a string';
    if ('id' in message && !isRequestId(message.id)) return `id must be a string or an integer, not ${describe(message.id)}`;
    if ('params' in message && !isObject(message.params)) return `params must be an object, not ${describe(message.params)}`;
    return unexpectedMember(message, REQUEST_MEMBERS);
  }
  if ('result' in message) {
    if ('error' in message) return 'a response has a result or an error, not both';
    if (!('id' in message)) return 'a response needs the id of the request it answers';
    if (!isRequestId(message.id)) return `a response's id must be a string or an integer, not ${describe(message.id)}`;
    if (!isObject(message.result)) return `result must be an object, not ${describe(message.result)}`;
    return unexpectedMember(message, RESULT_MEMBERS);
  }
  if ('error' in message) {
    // The SDK takes an error response without an id (an answer to a request it could not read), never with a null one.
    if ('id' in message && !isRequestId(message.id)) return `a response's id must be a string or an integer, not ${describe(message.id)}`;
    const { error } = message;
    if (!isObject(error)) return `error must be an object, not ${describe(error)}`;
    if (!Number.isSafeInteger(error.code)) return 'error.code must be an integer';
    if (typeof error.message !== 'string') return 'error.message must be a string';
    return unexpectedMember(message, ERROR_MEMBERS);
  }
  return 'a message needs a method (a request or notification), or a result or an error (a response)';
}

/**
 * What is wrong with a `_meta` member (progress token, related task), as the SDK's schema says:
 * the one part of the envelope the hand check leaves to zod, since few messages carry one.
 */
function metaProblem(message: unknown): string | undefined {
  const m = message as Record<string, unknown>;
  const meta = ((m.params ?? m.result) as Record<string, unknown> | undefined)?._meta;
  if (meta === undefined) return undefined;
  // What the SDK's client sends (a progress token alone) passes without zod's 0.4 µs.
  if (isObject(meta) && !(RELATED_TASK_KEY in meta) && (meta.progressToken === undefined || isRequestId(meta.progressToken))) {
    return undefined;
  }
  const schema =
    'result' in m
      ? specTypeSchemas.JSONRPCResultResponse
      : 'id' in m
        ? specTypeSchemas.JSONRPCRequest
        : specTypeSchemas.JSONRPCNotification;
  const { issues } = schema['~standard'].validate(message);
  return issues ? describeIssues(issues) : undefined;
}

/** Issues listed in a message at most; the count of the others follows. */
const MAX_ISSUES = 10;

/**
 * Schema issues as `path: message; …`, e.g. `params._meta.progressToken: Invalid input`. Bounded
 * whatever the client sent: paths can hold its keys, and a large object can fail everywhere.
 */
export function describeIssues(issues: ReadonlyArray<StandardSchemaV1.Issue>): string {
  const listed = issues.slice(0, MAX_ISSUES).map((issue) => {
    const path = (issue.path ?? []).map((segment) => cut(String(typeof segment === 'object' ? segment.key : segment)));
    return `${path.length > 0 ? `${path.join('.')}: ` : ''}${issue.message}`;
  });
  if (issues.length > MAX_ISSUES) listed.push(`and ${issues.length - MAX_ISSUES} more`);
  return listed.join('; ');
}

function unexpectedMember(message: Record<string, unknown>, allowed: ReadonlySet<string>): string | undefined {
  const extra = Object.keys(message).find((key) => !allowed.has(key));
  return extra === undefined ? undefined : `unexpected member ${quote(extra)}`;
}

/** The id to answer with: a request's, when it is one JSON-RPC allows; else null. */
function requestIdOf(message: unknown): RequestId | null {
  if (!isObject(message) || 'result' in message || 'error' in message) return null;
  return isRequestId(message.id) ? message.id : null;
}

function isRequestId(id: unknown): id is RequestId {
  return typeof id === 'string' || Number.isSafeInteger(id);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A value named for an error message: short, whatever its size. */
function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (Array.isArray(value)) return 'an array';
  if (value === null || typeof value === 'boolean') return String(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'a non-finite number';
  return typeof value === 'string' ? 'a string' : 'an object';
}
