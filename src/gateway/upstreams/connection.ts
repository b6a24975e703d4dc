/**
 * One live connection to an upstream MCP server (a stdio child, or a remote URL), through the
 * SDK's own `Client`, and the downstream servers it feeds.
 *
 * The client negotiates the upstream's era itself (`versionNegotiation: auto`: `server/discover`
 * first, the 2025 `initialize` when the server does not know it), except on a 2025 session's own
 * connection, which speaks 2025 upstream too (`legacy`): what that era has and 2026-07-28 does not
 * (`logging/setLevel`, `resources/subscribe`, server-to-client requests) then reaches a server
 * that serves both eras. What the upstream sends on its
 * own goes to the downstream servers attached to this connection ({@link DownstreamPeer}):
 * list changes and resource updates to all of them (each passes on the updates of what its
 * clients subscribed to; the subscriptions are counted for everyone who shares the connection, in
 * resource-subscriptions.ts), log messages and server-to-client requests
 * (sampling, elicitation, roots) only where they have exactly one owner: the 2025 session whose
 * own connection it is, or else the one peer with a call in flight. Anything else would hand one
 * client another client's question.
 */
import {
  Client,
  ProtocolError,
  ProtocolErrorCode,
  SdkError,
  SdkErrorCode,
  type McpSubscription,
  type Transport,
} from '@modelcontextprotocol/client';
import type {
  ClientCapabilities,
  Implementation,
  LoggingMessageNotification,
  Request as McpRequest,
  ServerCapabilities,
} from '@modelcontextprotocol/server';
import type { BackoffSettings } from '../backoff-schedule.js';
import { capForLog, levelOfMcp, type Logger } from '../logger.js';
import { FIRST_MODERN_VERSION } from '../protocol/versions.js';
import { ListenReopening, ListenStreams } from './listen-reopening.js';
import { createLogBudget, type LogBudget } from './log-budget.js';
import { ResourceSubscriptions } from './resource-subscriptions.js';
import type { BridgedCall } from '../telemetry/telemetry.js';
import { failureType, upstreamsOwnError } from './unanswered-streams.js';

/** What a downstream server exposes to the connection feeding it. */
export interface DownstreamPeer {
  toolsChanged(): void;
  promptsChanged(): void;
  resourcesChanged(): void;
  resourceUpdated(uri: string): void;
  log(params: LoggingMessageNotification['params']): void;
  /**
   * Sends a server-to-client request to the peer's client: on the stream of its call in flight,
   * or (a 2025 session's own connection) on its GET stream. `grace` aborts when the request has
   * waited long enough for a stream to carry it ({@link RELAY_GRACE_MS}).
   */
  readonly relay: ((request: McpRequest, signal: AbortSignal, grace: AbortSignal) => Promise<unknown>) | undefined;
  /**
   * The connection is this peer's alone (a 2025 session's own): what the upstream says or asks on
   * its own is its, with or without a call in flight. (The route's listeners are attached too.)
   */
  readonly owns?: boolean;
}

/** What the upstream said about itself when it connected. */
export interface UpstreamDescription {
  readonly capabilities: ServerCapabilities;
  readonly serverInfo: Implementation;
  readonly instructions: string | undefined;
  /** The protocol revision the client negotiated with it. */
  readonly protocolVersion: string | undefined;
}

