/**
 * The Streamable HTTP client transport of a `url:` route, with one addition: a request whose
 * response stream ends without its answer fails at once, instead of waiting out `callTimeout`.
 *
 * Why: a remote server answers a POST with an event stream and may end it without the response
 * (it crashed or restarted mid-call, a proxy cut an idle stream, it sent the result under another
 * id). The SDK's transport says so through the documented per-request `onRequestStreamEnd` of
 * `TransportSendOptions` (after trying to resume a stream whose events had ids), but only the
 * SDK's own `subscriptions/listen` asks for it; every other request was left waiting for an answer
 * that could no longer come, 60 s by default.
 *
 * Here each request the client sends gets an `onRequestStreamEnd` unless it brought its own; when
 * it fires and no answer with the request's id has arrived, the client is handed a JSON-RPC error
 * for that id, whose `data` is {@link STREAM_ENDED}: an object of this module, never one read from
 * the wire, so the bridge tells it from an error the server sent ({@link endedUnanswered}) and
 * reports it as the failure it is. Answers are seen through `onmessage`, set before the client
 * connects: the SDK's client keeps a handler it finds there and calls it first. A request the
 * client cancels (`notifications/cancelled`) is no longer waited for, so a stream the server ends
 * after a cancellation adds nothing.
 */
import {
  isJSONRPCErrorResponse,
  isJSONRPCNotification,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  ProtocolError,
  StreamableHTTPClientTransport,
  type JSONRPCMessage,
  type RequestId,
  type StreamableHTTPClientTransportOptions,
} from '@modelcontextprotocol/client';

/** The `data` of the error a request gets when its stream ended unanswered. */
export const STREAM_ENDED: { readonly reason: string } = Object.freeze({ reason: 'stream ended' });

/** The client's error for a request whose response stream ended without its answer. */
export function endedUnanswered(error: unknown): boolean {
  return error instanceof ProtocolError && error.data === STREAM_ENDED;
}

/** A JSON-RPC error the upstream sent, which is its answer: not the one above. */
export function upstreamsOwnError(error: unknown): error is ProtocolError {
  return error instanceof ProtocolError && error.data !== STREAM_ENDED;
}

type SendOptions = Parameters<StreamableHTTPClientTransport['send']>[1];

export class AnsweringStreamableHTTPClientTransport extends StreamableHTTPClientTransport {
  /** Requests sent whose answer has not arrived. */
  readonly #waiting = new Set<RequestId>();

  constructor(url: URL, options?: StreamableHTTPClientTransportOptions) {
    super(url, options);
    this.onmessage = (message) => {
      if (isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message)) this.#waiting.delete(message.id!);
    };
  }

  override async send(message: JSONRPCMessage | JSONRPCMessage[], options?: SendOptions): Promise<void> {
    if (Array.isArray(message) || !isJSONRPCRequest(message) || options?.onRequestStreamEnd) {
      if (!Array.isArray(message) && isJSONRPCNotification(message) && message.method === 'notifications/cancelled') {
        this.#waiting.delete((message.params as { requestId: RequestId }).requestId);
      }
      return super.send(message, options);
    }
    const { id } = message;
    this.#waiting.add(id);
    try {
      await super.send(message, { ...options, onRequestStreamEnd: () => this.#ended(id) });
    } catch (error) {
      this.#waiting.delete(id);
      throw error;
    }
  }

  override async close(): Promise<void> {
    this.#waiting.clear();
    await super.close();
  }

  #ended(id: RequestId): void {
    if (!this.#waiting.delete(id)) return;
    this.onmessage?.({
      jsonrpc: '2.0',
      id,
      error: { code: -32603, message: 'its response stream ended without an answer', data: STREAM_ENDED },
    });
  }
}
