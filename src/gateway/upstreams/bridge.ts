/**
 * The downstream half of a `command:` or `url:` route: an `McpServer` that declares what the
 * upstream declared and answers every request by forwarding it through the SDK's `Client`.
 *
 * The gateway serves it exactly as it serves a module's server (one per 2025 session, one per
 * 2026-07-28 request), so sessions, both eras, auth, tool filters and limits apply unchanged.
 * The client assigns its own ids upstream and answers come back through the request that asked,
 * so no answer can reach another client. Progress is forwarded with the downstream's own token,
 * cancellation travels as the request's abort signal, and `_meta` is passed on without the
 * downstream era's envelope (the client writes its own for the upstream's era); a result's, without
 * the upstream's name for itself (the route is the server its clients talk to), and a 2025 client
 * gets a 2026-07-28 upstream's results without what only that era has (its caching hints). Between a
 * 2026-07-28 client and a 2026-07-28 upstream the request's own envelope (the client's
 * capabilities, info and log level, which that era sends per request) goes through, and an
 * `input_required` result comes back as it is: the client answers it, and its next round, with
 * `inputResponses` and the upstream's sealed `requestState`, is forwarded like the first.
 */
import { ProtocolError, SdkError, SdkErrorCode } from '@modelcontextprotocol/client';
import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  LOG_LEVEL_META_KEY,
  McpServer,
  SERVER_INFO_META_KEY,
  type CallToolResult,
  type ListToolsResult,
  type Progress,
  type Request as McpRequest,
  type ServerContext as SdkServerContext,
} from '@modelcontextprotocol/server';
import { GatewayError, JSONRPC, type GatewayErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import { MAX_TIMER_MS } from '../config/units.js';
import { signalClock, type CallClock } from '../call-clock.js';
import {
  RELAY_ANSWER_TIMEOUT_MS,
  UpstreamStartFailure,
  type DownstreamPeer,
  type UpstreamConnection,
  type UpstreamDescription,
  type UpstreamTrace,
} from './connection.js';
import type { SessionStream } from './upstream.js';
import type { RequestOutcome } from './pool.js';
import { CANCELLED } from '../telemetry/telemetry.js';
import type { ToolIndex } from './tool-index.js';
import { cutTooLarge, endedUnanswered, failureType, upstreamsOwnError } from './unanswered-streams.js';

export interface BridgeOptions {
  readonly description: UpstreamDescription;
  /** The downstream era: one 2026-07-28 request, or a 2025 session. */
  readonly era: 'legacy' | 'modern';
  /** The route's upstream tools, as last listed. */
  readonly tools: ToolIndex;
  /** The connection for the next request: the live one, or a new one after the upstream went away. */
  readonly connection: () => Promise<UpstreamConnection>;
  /**
   * How long a forwarded request may go unanswered (progress restarts it; a question the upstream
   * asks its client for the request stops it until the answer is back: call-clock.ts).
   */
  readonly callTimeout: number;
  /** Marks a call in flight (so its connection is not stopped to make room); returns the end. */
  readonly busy?: () => () => void;
  /**
   * The upstream answered 404 for its session: replace the connection with a new session; the
   * request is sent again once (it was not processed). Remote routes only.
   */
  readonly renew?: (stale: UpstreamConnection) => Promise<void>;
  readonly onRenewed?: () => void;
  /**
   * The route's backoff (pool.ts): asked before each request is forwarded (it throws a fast
   * `upstream_unavailable` while the upstream is left alone), and told what the request came to.
   */
  readonly backoff?: { readonly pass: () => (outcome: RequestOutcome) => void };
  /**
   * Remote routes: a request that changes nothing (lists, reads, prompts, completions) is sent
   * again once after a failure to reach the upstream.
   */
  readonly retryUnreachable?: boolean;
  /** A forwarded request got no answer (not a JSON-RPC error: a failure to reach the upstream, a timeout, an exit). */
  readonly onFailure?: (method: string, error: unknown) => void;
  /** Starts the CLIENT span of a forwarded request (telemetry on); its trace context goes upstream. */
  readonly trace?: UpstreamTrace;
  /** How the route names its server in errors: `the server process of route "x"`. */
  readonly describeUpstream: string;
  /**
   * The connection is this client's alone (a 2025 session's own): what it subscribes to goes
   * upstream as it is, and every update the upstream sends is its. Else subscriptions are counted
   * on the connection with everyone else's, and a client gets updates only of what it subscribed to.
   */
  readonly ownsConnection?: boolean;
  /** The route's logger: subscriptions that could not be held again on a new connection are told here. */
  readonly log?: Logger;
  /**
   * The connection the server is built on, attached at once: a 2025 session's own child may ask
   * its client something as soon as it is initialized, before the session's first request is answered.
   */
  readonly initial?: UpstreamConnection;
  /** A 2025 session's GET stream: where its own connection's requests between calls go. */
  readonly getStream?: SessionStream;
}

/** Methods forwarded, by the capability that makes the upstream answer them. */
const FORWARDED = {
  tools: ['tools/list', 'tools/call'],
  prompts: ['prompts/list', 'prompts/get'],
  resources: ['resources/list', 'resources/templates/list', 'resources/read'],
  completions: ['completion/complete'],
  logging: ['logging/setLevel'],
} as const;

/** Requests that change nothing upstream: safe to send again after a failure to reach it. */
const IDEMPOTENT = new Set([
  'tools/list',
  'prompts/list',
  'prompts/get',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'completion/complete',
]);

/** `_meta` keys that describe the downstream request's era; the client writes the upstream's. */
const ENVELOPE_PREFIX = 'io.modelcontextprotocol/';
/** What a 2026-07-28 request says of its client: passed to a 2026-07-28 upstream, whose client would write the gateway's. */
const REQUEST_ENVELOPE = new Set([CLIENT_CAPABILITIES_META_KEY, CLIENT_INFO_META_KEY, LOG_LEVEL_META_KEY]);

export function createBridgeServer(options: BridgeOptions): McpServer {
  const { description } = options;
  const capabilities = { ...description.capabilities };
  // The downstream server answers `server/discover` and `initialize` itself from these.
  const server = new McpServer(
    { ...description.serverInfo },
    { capabilities, ...(description.instructions ? { instructions: description.instructions } : {}) },
  );
  const low = server.server;
  const calls = new Set<SdkServerContext>();
  /** The clock of each call in flight (call-clock.ts): a question relayed on a call's stream stops it. */
  const clocks = new Map<SdkServerContext, CallClock>();
  /**
   * Asks the client on `ctx`'s stream: the question is that call's (the one call in flight, which
   * is all the gateway can tie it to), so the call's clock stands still until the answer is back.
   */
  async function askOnCallStream(ctx: SdkServerContext, request: McpRequest, signal: AbortSignal): Promise<unknown> {
    const resume = clocks.get(ctx)?.pause();
    try {
      return await ctx.mcpReq.send(request as { method: 'sampling/createMessage'; params: Record<string, unknown> }, {
        signal,
        timeout: RELAY_ANSWER_TIMEOUT_MS,
      });
    } finally {
      resume?.();
    }
  }
  // The SDK's HTTP entry checks a 2026-07-28 call's SEP-2243 `Mcp-Param-*` headers against the
  // tool's input schema before dispatch, asking the server for it (an @internal hook of McpServer,
  // which knows only the tools registered on it): these are the upstream's.
  server.toolInputSchemaJson = (name) => options.tools.get(name)?.inputSchema;
  let attached: { connection: UpstreamConnection; detach: () => void } | undefined;
  /** What this client subscribed to on a connection it does not own, by URI: the end of each hold. */
  const subscribed = new Map<string, () => Promise<void>>();
  /** Those subscriptions being held again on a new connection (see holdAgain): requests wait for it. */
  let resuming: Promise<void> = Promise.resolve();
  /** Subscriptions go upstream as they are: the client's own connection, in the 2025 era it speaks. */
  const passesSubscriptions = (connection: UpstreamConnection) => options.ownsConnection === true && !connection.modern;
  /** A 2025 session's own connection: what its upstream asks is that session's, between calls too. */
  const sessionsOwn = options.ownsConnection === true && options.era === 'legacy';

  const peer: DownstreamPeer = {
    owns: options.ownsConnection === true,
    toolsChanged: () => whenConnected(() => server.sendToolListChanged()),
    promptsChanged: () => whenConnected(() => server.sendPromptListChanged()),
    resourcesChanged: () => whenConnected(() => server.sendResourceListChanged()),
    resourceUpdated: (uri) => {
      if (!subscribed.has(uri) && !(attached && passesSubscriptions(attached.connection))) return;
      whenConnected(() => void low.sendResourceUpdated({ uri }).catch(() => undefined));
    },
    log: (params) => whenConnected(() => void low.sendLoggingMessage(params).catch(() => undefined)),
    get relay() {
      if (sessionsOwn) return relayToSession;
      if (calls.size === 1) {
        const [ctx] = calls;
        return (request: McpRequest, signal: AbortSignal) => askOnCallStream(ctx!, request, signal);
      }
      return undefined;
    },
  };
  /** Told when a way to the client may have opened (a call began or ended, a GET stream opened). */
  const carrierChanged = new Set<() => void>();
  /** The session ended: nothing will carry it any more. */
  let closed = false;
  const wakeRelays = () => {
    for (const wake of [...carrierChanged]) wake();
  };

  /**
   * The stream a 2025 session's own upstream's request goes on: its one call in flight's, else its
   * GET stream (the roots/list a server sends once told the client's roots changed, or as soon as
   * it is initialized). With several calls in flight, which one asked cannot be told: the GET stream.
   */
  function carrier(): ((request: McpRequest, signal: AbortSignal) => Promise<unknown>) | undefined {
    if (calls.size === 1) {
      const [ctx] = calls;
      return (request, signal) => askOnCallStream(ctx!, request, signal);
    }
    if (server.isConnected() && options.getStream?.open) {
      // Tied to no call: nothing stops for it.
      return (request, signal) =>
        low.request(request as { method: 'roots/list'; params: Record<string, unknown> }, { signal, timeout: RELAY_ANSWER_TIMEOUT_MS });
    }
    return undefined;
  }

  /**
   * Waits (until `grace` aborts) for a stream to carry it: the SDK's transport would drop a request
   * it has no stream for and leave the upstream to its 60 s request timeout.
   */
  async function relayToSession(request: McpRequest, signal: AbortSignal, grace: AbortSignal): Promise<unknown> {
    for (;;) {
      const send = carrier();
      if (send) return send(request, signal);
      if (grace.aborted || closed) break;
      await new Promise<void>((resolve) => {
        const done = () => {
          carrierChanged.delete(done);
          grace.removeEventListener('abort', done);
          stopListening?.();
          resolve();
        };
        carrierChanged.add(done);
        grace.addEventListener('abort', done, { once: true });
        // Called only later, when a stream opens: `done` never runs before this is assigned.
        const stopListening = options.getStream?.onOpen(done);
      });
    }
    throw new ProtocolError(
      JSONRPC.METHOD_NOT_FOUND,
      `${request.method} cannot be forwarded: the session has no call in flight and no GET stream open to carry it to its client`,
    );
  }
  if (options.initial) attached = { connection: options.initial, detach: options.initial.attach(peer) };

  function whenConnected(act: () => void): void {
    if (!server.isConnected()) return;
    try {
      act();
    } catch {
      // A server that did not declare the capability (or is closing) has nothing to send.
    }
  }

  async function connect(): Promise<UpstreamConnection> {
    let connection: UpstreamConnection;
    try {
      connection = await options.connection();
    } catch (error) {
      if (upstreamsOwnError(error)) throw error;
      // The pool's own refusals (every child busy: processes_full; shutting_down) keep their code.
      if (error instanceof GatewayError) throw upstreamError(error.code, error.message);
      throw upstreamError('upstream_unavailable', `${options.describeUpstream} is unavailable: ${messageOf(error)}`);
    }
    if (attached?.connection !== connection) {
      attached?.detach();
      // Subscriptions held on a connection that went away went with it: the client still counts
      // on them, so they are held again on this one before the request goes on.
      const uris = [...subscribed.keys()];
      letGoOfSubscriptions();
      attached = { connection, detach: connection.attach(peer) };
      if (uris.length > 0 && !passesSubscriptions(connection)) resuming = holdAgain(connection, uris);
    }
    // Every request waits for them (and an unsubscribe finds them held), as the first one does.
    await resuming;
    return connection;
  }

  /**
   * Holds a client's subscriptions again on the connection that replaced theirs (a crashed child's
   * restart, a remote session renewed), each URI on its own, so a cap or a refusal costs only the
   * URIs it concerns. Never throws: the request that brought the new connection is not the
   * subscribe's, and those that could not be held are logged.
   */
  async function holdAgain(connection: UpstreamConnection, uris: readonly string[]): Promise<void> {
    const outcomes = await Promise.allSettled(uris.map((uri) => connection.resources.hold([uri])));
    const current = attached?.connection === connection && server.isConnected();
    const failed: unknown[] = [];
    outcomes.forEach((outcome, index) => {
      if (outcome.status === 'rejected') failed.push(outcome.reason);
      else if (!current || subscribed.has(uris[index]!)) void outcome.value();
      else subscribed.set(uris[index]!, outcome.value);
    });
    if (failed.length > 0) {
      options.log?.warn(
        { count: failed.length, of: uris.length, err: messageOf(failed[0]) },
        "a 2025 session's resource subscriptions could not be held again on the new upstream connection; their updates will not reach it",
      );
    }
  }

  function letGoOfSubscriptions(): void {
    for (const release of subscribed.values()) void release();
    subscribed.clear();
  }

  /** `resources/subscribe` on a connection others share (or that speaks 2026-07-28): held, counted with theirs. */
  async function subscribe(request: { method: string; params: { uri: string } }, ctx: SdkServerContext): Promise<unknown> {
    const connection = await connect();
    if (passesSubscriptions(connection)) return forward(request, ctx);
    const { uri } = request.params;
    if (subscribed.has(uri)) return {};
    let release: () => Promise<void>;
    try {
      release = await connection.resources.hold([uri]);
    } catch (error) {
      throw upstreamsOwnError(error) ? error : translate(error, connection, request);
    }
    // The client went away, or the connection did, or a second subscribe to the URI came first.
    if (attached?.connection !== connection || !server.isConnected() || subscribed.has(uri)) void release();
    else subscribed.set(uri, release);
    return {};
  }

  async function unsubscribe(request: { method: string; params: { uri: string } }, ctx: SdkServerContext): Promise<unknown> {
    const connection = await connect();
    if (passesSubscriptions(connection)) return forward(request, ctx);
    const release = subscribed.get(request.params.uri);
    subscribed.delete(request.params.uri);
    await release?.();
    return {};
  }

  async function forward(request: { method: string; params?: Record<string, unknown> }, ctx: SdkServerContext): Promise<unknown> {
    calls.add(ctx);
    wakeRelays();
    const idle = options.busy?.();
    try {
      const result = withoutUpstreamIdentity(await send(request, ctx, true));
      return options.era === 'legacy' && attached?.connection.modern ? withoutModernFields(result) : result;
    } finally {
      idle?.();
      calls.delete(ctx);
      wakeRelays();
    }
  }

  async function send(
    request: { method: string; params?: Record<string, unknown> },
    ctx: SdkServerContext,
    mayRetry: boolean,
  ): Promise<unknown> {
    const connection = await connect();
    const { _meta: meta, ...params } = request.params ?? {};
    const { progressToken, ...rest } = (meta ?? {}) as Record<string, unknown>;
    const modern = options.era === 'modern' && connection.modern;
    const lifted = modern ? liftedWireMaterial(ctx) : { meta: {}, params: {} };
    const passedMeta = {
      ...Object.fromEntries(Object.entries(rest).filter(([key]) => !key.startsWith(ENVELOPE_PREFIX))),
      ...lifted.meta,
    };
    // Refused at once while the upstream is left alone; else the answer, or its absence, is told.
    const told = options.backoff?.pass() ?? ignore;
    const traced = options.trace?.(request, connection.protocolVersion);
    // The gateway's span is the upstream request's parent now (SEP-414).
    if (traced) Object.assign(passedMeta, traced.meta);
    const forwarded = {
      method: request.method,
      params: { ...params, ...lifted.params, ...(Object.keys(passedMeta).length > 0 ? { _meta: passedMeta } : {}) },
    };
    // Progress sent downstream before the answer: the answer ends the request's stream.
    const notified: Array<Promise<void>> = [];
    // The gateway times the request (call-clock.ts): the SDK's own timeout cannot be stopped while
    // the upstream waits on its client, so it is set past any the clock can reach.
    const timeout = options.callTimeout;
    const timed = signalClock(
      timeout,
      ctx.mcpReq.signal,
      () => new SdkError(SdkErrorCode.RequestTimeout, 'Request timed out', { timeout }),
    );
    const { clock } = timed;
    clocks.set(ctx, clock);
    const endClock = () => {
      timed.stop();
      if (clocks.get(ctx) === clock) clocks.delete(ctx);
    };
    try {
      const answer = connection.client.request(forwarded as { method: 'ping' }, {
        signal: timed.signal,
        timeout: MAX_TIMER_MS,
        // The downstream client answers the upstream's questions itself, on its next round.
        ...(modern ? { allowInputRequired: true } : {}),
        ...(progressToken === undefined
          ? {}
          : {
              onprogress: (progress: Progress) => {
                clock.restart();
                notified.push(
                  ctx.mcpReq.notify({ method: 'notifications/progress', params: { ...progress, progressToken } }).catch(() => undefined),
                );
              },
            }),
      });
      const result = await answer.finally(endClock);
      told(ANSWERED);
      traced?.end({ result });
      // Every progress the upstream sent before answering has been handed over (connection.ts).
      if (notified.length > 0) await Promise.all(notified);
      return result;
    } catch (error) {
      endClock();
      if (upstreamsOwnError(error)) {
        told(ANSWERED);
        traced?.end({ error: { code: error.code, message: error.message } });
        throw error;
      }
      const outcome = ctx.mcpReq.signal.aborted ? NEITHER : outcomeOf(error);
      told(outcome);
      const lost = outcome.kind === 'unreachable';
      if (ctx.mcpReq.signal.aborted) {
        // The caller cancelled, or went away mid-call: the client sent the upstream a cancellation.
        traced?.end(undefined, CANCELLED);
        throw error;
      }
      traced?.end(undefined, failureType(error));
      options.onFailure?.(request.method, error);
      // Unanswered for callTimeout: is the upstream still serving at all? (A child is asked.)
      if (error instanceof SdkError && error.code === SdkErrorCode.RequestTimeout) connection.requestTimedOut();
      if (mayRetry && options.renew && sessionForgotten(error)) {
        await options.renew(connection);
        options.onRenewed?.();
        return send(request, ctx, false);
      }
      if (lost && options.retryUnreachable && mayRetry && IDEMPOTENT.has(request.method)) return send(request, ctx, false);
      throw translate(error, connection, request);
    }
  }

  function translate(error: unknown, connection: UpstreamConnection, request: { method: string; params?: Record<string, unknown> }): Error {
    if (error instanceof SdkError && error.code === SdkErrorCode.RequestTimeout) {
      // Worded as a module route's (call-deadline.ts): what went unanswered, and which limit.
      const tool = request.method === 'tools/call' ? request.params?.name : undefined;
      const what = typeof tool === 'string' ? `${request.method} ${JSON.stringify(tool)}` : request.method;
      return upstreamError(
        'upstream_timeout',
        `${options.describeUpstream} did not answer ${what} within ${options.callTimeout / 1000} s (callTimeout)`,
      );
    }
    if (cutTooLarge(error)) {
      // As a command route's child that wrote a line over maxMessageSize (child-process.ts): the
      // remote is not stopped (the next request reaches it as before), only its answer cut.
      return upstreamError('upstream_exited', `${options.describeUpstream} ${error.message} before answering`);
    }
    if (!connection.isOpen || (error instanceof SdkError && error.code === SdkErrorCode.ConnectionClosed)) {
      return upstreamError(
        'upstream_exited',
        `${options.describeUpstream} ${connection.exitDescription()} before answering; the next request starts it again`,
      );
    }
    return upstreamError('upstream_unavailable', `${options.describeUpstream} failed: ${messageOf(error)}`);
  }

  for (const [capability, methods] of Object.entries(FORWARDED)) {
    if (capabilities[capability as keyof typeof capabilities] === undefined) continue;
    for (const method of methods) {
      low.setRequestHandler(method, async (request, ctx) => {
        const result = await forward(request as { method: string; params?: Record<string, unknown> }, ctx);
        if (method === 'tools/list') options.tools.record((result as ListToolsResult).tools);
        if (method === 'tools/call') {
          const name = String((request.params as { name?: unknown }).name);
          return low.projectCallToolResult(result as CallToolResult, options.tools.get(name)?.outputSchema) as never;
        }
        return result as never;
      });
    }
  }
  if (capabilities.resources?.subscribe) {
    low.setRequestHandler('resources/subscribe', (request, ctx) => subscribe(request, ctx) as never);
    low.setRequestHandler('resources/unsubscribe', (request, ctx) => unsubscribe(request, ctx) as never);
  }
  low.setNotificationHandler('notifications/roots/list_changed', () => {
    const connection = attached?.connection;
    // Only the client whose roots they are: a session's own connection (the route's listeners are
    // attached to it too), or one it alone is attached to.
    if (connection?.isOpen && (peer.owns || connection.peers.size === 1))
      void connection.client.sendRootsListChanged().catch(() => undefined);
  });

  const previous = low.onclose;
  low.onclose = () => {
    closed = true;
    wakeRelays();
    letGoOfSubscriptions();
    attached?.detach();
    attached = undefined;
    previous?.();
  };
  return server;
}

/**
 * What the downstream SDK lifted off a 2026-07-28 request before its handler ran, to send on to a
 * 2026-07-28 upstream: the client's envelope (capabilities, info, log level; the upstream client
 * writes the protocol version) and a later round's `inputResponses` and `requestState`, which
 * the upstream sealed and verifies itself.
 */
function liftedWireMaterial(ctx: SdkServerContext): { meta: Record<string, unknown>; params: Record<string, unknown> } {
  const envelope = (ctx.mcpReq.envelope ?? {}) as Record<string, unknown>;
  const state = ctx.mcpReq.requestState<unknown>();
  return {
    meta: Object.fromEntries(Object.entries(envelope).filter(([key]) => REQUEST_ENVELOPE.has(key))),
    params: {
      ...(ctx.mcpReq.inputResponses === undefined ? {} : { inputResponses: ctx.mcpReq.inputResponses }),
      ...(state === undefined ? {} : { requestState: state }),
    },
  };
}

const ANSWERED: RequestOutcome = { kind: 'answered' };
const NEITHER: RequestOutcome = { kind: 'neither' };
const ignore = (): void => undefined;

/**
 * A 2026-07-28 upstream names itself in every result's `_meta` (`io.modelcontextprotocol/serverInfo`).
 * The server a client talks to is the route's: a 2025 client's era has no such key, and a
 * 2026-07-28 client's server stamps its own where the result has none (the SDK keeps one that is
 * there), so the upstream's is taken off both.
 */
function withoutUpstreamIdentity(result: unknown): unknown {
  const meta = (result as { _meta?: unknown } | null)?._meta;
  if (typeof meta !== 'object' || meta === null || !(SERVER_INFO_META_KEY in meta)) return result;
  const kept: Record<string, unknown> = { ...meta };
  delete kept[SERVER_INFO_META_KEY];
  const { _meta: _upstreamMeta, ...fields } = result as Record<string, unknown>;
  return Object.keys(kept).length > 0 ? { ...fields, _meta: kept } : fields;
}

/**
 * What a 2026-07-28 result holds that a 2025 one has no place for: the SEP-2549 caching hints of
 * lists and reads and the result type (which the SDK's client already takes off a complete result).
 * The SDK's server sends a 2025 session's results as the handler returns them, so a 2025 client of
 * a 2026-07-28 upstream would get them: they are taken off here. (A 2026-07-28 client's server
 * writes its own era's, and modern.ts the route's hints on lists.)
 */
const MODERN_RESULT_FIELDS = ['ttlMs', 'cacheScope', 'resultType'] as const;

function withoutModernFields(result: unknown): unknown {
  if (typeof result !== 'object' || result === null || !MODERN_RESULT_FIELDS.some((field) => field in result)) return result;
  const kept: Record<string, unknown> = { ...(result as Record<string, unknown>) };
  for (const field of MODERN_RESULT_FIELDS) delete kept[field];
  return kept;
}

/**
 * What a request to the upstream that threw came to, for the route's backoff: the upstream's
 * JSON-RPC error is an answer; a failure to reach it (a network failure, a 5xx or 429, a response
 * stream that ended without the answer) is none; a
 * timeout, an answer cut at maxMessageSize (the remote was reached, and is not to be left alone for
 * one outsized answer), or its connection closing (which the pool counts once, where it closed), is neither. A
 * request its caller cancelled is neither whatever it threw: the caller says so.
 */
export function outcomeOf(error: unknown): RequestOutcome {
  if (upstreamsOwnError(error)) return ANSWERED;
  return unreachable(error) ? { kind: 'unreachable', error } : NEITHER;
}

/** The request never got an answer from the upstream: a network failure, a 5xx, a stream that ended unanswered; not a timeout. */
function unreachable(error: unknown): boolean {
  if (endedUnanswered(error)) return true;
  if (error instanceof SdkError) {
    // A connection that closed is counted by the pool, once, where it closed: not per call.
    if (error.code === SdkErrorCode.RequestTimeout || error.code === SdkErrorCode.ConnectionClosed) return false;
    const status = (error.data as { status?: unknown } | undefined)?.status;
    return typeof status !== 'number' || status >= 500 || status === 429;
  }
  return error instanceof TypeError; // fetch failed: refused, reset, DNS
}

/** A Streamable HTTP upstream answered 404 for the session id it issued: it has forgotten it. */
function sessionForgotten(error: unknown): boolean {
  return error instanceof SdkError && (error.data as { status?: unknown } | undefined)?.status === 404;
}

export function upstreamError(code: GatewayErrorCode, message: string): ProtocolError {
  return new ProtocolError(JSONRPC.SERVER_ERROR, message, { code });
}

/** An upstream's error page may be megabytes on one line: its words in an error or a log line stop here. */
const MAX_MESSAGE_LENGTH = 300;

/**
 * What a failure says, for an error to the client and the log: its first line, at most
 * {@link MAX_MESSAGE_LENGTH} characters. An answer the SDK's client could not read as JSON-RPC
 * (its schema's error, a JSON dump of issues) is named as such.
 */
export function messageOf(error: unknown): string {
  if (error instanceof Error && error.name === 'ZodError') return 'its answer is not a JSON-RPC message';
  let line = (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
  // Node's fetch says only `fetch failed`; why (ECONNREFUSED, ENOTFOUND, a certificate's
  // CERT_HAS_EXPIRED) is the code of an error in its cause chain.
  // A failure to start in the gateway's own words says why already.
  const code = error instanceof UpstreamStartFailure ? undefined : networkCode(error);
  if (code !== undefined && !line.includes(code)) line = `${line} (${code})`;
  // Node's fetch refusing a URL it will not ask (a port browsers block, such as 6000) gives no code, only a reason.
  else if (code === undefined && line === 'fetch failed' && error instanceof Error && error.cause instanceof Error) {
    line = `${line} (${error.cause.message.split('\n')[0]})`;
  }
  return line.length > MAX_MESSAGE_LENGTH ? `${line.slice(0, MAX_MESSAGE_LENGTH)}…` : line;
}

/** The first system or TLS error code (`ECONNREFUSED`, `UND_ERR_CONNECT_TIMEOUT`) among an error's causes. */
function networkCode(error: unknown): string | undefined {
  for (let cause: unknown = error instanceof Error ? error.cause : undefined, depth = 0; cause instanceof Error && depth < 8; depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(code)) return code;
    cause = cause.cause;
  }
  return undefined;
}