export interface ConnectOptions {
  readonly transport: Transport;
  /** Declared to the upstream: what the downstream client declared, when the connection is its own. */
  readonly capabilities: ClientCapabilities;
  readonly clientInfo: Implementation;
  /** `legacy`: the 2025 `initialize` handshake only; `auto`: 2026-07-28 when the upstream speaks it. */
  readonly negotiation: 'legacy' | 'auto';
  /** Skip the handshake: a 2025 session the upstream already knows (a resumed remote session). */
  readonly resumed: boolean;
  /** How long the upstream has to answer the connection's own requests: initialize, subscriptions, listen streams. */
  readonly timeout: number;
  /** The gateway.yaml setting `timeout` is (`startTimeout`), named when it runs out; none for a fixed one. */
  readonly timeoutSetting?: string;
  /**
   * The route's `cache.backoff` and clock: when a `subscriptions/listen` stream a 2026-07-28
   * upstream ended is opened again (listen-reopening.ts).
   */
  readonly backoff: BackoffSettings;
  /** The route's counts of the listen streams its connections keep upstream (`upstream.listenStreams`); else this connection's own. */
  readonly listenStreams?: ListenStreams;
  readonly logger: Logger;
  /** The process behind the connection (a `command:` route's child), named in its log lines; none for a remote. */
  readonly pid?: () => number | undefined;
  /** How the upstream went away, for errors: `exited with code 1`. */
  readonly describeEnd?: () => string;
  /**
   * The connection is one 2025 session's own: it declares what that client declared. Else it is
   * shared (a caller's 2026-07-28 requests, a principal or shared route) and declares nothing.
   * Says why a server-to-client request it did not declare cannot be forwarded.
   */
  readonly ownedBySession: boolean;
  /**
   * Called once when the gateway closes the connection (not when the upstream goes away), before
   * its transport closes: a url route ends there an upstream session it no longer uses.
   */
  readonly onClose?: () => void;
  /**
   * A `command:` route's child, asked a `ping` when a request forwarded to it went unanswered for
   * `callTimeout` ({@link UpstreamConnection.requestTimedOut}): `stop` once it has not answered
   * that within `timeout` (it is hung). None for a remote: every request reaches it anew.
   */
  readonly liveness?: { readonly timeout: number; readonly stop: () => void };
  /** Makes the CLIENT span of the handshake, once it is done (telemetry on; not for a resumed connection, which sends none). */
  readonly trace?: UpstreamTrace;
}

/**
 * Starts the CLIENT span of a request to an upstream (telemetry on): `startTime` when the span is
 * made once the request is done, its name known only then.
 */
export type UpstreamTrace = (
  message: { readonly method: string; readonly params?: unknown },
  protocolVersion: string | undefined,
  startTime?: number,
) => BridgedCall | undefined;

/**
 * How long a server-to-client request waits for a way to its client: the session's bridge to be
 * attached (a child asks as soon as it is initialized, before the session's first request is
 * answered), then a call in flight or the session's GET stream (which the client opens just after
 * initializing, and again after a reconnect). Then it is refused with -32601, never left to the
 * SDK's 60 s request timeout.
 */
export const RELAY_GRACE_MS = 3000;

/** How the SDK's Protocol words an answer it has no request for (it has no code for it). */
const UNKNOWN_ANSWER = 'Received a response for an unknown message ID: ';
const UNKNOWN_ANSWER_LOGGED = 'upstream answered no request the gateway is waiting for (an id it never sent, or a second answer); dropped';

/** Longest piece of an upstream log message's `data` that reaches the gateway's log. */
const LOGGED_DATA_CHARS = 1000;

/**
 * How long a server-to-client request relayed to the gateway's client may wait for its answer:
 * a human's (elicitation) or an LLM's (sampling), so far more than the SDK's default 60 s. The
 * upstream's own wait usually ends it first (the SDK's servers give up after 60 s unless told
 * otherwise, and the gateway then withdraws the question from its client), as do the client's
 * answer, its error, a cancelled call and a closed session; this bounds what none of them ends.
 * While it waits, the call it was relayed for is not timed (call-clock.ts).
 */
export const RELAY_ANSWER_TIMEOUT_MS = 10 * 60_000;

const SERVER_TO_CLIENT = ['sampling/createMessage', 'elicitation/create', 'roots/list'] as const;
const CAPABILITY_OF: Record<(typeof SERVER_TO_CLIENT)[number], keyof ClientCapabilities> = {
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
  'roots/list': 'roots',
};

