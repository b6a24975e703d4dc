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
 *
 * And the same for an answer cut at the route's maxMessageSize (message-limit.ts): the fetch says
 * which requests it was for (by their ids in a POST's body, or, for a GET that resumed a request's
 * stream, by the Last-Event-ID it resumed from), and
 * {@link AnsweringStreamableHTTPClientTransport.failTooLarge} fails those at once, with data
 * {@link TOO_LARGE}, and does not let the SDK resume their streams; so does
 * {@link AnsweringSSEClientTransport}, the HTTP+SSE transport, for every request waiting when its
 * event stream is cut.
 */
import {
  isJSONRPCErrorResponse,
  isJSONRPCNotification,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  ProtocolError,
  SdkError,
  SdkErrorCode,
  SSEClientTransport,
  StreamableHTTPClientTransport,
  type FetchLike,
  type JSONRPCMessage,
  type RequestId,
  type SSEClientTransportOptions,
  type StreamableHTTPClientTransportOptions,
} from '@modelcontextprotocol/client';
import { MessageTooLarge, type Overflow } from './message-limit.js';

/** The `data` of the error a request gets when its stream ended unanswered. */
export const STREAM_ENDED: { readonly reason: string } = Object.freeze({ reason: 'stream ended' });

/** The client's error for a request whose response stream ended without its answer. */
export function endedUnanswered(error: unknown): boolean {
  return error instanceof ProtocolError && error.data === STREAM_ENDED;
}

/** The `data` of the error a request gets when the remote's answer to it was over maxMessageSize (message-limit.ts). */
export const TOO_LARGE: { readonly reason: string } = Object.freeze({ reason: 'message too large' });

/**
 * A request's error for an answer cut at maxMessageSize, as the client hands it (data {@link TOO_LARGE})
 * or as the fetch threw it ({@link MessageTooLarge}); its message says so ("sent a message over 64 MiB
 * (maxMessageSize)").
 */
export function cutTooLarge(error: unknown): error is Error {
  return (error instanceof ProtocolError && error.data === TOO_LARGE) || error instanceof MessageTooLarge;
}

/** A JSON-RPC error the upstream sent, which is its answer: not one of the two above. */
export function upstreamsOwnError(error: unknown): error is ProtocolError {
  return error instanceof ProtocolError && error.data !== STREAM_ENDED && error.data !== TOO_LARGE;
}

/** `error.type` of a request to the upstream that got no answer (a forwarded one, the handshake). */
export function failureType(error: unknown): string {
  if (endedUnanswered(error)) return 'stream_ended';
  if (cutTooLarge(error)) return 'message_too_large';
  if (error instanceof SdkError) return error.code === SdkErrorCode.RequestTimeout ? 'timeout' : String(error.code);
  return error instanceof Error ? error.name : 'error';
}

type SendOptions = Parameters<StreamableHTTPClientTransport['send']>[1];

export class AnsweringStreamableHTTPClientTransport extends StreamableHTTPClientTransport {
  readonly #waiting: WaitingRequests<RequestStream>;
  /** Streams of requests failed for an answer cut at maxMessageSize, whose resumption is not sent. */
  readonly #cut: CutStreams;

  constructor(url: URL, options: StreamableHTTPClientTransportOptions = {}) {
    const waiting = new WaitingRequests<RequestStream>();
    const cut = new CutStreams();
    super(url, { ...options, fetch: resumingFetch(options.fetch ?? fetch, waiting, cut) });
    this.#waiting = waiting;
    this.#cut = cut;
    this.onmessage = (message) => this.#waiting.answered(message);
  }

  override async send(message: JSONRPCMessage | JSONRPCMessage[], options?: SendOptions): Promise<void> {
    if (Array.isArray(message) || !isJSONRPCRequest(message) || options?.onRequestStreamEnd) {
      if (!Array.isArray(message)) this.#waiting.cancelledBy(message);
      return super.send(message, options);
    }
    const { id } = message;
    const stream: RequestStream = { lastEventId: undefined, resumedFrom: undefined };
    // A 2026-07-28 request's cancellation aborts its signal (it sends no notifications/cancelled).
    options?.requestSignal?.addEventListener('abort', () => this.#waiting.settle(id), { once: true });
    await this.#waiting.sending(id, stream, () =>
      super.send(message, {
        ...options,
        onresumptiontoken: (token) => {
          stream.lastEventId = token;
          options?.onresumptiontoken?.(token);
        },
        onRequestStreamEnd: () => this.#ended(id),
      }),
    );
  }

