/**
 * `callTimeout` on a `module:` route: each request a module's server is handling has until then
 * to be answered, and each progress notification it sends for the request restarts the clock, as
 * on command and url routes (whose bridge has the SDK client's own timeout). A module's handler
 * runs in the gateway's process, so one that never settles (a hung fetch without a timeout of its
 * own, a bug) would otherwise hold its client's request, keep its session busy and delay the drain
 * until shutdownGrace.
 *
 * Seen on the wire between the SDK's transport and the module's server, in both eras (legacy.ts
 * wraps a session's wire; modern.ts the transport the SDK's per-request entry connects). On expiry
 * the client gets `upstream_timeout`, and the server gets `notifications/cancelled` for the
 * request, as from its client: the SDK aborts the handler's `ctx.mcpReq.signal` and sends no
 * answer of its own. An answer that still comes (the handler ignored the signal) goes nowhere.
 */
import type { JSONRPCMessage, McpServer, MessageExtraInfo, RequestId, Transport, TransportSendOptions } from '@modelcontextprotocol/server';
import type { Milliseconds } from '../config/units.js';
import { JSONRPC, toJsonRpcBody } from '../errors.js';
import type { Logger } from '../logger.js';
import { ForwardingTransport } from './forwarding-transport.js';

export interface CallDeadlineOptions {
  readonly route: string;
  readonly callTimeout: Milliseconds;
  /** The route's logger. */
  readonly logger: Logger;
}

interface RunningCall {
  timer: NodeJS.Timeout;
  readonly method: string;
  readonly tool: string | undefined;
  readonly progressToken: string | number | undefined;
}

export class CallDeadline extends ForwardingTransport {
  private readonly running = new Map<RequestId, RunningCall>();
  /** The request each progress token belongs to. */
  private readonly progressOf = new Map<string | number, RequestId>();
  /** Requests answered `upstream_timeout`: the server's own answer, if it comes, is dropped. */
  private readonly expired = new Set<RequestId>();

  constructor(
    inner: Transport,
    private readonly options: CallDeadlineOptions,
  ) {
    super(inner);
    const forwardClose = inner.onclose;
    inner.onclose = () => {
      for (const call of this.running.values()) clearTimeout(call.timer);
      this.running.clear();
      this.progressOf.clear();
      forwardClose?.();
    };
  }

  protected override receive(message: JSONRPCMessage, extra?: MessageExtraInfo): void {
    if ('method' in message) {
      if ('id' in message && message.id !== undefined) this.begin(message.id, message);
      else if (message.method === 'notifications/cancelled') {
        // The client gave up: the server sends no answer, and none is waited for.
        const cancelled = (message.params as { requestId?: unknown } | undefined)?.requestId;
        if (typeof cancelled === 'string' || typeof cancelled === 'number') this.forget(cancelled);
      }
    }
    super.receive(message, extra);
  }

  override send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if (('result' in message || 'error' in message) && message.id !== undefined) {
      if (this.expired.delete(message.id)) {
        this.options.logger.debug({ id: message.id }, "a module's answer after callTimeout was dropped (its client had upstream_timeout)");
        return Promise.resolve();
      }
      this.forget(message.id);
    } else if ('method' in message && message.method === 'notifications/progress') {
      const token = (message.params as { progressToken?: unknown } | undefined)?.progressToken;
      const id = typeof token === 'string' || typeof token === 'number' ? this.progressOf.get(token) : undefined;
      const call = id === undefined ? undefined : this.running.get(id);
      if (call) call.timer.refresh();
    }
    return super.send(message, options);
  }

  private begin(id: RequestId, request: { method: string; params?: unknown }): void {
    // An id answered `upstream_timeout` is free for the client to use again: the answer to come
    // is the new request's (the old handler's, aborted, is dropped by the SDK).
    this.expired.delete(id);
    const params = (request.params ?? {}) as { name?: unknown; _meta?: { progressToken?: unknown } };
    const token = params._meta?.progressToken;
    const progressToken = typeof token === 'string' || typeof token === 'number' ? token : undefined;
    const tool = request.method === 'tools/call' && typeof params.name === 'string' ? params.name : undefined;
    const timer = setTimeout(() => this.expire(id), this.options.callTimeout);
    this.running.set(id, { timer, method: request.method, tool, progressToken });
    if (progressToken !== undefined) this.progressOf.set(progressToken, id);
  }

  private forget(id: RequestId): RunningCall | undefined {
    const call = this.running.get(id);
    if (!call) return undefined;
    clearTimeout(call.timer);
    this.running.delete(id);
    if (call.progressToken !== undefined) this.progressOf.delete(call.progressToken);
    return call;
  }

  private expire(id: RequestId): void {
    const call = this.forget(id);
    if (!call) return;
    this.expired.add(id);
    const { route, callTimeout, logger } = this.options;
    const what = call.tool === undefined ? call.method : `${call.method} ${JSON.stringify(call.tool)}`;
    const message = `the module of route "${route}" did not answer ${what} within ${callTimeout / 1000} s (callTimeout)`;
    logger.warn({ method: call.method, tool: call.tool, callTimeout }, 'a module did not answer within callTimeout');
    const answer = toJsonRpcBody(JSONRPC.SERVER_ERROR, message, { code: 'upstream_timeout' }, id) as JSONRPCMessage;
    void this.inner.send(answer, { relatedRequestId: id }).catch(() => undefined);
    // As its client would cancel it: the SDK aborts the handler's signal (MCP: no answer follows).
    this.onmessage?.({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason: message } });
  }
}

/** Makes every transport `server` is connected to a {@link CallDeadline}: the 2026-07-28 entry connects it itself. */
export function limitCalls(server: McpServer, options: CallDeadlineOptions): void {
  const connect = server.connect.bind(server);
  server.connect = (transport: Transport) => connect(new CallDeadline(transport, options));
}