/**
 * A connection that could not be opened, in the gateway's own words: its message says why, and is
 * quoted as it is (no error code of its causes added: `exited with code 3`, not `… (EPIPE)`).
 */
export class UpstreamStartFailure extends Error {
  override readonly name: string = 'UpstreamStartFailure';
}

/**
 * A connection that could not be opened, with how in a few words safe for the status page
 * (`exited with code 1`): the message may name the command or the URL, the reason never does.
 */
export class UpstreamOpenError extends UpstreamStartFailure {
  override readonly name = 'UpstreamOpenError';

  constructor(
    message: string,
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export class UpstreamConnection {
  readonly peers = new Set<DownstreamPeer>();
  /** Resolves when the upstream went away (or was closed). */
  readonly closed: Promise<void>;
  private markClosed!: () => void;
  private ended = false;
  private subscriptions: ResourceSubscriptions | undefined;
  private listChanges: ListenReopening | undefined;
  /** Server-to-client requests waiting for their session's peer to be attached. */
  private readonly awaitingOwner = new Set<() => void>();
  /** The upstream's log messages that no client takes, and the gateway logs: within a budget (log-budget.ts). */
  private readonly logBudget: LogBudget;
  /** Its warnings of answers to no request: a server that writes them in a loop floods the log as surely. */
  private readonly strayAnswerBudget: LogBudget;
  /** A liveness ping is out ({@link requestTimedOut}): one at a time. */
  private pinging = false;

  private constructor(
    readonly client: Client,
    readonly transport: Transport,
    private readonly log: Logger,
    private readonly describeEnd: (() => string) | undefined,
    private readonly timeout: number,
    private readonly timeoutSetting: string | undefined,
    private readonly backoff: BackoffSettings,
    private readonly listenStreams: ListenStreams,
    private onClose: (() => void) | undefined,
    private readonly pid: (() => number | undefined) | undefined,
    private readonly liveness: ConnectOptions['liveness'],
  ) {
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
    const budget = (message: string) =>
      createLogBudget({ onDropped: (dropped) => this.log.warn({ ...this.pidField(), dropped }, message) });
    this.logBudget = budget('upstream log messages dropped (log budget)');
    this.strayAnswerBudget = budget('upstream answers to no request dropped (log budget)');
  }

  private pidField(): { pid?: number } {
    const pid = this.pid?.();
    return pid === undefined ? {} : { pid };
  }

  get isOpen(): boolean {
    return !this.ended;
  }

  /** The protocol revision the client negotiated with the upstream on this connection. */
  get protocolVersion(): string | undefined {
    return this.client.getNegotiatedProtocolVersion();
  }

  /** Whether the upstream speaks 2026-07-28 on this connection. */
  get modern(): boolean {
    return (this.client.getNegotiatedProtocolVersion() ?? '') >= FIRST_MODERN_VERSION;
  }

  static async open(options: ConnectOptions): Promise<UpstreamConnection> {
    const client = new Client(options.clientInfo, {
      capabilities: options.capabilities,
      versionNegotiation: { mode: options.negotiation },
    });
    const connection = new UpstreamConnection(
      client,
      options.transport,
      options.logger,
      options.describeEnd,
      options.timeout,
      options.timeoutSetting,
      options.backoff,
      options.listenStreams ?? new ListenStreams(),
      options.onClose,
      options.pid,
      options.liveness,
    );
    connection.wire(options.capabilities, options.ownedBySession);
    client.onclose = () => connection.end();
    client.onerror = (error) => {
      // The SDK drops an answer to an id it has no request for (one it never sent, a second answer,
      // one after the call timed out) and says so only here, in an error whose message holds the
      // whole answer: a server that answers the wrong request is worth a warning, at a bounded size.
      if (error.message.startsWith(UNKNOWN_ANSWER)) {
        if (connection.strayAnswerBudget.take()) {
          options.logger.warn(
            { ...connection.pidField(), answer: capForLog(error.message.slice(UNKNOWN_ANSWER.length), 1000) },
            UNKNOWN_ANSWER_LOGGED,
          );
        }
      } else options.logger.debug({ err: error }, 'upstream connection error');
    };
    const traced =
      options.trace && !options.resumed ? { trace: options.trace, began: performance.timeOrigin + performance.now() } : undefined;
    try {
      await client.connect(options.transport, {
        timeout: options.timeout,
        ...(options.resumed ? { prior: { kind: 'legacy' as const } } : {}),
      });
    } catch (error) {
      if (traced)
        traceHandshake(traced.trace, traced.began, options.negotiation === 'legacy' ? 'initialize' : 'server/discover', undefined, error);
      throw error;
    }
    if (traced)
      traceHandshake(traced.trace, traced.began, connection.modern ? 'server/discover' : 'initialize', connection.protocolVersion);
    answerAfterNotifications(options.transport);
    if (connection.modern) await connection.listenForListChanges(options.timeout);
    return connection;
  }

  /** The resources this connection is subscribed to upstream, counted for everyone who shares it. */
  get resources(): ResourceSubscriptions {
    this.subscriptions ??= new ResourceSubscriptions(this.client, {
      modern: this.modern,
      timeout: this.timeout,
      ...(this.timeoutSetting ? { timeoutSetting: this.timeoutSetting } : {}),
      log: this.log,
      backoff: this.backoff,
      counts: this.listenStreams,
    });
    return this.subscriptions;
  }

  describe(): UpstreamDescription {
    return {
      capabilities: this.client.getServerCapabilities() ?? {},
      serverInfo: this.client.getServerVersion() ?? { name: 'upstream', version: '0' },
      instructions: this.client.getInstructions(),
      protocolVersion: this.client.getNegotiatedProtocolVersion(),
    };
  }

  /**
   * A request forwarded on this connection went unanswered for `callTimeout`. A tool may take
   * that long, but a child that has stopped serving (deadlocked, no longer reading its stdin, a
   * loop that never yields) would leave every later call of its holders (on a `shared` route, of
   * everyone) to time out too, and nothing else would replace it while requests keep it in use.
   * So it is asked a `ping`, which a server answers beside any tool it runs (an error answer
   * counts: it is reading), and stopped when it answers nothing within the liveness timeout:
   * its calls fail then, and the next request starts a new child.
   */
  requestTimedOut(): void {
    const liveness = this.liveness;
    if (!liveness || this.ended || this.pinging) return;
    this.pinging = true;
    this.client
      .ping({ timeout: liveness.timeout })
      .then(
        () => undefined,
        (error: unknown) => {
          if (!this.ended && error instanceof SdkError && error.code === SdkErrorCode.RequestTimeout) liveness.stop();
        },
      )
      .finally(() => (this.pinging = false));
  }

  /** How the upstream went away (or that it is still there). */
  exitDescription(): string {
    return this.describeEnd?.() ?? 'closed the connection';
  }

  /**
   * A 2026-07-28 upstream sends list changes only on a `subscriptions/listen` stream: one per
   * connection, for the lists it says change, so they reach the peers as 2025 ones do. Opened
   * again when the upstream ends it while the connection stays up (listen-reopening.ts).
   */
  private async listenForListChanges(timeout: number): Promise<void> {
    const capabilities = this.client.getServerCapabilities() ?? {};
    const filter = {
      ...(capabilities.tools?.listChanged ? { toolsListChanged: true } : {}),
      ...(capabilities.prompts?.listChanged ? { promptsListChanged: true } : {}),
      ...(capabilities.resources?.listChanged ? { resourcesListChanged: true } : {}),
    };
    if (Object.keys(filter).length === 0) return;
    const reopening = new ListenReopening({
      backoff: this.backoff,
      carries: 'list changes',
      counts: this.listenStreams,
      log: this.log,
      reopen: async () => {
        if (this.ended) return true;
        try {
          keep(await this.client.listen(filter, { timeout }));
          return true;
        } catch (error) {
          this.log.debug({ err: error }, 'the upstream refused subscriptions/listen for list changes');
          return false;
        }
      },
    });
    const keep = (stream: McpSubscription) => {
      this.listenStreams.track(stream);
      const ended = reopening.opened();
      void stream.closed.then((how) => {
        if (how !== 'local' && !this.ended) ended(how);
      });
    };
    try {
      keep(await this.client.listen(filter, { timeout }));
      this.listChanges = reopening;
    } catch (error) {
      this.log.warn({ err: error }, 'the upstream refused subscriptions/listen; its list changes will not reach clients');
    }
  }

  attach(peer: DownstreamPeer): () => void {
    this.peers.add(peer);
    for (const wake of [...this.awaitingOwner]) wake();
    return () => this.peers.delete(peer);
  }

  async close(): Promise<void> {
    const onClose = this.onClose;
    this.onClose = undefined;
    onClose?.();
    await this.client.close().catch(() => undefined);
    await this.transport.close().catch(() => undefined);
    this.end();
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.subscriptions?.close();
    this.listChanges?.stop();
    this.logBudget.end();
    this.strayAnswerBudget.end();
    for (const wake of [...this.awaitingOwner]) wake();
    this.markClosed();
  }

  private wire(capabilities: ClientCapabilities, ownedBySession: boolean): void {
    const each = (act: (peer: DownstreamPeer) => void) => () => {
      for (const peer of this.peers) act(peer);
    };
    this.client.setNotificationHandler(
      'notifications/tools/list_changed',
      each((peer) => peer.toolsChanged()),
    );
    this.client.setNotificationHandler(
      'notifications/prompts/list_changed',
      each((peer) => peer.promptsChanged()),
    );
    this.client.setNotificationHandler(
      'notifications/resources/list_changed',
      each((peer) => peer.resourcesChanged()),
    );
    this.client.setNotificationHandler('notifications/resources/updated', (notification) => {
      for (const peer of this.peers) peer.resourceUpdated(notification.params.uri);
    });
    this.client.setNotificationHandler('notifications/message', (notification) => {
      const owner = this.soleOwner(false);
      if (owner) owner.log(notification.params);
      else if (this.logBudget.take())
        this.log[levelOfMcp(notification.params.level)](
          { ...this.pidField(), upstreamLog: loggedMessage(notification.params) },
          'upstream log message',
        );
    });
    for (const method of SERVER_TO_CLIENT) {
      // The client only takes handlers for what it declared, and declares what the downstream did.
      if (capabilities[CAPABILITY_OF[method]] === undefined) continue;
      this.client.setRequestHandler(method, async (request, ctx) => {
        const grace = AbortSignal.any([ctx.mcpReq.signal, AbortSignal.timeout(RELAY_GRACE_MS)]);
        const owner = this.soleOwner(true) ?? (await this.ownerAttached(grace));
        if (!owner?.relay) {
          throw new ProtocolError(
            ProtocolErrorCode.MethodNotFound,
            `${method} cannot be forwarded: no single client of the gateway has a call in flight on this server to ask`,
          );
        }
        return (await owner.relay({ method, params: request.params }, ctx.mcpReq.signal, grace)) as never;
      });
    }
    // What it did not declare, the SDK would refuse with a bare `Method not found`: say why.
    this.client.fallbackRequestHandler = async (request) => {
      const method = request.method as (typeof SERVER_TO_CLIENT)[number];
      if (!SERVER_TO_CLIENT.includes(method)) throw new ProtocolError(ProtocolErrorCode.MethodNotFound, 'Method not found');
      const capability = CAPABILITY_OF[method];
      throw new ProtocolError(
        ProtocolErrorCode.MethodNotFound,
        ownedBySession
          ? `${method} cannot be forwarded: the session's client did not declare the ${capability} capability`
          : `${method} cannot be forwarded: this connection to the server is shared (by a caller's 2026-07-28 requests, whose era has no such requests, or by the sessions of a principal or shared route), so the gateway declared no ${capability} capability on it`,
      );
    };
  }

  /** The peer a server-to-client request belongs to, once attached (the session's bridge attaches as its server is built). */
  private async ownerAttached(grace: AbortSignal): Promise<DownstreamPeer | undefined> {
    while (!grace.aborted && this.isOpen) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.awaitingOwner.delete(done);
          grace.removeEventListener('abort', done);
          resolve();
        };
        this.awaitingOwner.add(done);
        grace.addEventListener('abort', done, { once: true });
      });
      const owner = this.soleOwner(true);
      if (owner) return owner;
    }
    return undefined;
  }

  /** The one peer a message belongs to: the one that owns the connection, the only one attached, or the only one with a call in flight. */
  private soleOwner(needsRelay: boolean): DownstreamPeer | undefined {
    for (const peer of this.peers) if (peer.owns) return !needsRelay || peer.relay ? peer : undefined;
    if (this.peers.size === 1) {
      const [only] = this.peers;
      return !needsRelay || only!.relay ? only : undefined;
    }
    let found: DownstreamPeer | undefined;
    for (const peer of this.peers) {
      if (!peer.relay) continue;
      if (found) return undefined;
      found = peer;
    }
    return found;
  }
}