  override async close(): Promise<void> {
    this.#waiting.clear();
    await super.close();
  }

  /**
   * The remote's answer to these requests was cut at maxMessageSize (message-limit.ts): those still
   * waiting fail now, with data {@link TOO_LARGE}, before the SDK sees the body end. A cut GET that
   * resumed a request's stream was for that request. The SDK would then resume the cut stream
   * (a GET with Last-Event-ID) for an answer that can no longer reach anyone, and a server that
   * replays the same event would be asked for it again and again: that GET is not sent.
   */
  failTooLarge(overflow: Overflow): void {
    const ids =
      overflow.method === 'GET' && overflow.lastEventId !== undefined
        ? this.#waiting.where((stream) => stream.resumedFrom === overflow.lastEventId)
        : overflow.requestIds;
    // A GET that was no request's: the connection's own stream (server notifications and requests).
    if (overflow.method === 'GET' && ids.length === 0) this.#cut.listenStream = true;
    this.#waiting.failTooLarge(ids, overflow.error, this.onmessage, (stream) => this.#cut.add(stream));
  }

  #ended(id: RequestId): void {
    if (this.#waiting.settle(id) === undefined) return;
    this.onmessage?.({
      jsonrpc: '2.0',
      id,
      error: { code: -32603, message: 'its response stream ended without an answer', data: STREAM_ENDED },
    });
  }
}

/**
 * The response stream of one request on Streamable HTTP, as the transport sees it: the id of the
 * last event it carried (the SDK resumes a broken stream from there, and tells it through the
 * per-request `onresumptiontoken`), and where its latest resumption started.
 */
interface RequestStream {
  lastEventId: string | undefined;
  resumedFrom: string | undefined;
}

/**
 * The transport's fetch, which sees each GET that resumes a stream (its Last-Event-ID) before it is
 * sent: one that resumes a request's stream is marked as that request's (a cut of its answer
 * fails that request); one that resumes a cut stream is answered here, as a server that offers no
 * stream there answers (405), which the SDK takes as the stream's end, without an error, and
 * without trying again; and one that resumes the connection's own stream after a cut is sent
 * without its Last-Event-ID. Through the requestSignal of TransportSendOptions instead, every request
 * would pay for an `AbortSignal.any` of it and the transport's signal, which on Node 20 costs
 * ~24 µs and keeps a weak reference on the transport's signal for good.
 */
function resumingFetch(base: FetchLike, waiting: WaitingRequests<RequestStream>, cut: CutStreams): FetchLike {
  return (url, init) => {
    if (init?.method !== 'GET') return base(url, init);
    const from = new Headers(init.headers).get('last-event-id');
    if (from === null) return base(url, init);
    if (cut.take(from)) return Promise.resolve(new Response(null, { status: 405, statusText: 'Method Not Allowed' }));
    let ofRequest = false;
    for (const stream of waiting.kept()) {
      if (stream.lastEventId !== from) continue;
      stream.resumedFrom = from;
      ofRequest = true;
    }
    if (ofRequest || !cut.listenStream) return base(url, init);
    cut.listenStream = false;
    const headers = new Headers(init.headers);
    headers.delete('last-event-id');
    return base(url, { ...init, headers });
  };
}

/**
 * The latest streams cut at maxMessageSize, until the SDK tries to resume each (it does once, a
 * second after the cut, if the stream had event ids). A cut is rare and logged: a few are kept,
 * the oldest dropped first, so a stream never resumed costs nothing for long.
 */
class CutStreams {
  static readonly #KEPT = 16;
  readonly #streams: RequestStream[] = [];
  /**
   * The connection's own GET stream was cut: the SDK opens it again from the event before the cut,
   * and a server that replays would send the same event again, so it is opened afresh instead (what
   * the server sent after the cut, and the event cut, are not seen; the event was lost anyway).
   */
  listenStream = false;

