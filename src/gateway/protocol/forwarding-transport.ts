/**
 * A transport that stands between the SDK's transport and a server and forwards everything both
 * ways: the base of the gateway's wire wrappers (the request tracker, the tool filter), which
 * override {@link send} (server to client) and {@link receive} (client to server) for what they add.
 */
import type {
  JSONRPCMessage,
  MessageExtraInfo,
  RequestId,
  Transport,
  TransportSendOptions,
  WebStandardStreamableHTTPServerTransport,
} from '@modelcontextprotocol/server';

/** What the server hands the transport to answer scope challenges (the transport's own parameter type). */
type ScopeChallengeResolver = Parameters<WebStandardStreamableHTTPServerTransport['setScopeChallengeResolver']>[0];

/** The request a `notifications/cancelled` names, for the wrappers that track requests; else undefined. */
export function cancelledRequestId(message: JSONRPCMessage): RequestId | undefined {
  if (!('method' in message) || message.method !== 'notifications/cancelled' || 'id' in message) return undefined;
  const requestId = (message.params as { requestId?: unknown } | undefined)?.requestId;
  return typeof requestId === 'string' || typeof requestId === 'number' ? requestId : undefined;
}

export class ForwardingTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void;

  constructor(protected readonly inner: Transport) {
    inner.onclose = () => this.onclose?.();
    inner.onerror = (error) => this.onerror?.(error);
    inner.onmessage = (message, extra) => this.receive(message, extra);
  }

  /** A message from the client, on its way to the server. */
  protected receive(message: JSONRPCMessage, extra?: MessageExtraInfo): void {
    this.onmessage?.(message, extra);
  }

  /** A message from the server, on its way to the client. */
  send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    return this.inner.send(message, options);
  }

  get sessionId() {
    return this.inner.sessionId;
  }

  setProtocolVersion(version: string) {
    this.inner.setProtocolVersion?.(version);
  }

  // Called by the server when it connects: the real transport checks the protocol version header
  // and scope challenges with them, so they must reach it through every wrapper.
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
}
