/**
 * Where telemetry sees MCP requests and their answers, in both eras: on the wire between a
 * transport and its server, as JSON-RPC messages (never as bytes to parse again), so that a batch
 * is one operation per request and a tool's `isError` result is seen as such.
 *
 * - 2025 era: {@link ObservedWire}, a transport wrapper right on the SDK's transport (inside the
 *   request tracker, so that the answers the gateway itself sends at shutdown are seen too). Each
 *   request's operation was started as its POST arrived ({@link ExpectedOperations}) and is
 *   claimed here; each request's server handler runs in the request's trace context.
 * - 2026-07-28: the SDK's per-request entry builds its own transport, so {@link watchAnswer}
 *   takes the one answer of the request from the transport the server is connected to.
 */
import type { IncomingMessage } from 'node:http';
import type { JSONRPCMessage, McpServer, MessageExtraInfo, RequestId, Transport, TransportSendOptions } from '@modelcontextprotocol/server';
import { GatewayError } from '../errors.js';
import { sessionTag } from '../logger.js';
import type { Era, Operation, Outcome, Telemetry } from '../telemetry/telemetry.js';
import { cancelledRequestId, ForwardingTransport } from './forwarding-transport.js';
import { firstHeader } from './headers.js';
import { eraOfVersion } from './versions.js';

/** What a request gets when its session closes before it was answered. */
const UNANSWERED = { error: { code: -32000, message: 'the session closed before the request was answered' } } as const;

/**
 * The operations of a 2025 POST's requests, started as it arrived (legacy.ts), before its session
 * was found, resumed or opened: what that takes (a command route's child started and initialized)
 * is part of the request's time and trace. Each is claimed by the session's wire when its request
 * reaches the server; one the transport refused is ended by the era with that refusal.
 */
export type ExpectedOperations = Map<RequestId, { readonly operation: Operation; claimed: boolean }>;

export class ObservedWire extends ForwardingTransport {
  private readonly pending = new Map<RequestId, Operation>();
  private readonly expected: ExpectedOperations = new Map();
  private negotiated: string | undefined;

  constructor(inner: Transport) {
    super(inner);
    const forwardClose = inner.onclose;
    inner.onclose = () => {
      for (const operation of this.pending.values()) operation.end(UNANSWERED);
      this.pending.clear();
      forwardClose?.();
    };
  }

  protected override receive(message: JSONRPCMessage, extra?: MessageExtraInfo): void {
    // The server does not answer a request its client cancelled: counted now, not when the
    // session ends (which would keep its operation, and its span, open until then).
    const cancelled = cancelledRequestId(message);
    if (cancelled !== undefined) {
      this.pending.get(cancelled)?.cancel();
      this.pending.delete(cancelled);
    }
    const request = 'method' in message && 'id' in message && message.id !== undefined ? message : undefined;
    const expected = request && this.expected.get(request.id);
    // A notification, or a request no client's POST brought (a resume's own initialize): not observed.
    if (!request || !expected) {
      super.receive(message, extra);
      return;
    }
    this.expected.delete(request.id);
    expected.claimed = true;
    const { operation } = expected;
    // An initialize's version is the one its answer negotiated (telemetry reads it there): the
    // one it asks for is any string a client likes.
    const protocolVersion =
      request.method === 'initialize' ? undefined : (extra?.request?.headers.get('mcp-protocol-version') ?? this.negotiated);
    operation.identify({ session: sessionTag(this.inner.sessionId), protocolVersion });
    this.pending.set(request.id, operation);
    operation.run(() => super.receive(message, extra));
  }

  override send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if (('result' in message || 'error' in message) && message.id !== undefined) {
      const operation = this.pending.get(message.id);
      if (operation) {
        this.pending.delete(message.id);
        operation.end(message);
      }
    }
    return super.send(message, options);
  }

  /** `operations`, whose requests are about to be handed to the transport: each is claimed as its request arrives. */
  expect(operations: ExpectedOperations): void {
    for (const [id, entry] of operations) if (!entry.claimed) this.expected.set(id, entry);
  }

  /** Those of `operations` not claimed (the transport refused their request) are no longer expected. */
  forget(operations: ExpectedOperations): void {
    for (const [id, entry] of operations) if (this.expected.get(id) === entry) this.expected.delete(id);
  }

  override setProtocolVersion(version: string): void {
    this.negotiated = version;
    super.setProtocolVersion(version);
  }
}