  add(stream: RequestStream): void {
    this.#streams.push(stream);
    if (this.#streams.length > CutStreams.#KEPT) this.#streams.shift();
  }

  /** Whether `lastEventId` resumes a cut stream; that one is then forgotten. */
  take(lastEventId: string): boolean {
    const at = this.#streams.findIndex((stream) => stream.lastEventId === lastEventId);
    if (at === -1) return false;
    this.#streams.splice(at, 1);
    return true;
  }
}

/**
 * The HTTP+SSE (2024) client transport of a `url:` route, with the same addition for
 * maxMessageSize: its one event stream (the GET) carries the answers to every request of the
 * connection, so an event cut there fails every request still waiting, at once, instead of each
 * waiting out `callTimeout` for an answer that was dropped. (The stream is opened again, as the
 * SDK's EventSource does after any break.)
 */
export class AnsweringSSEClientTransport extends SSEClientTransport {
  readonly #waiting = new WaitingRequests<true>();

  constructor(url: URL, options?: SSEClientTransportOptions) {
    super(url, options);
    this.onmessage = (message) => this.#waiting.answered(message);
  }

  override async send(message: JSONRPCMessage): Promise<void> {
    if (!isJSONRPCRequest(message)) {
      this.#waiting.cancelledBy(message);
      return super.send(message);
    }
    await this.#waiting.sending(message.id, true, () => super.send(message));
  }

  override async close(): Promise<void> {
    this.#waiting.clear();
    await super.close();
  }

  /** As {@link AnsweringStreamableHTTPClientTransport.failTooLarge}; a cut of the event stream (a GET) fails every request waiting. */
  failTooLarge(overflow: Overflow): void {
    const ids = overflow.method === 'GET' ? this.#waiting.where(() => true) : overflow.requestIds;
    this.#waiting.failTooLarge(ids, overflow.error, this.onmessage);
  }
}

/**
 * The requests a transport sent whose answer has not arrived, for both transports above, each with
 * what the transport keeps of it (`W`): an answer the transport hands its client, a cancellation it
 * sends, a failed send or its close ends the wait.
 */
class WaitingRequests<W> {
  readonly #waits = new Map<RequestId, W>();

  /** Sees what the transport hands its client (its `onmessage`, which the SDK's client calls first). */
  answered(message: JSONRPCMessage): void {
    if (isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message)) this.#waits.delete(message.id!);
  }

  /** Sees a message the transport sends that is not a request: a cancellation ends the wait for its request. */
  cancelledBy(message: JSONRPCMessage): void {
    if (isJSONRPCNotification(message) && message.method === 'notifications/cancelled') {
      this.#waits.delete((message.params as { requestId: RequestId }).requestId);
    }
  }

  /** Waits for request `id` while `send` sends it; a send that fails waits for nothing. */
  async sending(id: RequestId, wait: W, send: () => Promise<void>): Promise<void> {
    this.#waits.set(id, wait);
    try {
      await send();
    } catch (error) {
      this.#waits.delete(id);
      throw error;
    }
  }

  /** What is kept of each request waited for. */
  kept(): IterableIterator<W> {
    return this.#waits.values();
  }

  /** Ends the wait for `id`; what was kept of it, if it was still waited for. */
  settle(id: RequestId): W | undefined {
    const wait = this.#waits.get(id);
    this.#waits.delete(id);
    return wait;
  }

  /** The requests waited for whose kept part `test` accepts. */
  where(test: (wait: W) => boolean): RequestId[] {
    const ids: RequestId[] = [];
    for (const [id, wait] of this.#waits) if (test(wait)) ids.push(id);
    return ids;
  }

  clear(): void {
    this.#waits.clear();
  }

  /**
   * Hands the client, for each of `ids` still waited for, the error of an answer cut at
   * maxMessageSize; `ended` is told of each.
   */
  failTooLarge(
    ids: readonly RequestId[],
    error: Error,
    deliver: ((message: JSONRPCMessage) => void) | undefined,
    ended: (wait: W) => void = () => undefined,
  ): void {
    for (const id of ids) {
      const wait = this.settle(id);
      if (wait === undefined) continue;
      deliver?.({ jsonrpc: '2.0', id, error: { code: -32603, message: error.message, data: TOO_LARGE } });
      ended(wait);
    }
  }
}
