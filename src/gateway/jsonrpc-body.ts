/**
 * What the edge accepts as the body of a POST: a JSON-RPC 2.0 message or a batch of them. Checked
 * before any session or server is created for it, so a bad body is answered with a precise
 * `invalid_request` error (errors.ts) instead of whatever the transport would say.
 */
import { JSONRPCMessageSchema, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { GatewayError } from './errors.js';

/** JSON-RPC batches longer than this are refused (the SDK's own bound). */
export const MAX_BATCH = 100;

/** A JSON-RPC message or batch, or a GatewayError that says what is wrong with it. */
export function validateJsonRpc(body: unknown): JSONRPCMessage | JSONRPCMessage[] {
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
