/**
 * The JSON-RPC requests one transport is serving, by id, seen on the wire between transport and
 * server (like the tool filter), so that:
 * - a second request with an id already in flight on the same session is refused: the SDK's
 *   transport keys its response streams by id, so the second would take the first one's answer
 *   and leave the first with none;
 * - when the gateway stops, every request still unanswered gets a JSON-RPC error on its own
 *   stream instead of an empty response.
 * An id is free again once the server has answered it, or once the client cancelled it (the
 * server sends no answer then). Not when its HTTP exchange ends: a client that went away leaves
 * its call running, and a new request with the id would be handed that call's answer (the
 * transport sends an answer to whichever stream holds its id now). A request the transport
 * refused before the server saw it is freed when its exchange ends: no answer will come.
 *
 * A cancelled request gets no answer, and the SDK's transport ends a POST's event stream only once
 * every request it carries is answered: the stream of a cancelled call would stay open for as long
 * as the client kept its connection, its session busy (never evicted, never expired), and a drain
 * waiting for it. So once every request of an exchange is answered or cancelled, and one was
 * cancelled, its stream is ended ({@link RequestTrackerOptions.endStream}).
 */
import type { JSONRPCMessage, MessageExtraInfo, RequestId, TransportSendOptions } from '@modelcontextprotocol/server';
import { cancelledRequestId, ForwardingTransport } from './forwarding-transport.js';

/** The ids of the requests (not notifications or responses) among `messages`. */
export function requestIdsOf(messages: readonly JSONRPCMessage[]): RequestId[] {
  const ids: RequestId[] = [];
  for (const message of messages) if ('method' in message && 'id' in message && message.id !== undefined) ids.push(message.id);
  return ids;
}

export interface RequestTrackerOptions {
  /** Ends the event stream that carries the request `id` (the SDK transport's `closeSSEStream`). */
  readonly endStream?: (id: RequestId) => void;
}

export class RequestTracker extends ForwardingTransport {
  private readonly pending = new Set<RequestId>();
  /** The ids that came in one exchange (POST), by each of them, while any is unanswered. */
  private readonly exchanges = new Map<RequestId, readonly RequestId[]>();
  /** Those of {@link exchanges} the client cancelled: they get no answer. */
  private readonly cancelled = new Set<RequestId>();

  constructor(
    inner: ConstructorParameters<typeof ForwardingTransport>[0],
    private readonly options: RequestTrackerOptions = {},
  ) {
    super(inner);
  }
  /** Those of {@link pending} the server has received: only its answer (or a cancellation) frees them. */
  private readonly delivered = new Set<RequestId>();
  /** Ids the gateway answered itself (at shutdown): the server's own late answer is dropped. */
  private readonly answered = new Set<RequestId>();

  /**
   * Marks `ids` in flight. Returns the first id that already is (and marks nothing), else undefined.
   * JSON-RPC ids compare by type too: `1` and `"1"` are different requests.
   */
  begin(ids: readonly RequestId[]): RequestId | undefined {
    for (const id of ids) if (this.pending.has(id)) return id;
    for (const id of ids) {
      this.pending.add(id);
      this.exchanges.set(id, ids);
    }
    return undefined;
  }

  /** Their HTTP exchange is over: forgets those of `ids` the server never received (the transport refused them). */
  end(ids: readonly RequestId[]): void {
    for (const id of ids) {
      if (!this.delivered.has(id)) this.pending.delete(id);
      if (this.exchanges.get(id) === ids) this.exchanges.delete(id);
      this.cancelled.delete(id);
    }
  }

  /** Answers every request still unanswered with `error(id)`, on the stream that waits for it. */
  async answerPending(error: (id: RequestId) => JSONRPCMessage): Promise<number> {
    const ids = [...this.pending];
    for (const id of ids) {
      this.free(id);
      this.answered.add(id);
      await this.inner.send(error(id)).catch(() => undefined);
    }
    return ids.length;
  }

  override send(message: JSONRPCMessage, options?: TransportSendOptions) {
    if (('result' in message || 'error' in message) && message.id !== undefined) {
      // A request has one answer: the server's, late, after the gateway's own goes nowhere.
      const { id } = message;
      if (this.answered.delete(id)) return Promise.resolve();
      this.free(id);
      const sent = super.send(message, options);
      // After the answer is on its stream: the stream may be waiting only for cancelled requests now.
      return sent.then(() => this.settled(id));
    }
    return super.send(message, options);
  }

  protected override receive(message: JSONRPCMessage, extra?: MessageExtraInfo) {
    if ('method' in message) {
      if ('id' in message && this.pending.has(message.id)) this.delivered.add(message.id);
      else if (message.method === 'notifications/cancelled') {
        super.receive(message, extra);
        // Once the server has it, the cancelled request gets no answer (MCP: the receiver does not respond).
        const cancelled = cancelledRequestId(message);
        if (cancelled !== undefined && this.pending.has(cancelled)) {
          this.free(cancelled);
          this.cancelled.add(cancelled);
          this.settled(cancelled);
        }
        return;
      }
    }
    super.receive(message, extra);
  }

  /** Ends the stream of `id`'s exchange once all its requests are answered or cancelled, and one was cancelled. */
  private settled(id: RequestId): void {
    const exchange = this.exchanges.get(id);
    if (exchange === undefined || exchange.some((other) => this.pending.has(other))) return;
    const cancelled = exchange.find((other) => this.cancelled.has(other));
    if (cancelled === undefined) return;
    for (const other of exchange) {
      this.exchanges.delete(other);
      this.cancelled.delete(other);
    }
    this.options.endStream?.(cancelled);
  }

  private free(id: RequestId): void {
    this.pending.delete(id);
    this.delivered.delete(id);
  }
}
