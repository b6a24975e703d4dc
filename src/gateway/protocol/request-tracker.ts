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
 */
import type { JSONRPCMessage, MessageExtraInfo, RequestId, TransportSendOptions } from '@modelcontextprotocol/server';
import { cancelledRequestId, ForwardingTransport } from './forwarding-transport.js';

/** The ids of the requests (not notifications or responses) among `messages`. */
export function requestIdsOf(messages: readonly JSONRPCMessage[]): RequestId[] {
  const ids: RequestId[] = [];
  for (const message of messages) if ('method' in message && 'id' in message && message.id !== undefined) ids.push(message.id);
  return ids;
}

export class RequestTracker extends ForwardingTransport {
  private readonly pending = new Set<RequestId>();
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
    for (const id of ids) this.pending.add(id);
    return undefined;
  }

  /** Their HTTP exchange is over: forgets those of `ids` the server never received (the transport refused them). */
  end(ids: readonly RequestId[]): void {
    for (const id of ids) if (!this.delivered.has(id)) this.pending.delete(id);
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
      if (this.answered.delete(message.id)) return Promise.resolve();
      this.free(message.id);
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
        if (cancelled !== undefined) this.free(cancelled);
        return;
      }
    }
    super.receive(message, extra);
  }

  private free(id: RequestId): void {
    this.pending.delete(id);
    this.delivered.delete(id);
  }
}