/** Whether the server a 2026-07-28 request was given has been connected (else the SDK answered without it). */
export interface AnswerWatch {
  readonly connected: boolean;
}

/**
 * Ends `operation` with the server's answer to `id`: the server's `connect` is given the
 * transport with its `send` wrapped, the one place the per-request entry's answer passes through.
 */
export function watchAnswer(server: McpServer, id: RequestId, operation: Operation): AnswerWatch {
  const watch = { connected: false };
  const connect = server.connect.bind(server);
  server.connect = (transport: Transport) => {
    watch.connected = true;
    const send = transport.send.bind(transport);
    transport.send = (message, options) => {
      if (('result' in message || 'error' in message) && message.id === id) operation.end(message);
      return send(message, options);
    };
    return connect(transport);
  };
  return watch;
}

/** The outcome of an answer the SDK (or the gateway) gave without a server: a small JSON-RPC error body. */
export async function refusalOutcome(response: Response): Promise<{ error: { code: number; message?: string } }> {
  try {
    const body = (await response.clone().json()) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body.error?.code === 'number') {
      return { error: { code: body.error.code, ...(typeof body.error.message === 'string' ? { message: body.error.message } : {}) } };
    }
  } catch {
    // Not JSON: described by its status below.
  }
  return { error: { code: -32000, message: `HTTP ${response.status}` } };
}

/**
 * The requests of a body the route refused (a thrown error: an unknown session, a duplicate id,
 * the drain) before any server saw them, as operations answered with the error the client gets.
 */
export function observeRefusal(
  telemetry: Telemetry,
  refused: { readonly route: string; readonly era: Era; readonly body: JSONRPCMessage | JSONRPCMessage[]; readonly req: IncomingMessage },
  error: unknown,
): void {
  // Its requests' operations were started as it came, and ended with it (legacy.ts).
  if (typeof error === 'object' && error !== null && observedRefusals.has(error)) return;
  const outcome = refusalOutcomeOf(error);
  const header = (name: string) => firstHeader(refused.req, name);
  for (const item of Array.isArray(refused.body) ? refused.body : [refused.body]) {
    if (!('method' in item) || !('id' in item) || item.id === undefined) continue;
    const { route, era } = refused;
    telemetry.operation({ route, era, message: item, header, protocolVersion: knownVersion(header('mcp-protocol-version')) }).end(outcome);
  }
}

/** Refusals whose requests' operations have been ended with them: {@link observeRefusal} leaves them be. */
const observedRefusals = new WeakSet<object>();

/** Whether any of `operations` is still unclaimed: its request reached no server. */
export function anyUnclaimed(operations: ExpectedOperations): boolean {
  for (const entry of operations.values()) if (!entry.claimed) return true;
  return false;
}

/** Ends each of `operations` not claimed by a wire with `outcome`. */
export function endUnclaimed(operations: ExpectedOperations, outcome: Outcome): void {
  for (const entry of operations.values()) {
    if (entry.claimed) continue;
    entry.claimed = true;
    entry.operation.end(outcome);
  }
}

/** Ends each of `operations` not claimed by a wire with `error`, the refusal its client gets. */
export function endWithRefusal(operations: ExpectedOperations, error: unknown): void {
  endUnclaimed(operations, refusalOutcomeOf(error));
  if (typeof error === 'object' && error !== null) observedRefusals.add(error);
}

/** What the client of a request refused with `error` gets, as its JSON-RPC error. */
function refusalOutcomeOf(error: unknown): Outcome {
  const { code, message } = (error instanceof GatewayError ? error : new GatewayError('internal_error', 'Internal error')).toJsonRpcBody()
    .error;
  return { error: { code, message } };
}

/**
 * A refused request's `MCP-Protocol-Version` for its span: the version, when it names one the
 * gateway speaks. The refusal may be for that very header (an unsupported version), and a span's
 * `mcp.protocol.version` is a version, not whatever the client wrote.
 */
function knownVersion(value: string | undefined): string | undefined {
  const version = value?.trim();
  return version !== undefined && eraOfVersion(version) !== undefined ? version : undefined;
}
