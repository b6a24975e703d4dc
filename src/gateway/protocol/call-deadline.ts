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
 * answer of its own, even when the handler (ignoring the signal) returns later. While the server
 * waits on its client's answer to a request it made for the call (sampling, elicitation: a person
 * may take minutes), the clock stops; it starts again from the whole callTimeout once answered,
 * as after progress (the server has what it waited for): the clock of every route kind
 * (call-clock.ts).
 */
import type { JSONRPCMessage, McpServer, MessageExtraInfo, RequestId, Transport, TransportSendOptions } from '@modelcontextprotocol/server';
import { CallClock } from '../call-clock.js';
import type { Milliseconds } from '../config/units.js';
import { JSONRPC, toJsonRpcBody } from '../errors.js';
import type { Logger } from '../logger.js';
import { cancelledRequestId, ForwardingTransport } from './forwarding-transport.js';

export interface CallDeadlineOptions {
  readonly route: string;
  readonly callTimeout: Milliseconds;
  /** The route's logger. */
  readonly logger: Logger;
}

interface RunningCall {
  readonly clock: CallClock;
  /** The server's requests to the client for this call still unanswered, each with what restarts the clock. */
  readonly asked: Map<RequestId, () => void>;
  readonly method: string;
  readonly tool: string | undefined;
  readonly progressToken: string | number | undefined;
}

export class CallDeadline extends ForwardingTransport {
  private readonly running = new Map<RequestId, RunningCall>();
  /** The request each progress token belongs to. */
  private readonly progressOf = new Map<string | number, RequestId>();
  /** The call each of the server's requests to the client was made for (its `relatedRequestId`). */
  private readonly askedFor = new Map<RequestId, RequestId>();

  constructor(
    inner: Transport,
    private readonly options: CallDeadlineOptions,
  ) {
    super(inner);
    const forwardClose = inner.onclose;
    inner.onclose = () => {
      for (const call of this.running.values()) call.clock.stop();
      this.running.clear();
      this.progressOf.clear();
      this.askedFor.clear();
      forwardClose?.();
    };
  }

  /** How many requests this wire holds state for (calls running, questions to the client open). */
  get tracked(): number {
    return this.running.size + this.progressOf.size + this.askedFor.size;
  }

  protected override receive(message: JSONRPCMessage, extra?: MessageExtraInfo): void {
    if ('method' in message) {
      if ('id' in message && message.id !== undefined) this.begin(message.id, message);
      else if (message.method === 'notifications/cancelled') {
        // The client gave up: the server sends no answer, and none is waited for.
        const cancelled = cancelledRequestId(message);
        if (cancelled !== undefined) this.forget(cancelled);
      }
    } else if (message.id !== undefined && message.id !== null) {
      // The client's answer to a question the server asked it for a call.
      this.answered(message.id);
    }
    super.receive(message, extra);
  }

  override send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if ('method' in message) {
      if ('id' in message && message.id !== undefined) {
        // The server asks its client (sampling, elicitation, roots) for a call: the wait for the
        // answer, a person's time for an elicitation, is not the module's, and the clock stops.
        const related = options?.relatedRequestId;
        if (related !== undefined) this.ask(message.id, related);
      } else if (message.method === 'notifications/progress') {
        const token = (message.params as { progressToken?: unknown } | undefined)?.progressToken;
        const id = typeof token === 'string' || typeof token === 'number' ? this.progressOf.get(token) : undefined;
        const call = id === undefined ? undefined : this.running.get(id);
        call?.clock.restart();
      } else if (message.method === 'notifications/cancelled') {
        // The server gave up on its question (its own request timeout): the clock runs again.
        const cancelled = cancelledRequestId(message);
        if (cancelled !== undefined) this.answered(cancelled);
      }
    } else if (message.id !== undefined) {
      this.forget(message.id);
    }
    return super.send(message, options);
  }

  private begin(id: RequestId, request: { method: string; params?: unknown }): void {
    const params = (request.params ?? {}) as { name?: unknown; _meta?: { progressToken?: unknown } };
    const token = params._meta?.progressToken;
    const progressToken = typeof token === 'string' || typeof token === 'number' ? token : undefined;
    const tool = request.method === 'tools/call' && typeof params.name === 'string' ? params.name : undefined;
    // A duplicate id is refused before it gets here (RequestTracker), and an id answered
    // `upstream_timeout` is free again: its old handler was aborted, and the SDK sends nothing for it.
    this.forget(id);
    const clock = new CallClock(this.options.callTimeout, () => this.expire(id));
    this.running.set(id, { clock, asked: new Map(), method: request.method, tool, progressToken });
    if (progressToken !== undefined) this.progressOf.set(progressToken, id);
  }

  private ask(question: RequestId, id: RequestId): void {
    const call = this.running.get(id);
    if (!call) return;
    const answered = call.clock.pause();
    this.askedFor.set(question, id);
    call.asked.set(question, answered);
  }

  private answered(question: RequestId): void {
    const id = this.askedFor.get(question);
    if (id === undefined) return;
    this.askedFor.delete(question);
    const call = this.running.get(id);
    const end = call?.asked.get(question);
    call?.asked.delete(question);
    end?.();
  }

  private forget(id: RequestId): RunningCall | undefined {
    const call = this.running.get(id);
    if (!call) return undefined;
    call.clock.stop();
    this.running.delete(id);
    if (call.progressToken !== undefined && this.progressOf.get(call.progressToken) === id) this.progressOf.delete(call.progressToken);
    for (const question of call.asked.keys()) this.askedFor.delete(question);
    return call;
  }

  private expire(id: RequestId): void {
    const call = this.forget(id);
    if (!call) return;
    const { route, callTimeout, logger } = this.options;
    const what = call.tool === undefined ? call.method : `${call.method} ${JSON.stringify(call.tool)}`;
    const message = `the module of route "${route}" did not answer ${what} within ${callTimeout / 1000} s (callTimeout)`;
    logger.warn({ method: call.method, tool: call.tool, callTimeout }, 'a module did not answer within callTimeout');
    const answer = toJsonRpcBody(JSONRPC.SERVER_ERROR, message, { code: 'upstream_timeout' }, id) as JSONRPCMessage;
    void this.inner.send(answer, { relatedRequestId: id }).catch(() => undefined);
    // As its client would cancel it: the SDK aborts the handler's signal, and drops whatever the
    // handler returns after (MCP: no answer follows a cancellation), so nothing is kept for it here.
    this.onmessage?.({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason: message } });
  }
}

/** Makes every transport `server` is connected to a {@link CallDeadline}: the 2026-07-28 entry connects it itself. */
export function limitCalls(server: McpServer, options: CallDeadlineOptions): void {
  const connect = server.connect.bind(server);
  server.connect = (transport: Transport) => connect(new CallDeadline(transport, options));
}