/**
 * What the gateway's log keeps of an upstream log message: its MCP level and logger, and its `data`
 * as text (an object as JSON) cut at {@link LOGGED_DATA_CHARS}, as a child's stderr lines are.
 */
function loggedMessage({ level, logger, data }: LoggingMessageNotification['params']): Record<string, unknown> {
  const text = typeof data === 'string' ? data : (JSON.stringify(data) ?? String(data));
  return { level, ...(logger === undefined ? {} : { logger }), data: capForLog(text, LOGGED_DATA_CHARS) };
}

/**
 * Whether a failed connect was the upstream refusing the protocol version it was offered (-32022):
 * a 2026-07-28-only server answering the 2025 `initialize`, with a JSON-RPC error on stdio, in the
 * body of an HTTP 400 on Streamable HTTP.
 */
export function refusedProtocolVersion(error: unknown): boolean {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    if (cause instanceof ProtocolError) return cause.code === ProtocolErrorCode.UnsupportedProtocolVersion;
    const body = cause instanceof SdkError ? (cause.data as { text?: unknown } | undefined)?.text : undefined;
    if (typeof body === 'string') {
      try {
        return (JSON.parse(body) as { error?: { code?: unknown } }).error?.code === ProtocolErrorCode.UnsupportedProtocolVersion;
      } catch {
        return false;
      }
    }
  }
  return false;
}

/**
 * The SDK's `Protocol` dispatches an inbound notification a microtask later, but a response at
 * once, and forgets the request's progress handler with its response: a server's last progress
 * notification, written just before its answer and read in the same chunk, is dropped as "unknown
 * token". Delivering each response one microtask later keeps the server's order.
 */
function answerAfterNotifications(transport: Transport): void {
  const deliver = transport.onmessage;
  if (!deliver) return;
  transport.onmessage = (message, extra) => {
    if ('method' in message) deliver(message, extra);
    else queueMicrotask(() => deliver(message, extra));
  };
}

/**
 * The CLIENT span of a connection's handshake, made once it is done: named for the request that
 * opened the connection, `server/discover` for a 2026-07-28 upstream (or a probe that failed),
 * else `initialize` (after a probe the upstream did not know, too).
 */
function traceHandshake(trace: UpstreamTrace, began: number, method: string, protocolVersion: string | undefined, error?: unknown): void {
  const span = trace({ method }, protocolVersion, began);
  if (!span) return;
  if (error === undefined) span.end({ result: {} });
  else if (upstreamsOwnError(error)) span.end({ error: { code: error.code, message: error.message } });
  else span.end(undefined, failureType(error));
}
