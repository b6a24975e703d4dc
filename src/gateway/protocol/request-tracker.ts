/**
 * The JSON-RPC requests one transport is serving, by id, seen on the wire between transport and
 * server (like the tool filter), so that:
 * - a second request with an id already in flight on the same session is refused: the SDK's
 *   transport keys its response streams by id, so the second would take the first one's answer
 *   and leave the first with none;
 * - when the gateway stops, every request still unanswered gets a JSON-RPC error on its own
 *   stream instead of an empty response.
 * An id is free again once the server has answered it.
 */
import type {
  WebStandardStreamableHTTPServerTransport,
  Transport,
  TransportSendOptions,
  JSONRPCMessage,
  MessageExtraInfo,
  RequestId,
} from '@modelcontextprotocol/server';

/** What the server hands the transport to answer scope challenges (the transport's own parameter type). */
type ScopeChallengeResolver = Parameters<WebStandardStreamableHTTPServerTransport['setScopeChallengeResolver']>[0];

/** The ids of the requests (not notifications or responses) among `messages`. */
export function requestIdsOf(messages: readonly JSONRPCMessage[]): RequestId[] {
  const ids: RequestId[] = [];
  for (const message of messages) if ('method' in message && 'id' in message && message.id !== undefined) ids.push(message.id);
  return ids;
}

export class RequestTracker implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void;
  private readonly pending = new Set<RequestId>();
  /** Ids the gateway answered itself (at shutdown): the server's own late answer is dropped. */
  private readonly answered = new Set<RequestId>();

  constructor(private readonly inner: Transport) {
    inner.onclose = () => this.onclose?.();
    inner.onerror = (error) => this.onerror?.(error);
    inner.onmessage = (message, extra) => this.onmessage?.(message, extra);
  }

  /** Requests in flight that have no answer yet. */
  get size(): number {
    return this.pending.size;
  }

  /**
   * Marks `ids` in flight. Returns the first id that already is (and marks nothing), else undefined.
   * JSON-RPC ids compare by type too: `1` and `"1"` are different requests.
   */
  begin(ids: readonly RequestId[]): RequestId | undefined {
    for (const id of ids) if (this.pending.has(id)) return id;
    for (const id of ids) this.pending.add(id);
    return undefined;
  }

  /** Forgets `ids` (their HTTP exchange is over, answered or not). */
  end(ids: readonly RequestId[]): void {
    for (const id of ids) this.pending.delete(id);
  }

  /** Answers every request still unanswered with `error(id)`, on the stream that waits for it. */
  async answerPending(error: (id: RequestId) => JSONRPCMessage): Promise<number> {
    const ids = [...this.pending];
    for (const id of ids) {
      this.pending.delete(id);
      this.answered.add(id);
      await this.inner.send(error(id)).catch(() => undefined);
    }
    return ids.length;
  }

  get sessionId() {
    return this.inner.sessionId;
  }

  setProtocolVersion(version: string) {
    this.inner.setProtocolVersion?.(version);
  }

  // Called by the server when it connects: the real transport checks the protocol version header
  // and scope challenges with them, so they must reach it through this wrapper.
  setSupportedProtocolVersions(versions: string[]) {
    this.inner.setSupportedProtocolVersions?.(versions);
  }

  setScopeChallengeResolver(resolver: ScopeChallengeResolver) {
    (this.inner as { setScopeChallengeResolver?: (resolver: ScopeChallengeResolver) => void }).setScopeChallengeResolver?.(resolver);
  }

  start() {
    return this.inner.start();
  }

  close() {
    return this.inner.close();
  }

  send(message: JSONRPCMessage, options?: TransportSendOptions) {
    if (('result' in message || 'error' in message) && message.id !== undefined) {
      // A request has one answer: the server's, late, after the gateway's own goes nowhere.
      if (this.answered.delete(message.id)) return Promise.resolve();
      this.pending.delete(message.id);
    }
    return this.inner.send(message, options);
  }
}
