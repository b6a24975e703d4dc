/**
 * The gateway's telemetry as one value: an {@link Operation} per MCP request and an
 * {@link UpstreamCall} per request a module makes through the cache, counted in the in-process
 * traffic window the status page reads, and, when export is on, made into spans and metric points
 * by an {@link ExportPipeline} (otel-pipeline.ts, loaded only then).
 *
 * With export off (the default) nothing of OpenTelemetry is loaded and an operation costs a clock
 * reading at each end and a few array writes: the status page's numbers. The same classification
 * (mcp-semconv.ts) feeds both, so the page and the exported metrics agree.
 */
import type { BackoffState } from '../backoff-schedule.js';
import {
  contentAttributes,
  describeRequest,
  errorMessageOf,
  errorTypeOf,
  metaTraceContext,
  metricMethod,
  negotiatedVersion,
  outcomeAttributes,
  requestNames,
  type Attributes,
  type Era,
  type Outcome,
  type RequestMessage,
} from './mcp-semconv.js';
import { createTrafficWindow, OTHER_KEY, type GroupTraffic, type TrafficWindowOptions } from './traffic-window.js';
import { describeUpstream, upstreamErrorType, upstreamOrigin, upstreamResponseAttributes, type CacheOutcome } from './upstream-semconv.js';

export type { Era, Outcome, RequestMessage } from './mcp-semconv.js';

/** One MCP request as the gateway received it. */
export interface OperationStart {
  readonly route: string;
  readonly era: Era;
  readonly message: RequestMessage;
  /** A header of the HTTP request that carried the message (lower-case name): `traceparent`, the Functions host's invocation id. */
  readonly header: (name: string) => string | undefined;
  /** The version the request uses; on `initialize` none: the answer says which was negotiated. */
  readonly protocolVersion?: string | undefined;
  /** The session's tag (logger.ts `sessionTag`), never its id. */
  readonly session?: string | undefined;
  /**
   * Whether the client went away before the answer (its HTTP request ended first). An error
   * answer then is the request's cancellation, not a failure: `error.type` is `cancelled`, the span
   * is not marked failed, and the status page counts it apart from errors.
   */
  readonly clientGone?: () => boolean;
}

/** One MCP request in flight. */
export interface Operation {
  /** Runs `fn` in the request's trace context, so upstream requests made meanwhile are its children. */
  run<T>(fn: () => T): T;
  /** The answer the client got; only the first call (of this or {@link cancel}) counts. */
  end(outcome: Outcome): void;
  /**
   * The client cancelled the request (a 2025 `notifications/cancelled`), so no answer will come:
   * counted as cancelled, as when the client went away; a later answer is not counted again.
   */
  cancel(): void;
  /**
   * What was not known when the request came: the session that serves it and the version it
   * speaks (a 2025 request without an `MCP-Protocol-Version` header speaks its session's), for an
   * operation started as the request arrived, before its session was found or opened. A version
   * or session given at the start is kept.
   */
  identify(late: { readonly session?: string | undefined; readonly protocolVersion?: string | undefined }): void;
}

/** One `ctx.fetch` through the upstream cache. */
export interface UpstreamCall {
  /** Trace context headers (`traceparent`, `tracestate`) for the upstream request this call starts; undefined when not tracing. */
  readonly traceHeaders: Readonly<Record<string, string>> | undefined;
  /** The call joined an upstream request already under way (coalesced). */
  joined(): void;
  end(response: Response): void;
  fail(error: unknown): void;
}

/** What the gauges read when metrics are exported. */
export interface GaugeSources {
  /** MCP requests refused for their credentials, by route and reason (auth/refusals.ts). */
  authRefusals(): Iterable<{ readonly route: string; readonly reason: string; readonly count: number }>;
  sessions(): Iterable<{ readonly route: string; readonly era: Era; readonly active: number }>;
  /** The upstream cache's counters and size (cache/upstream-cache.ts `CacheStats`). */
  cache(): Readonly<
    Record<
      'hits' | 'misses' | 'coalesced' | 'staleServed' | 'upstreamErrors' | 'revalidated' | 'bypassed' | 'backedOff' | 'entries' | 'bytes',
      number
    >
  >;
  /** Each upstream host of the cache, with its backoff (cache/upstream-backoff.ts `UpstreamStatus`). */
  upstreams(): Iterable<{ readonly origin: string } & UpstreamBackoffGauge>;
  /**
   * Each `command:` or `url:` route's server, with its backoff (upstreams/pool.ts): what the
   * status page shows as its health.
   */
  routeUpstreams(): Iterable<{ readonly route: string; readonly kind: 'command' | 'url' } & UpstreamBackoffGauge>;
}

/** What the backoff gauges read of one upstream. */
export type UpstreamBackoffGauge = Pick<BackoffState, 'state' | 'consecutiveFailures'>;

export interface Telemetry {
  /** Where spans and metrics go (`otlp`, `azure-monitor`); empty when export is off. */
  readonly exporters: readonly string[];
  operation(start: OperationStart): Operation;
  upstream(method: string, input: string | URL): UpstreamCall;
  /**
   * One request the gateway forwards to a `command:` or `url:` route's server: a CLIENT span named
   * by the MCP conventions, child of the request's SERVER span; undefined when not exporting.
   */
  bridged(message: RequestMessage, context: BridgedContext): BridgedCall | undefined;
  /**
   * A route's servers can make requests of their own (a module took `ctx.fetch`; a bridged route):
   * from now on each request's span follows its asynchronous work, so that their spans are its
   * children. Until some route says so, the span is current only synchronously (context-on-demand.ts).
   */
  carryContext(): void;
  /** Gives the exported gauges their sources; call once. */
  observe(sources: GaugeSources): void;
  /** The last minutes of a route's requests, by method and tool. */
  routeTraffic(route: string): GroupTraffic;
  /** The last minutes of modules' upstream requests, by origin. */
  upstreamTraffic(): GroupTraffic;
  /** Exports what is pending and stops exporting (the drain calls it before the process exits). */
  shutdown(): Promise<void>;
}

/** Where a bridged request goes. */
export interface BridgedContext {
  readonly route: string;
  /** `command` (stdio) or `url` (remote), as `mcp.gateway.upstream`. */
  readonly kind: 'command' | 'url' | 'module';
  /** The remote's URL (never its headers), for `url.full` and `server.address`. */
  readonly url?: URL;
  /** The protocol revision the gateway's client negotiated with the upstream, as `mcp.protocol.version`. */
  readonly protocolVersion?: string | undefined;
  /**
   * When the request was sent (milliseconds since the epoch), for a span made once it is done (the
   * handshake, named for what it came to); else now.
   */
  readonly startTime?: number;
}

/** A forwarded request's span: its trace context goes upstream in `params._meta` (SEP-414). */
export interface BridgedCall {
  readonly meta: Readonly<Record<string, string>>;
  end(outcome: Outcome | undefined, error?: string): void;
}

/** A span the pipeline started for a request. */
export interface ServerSpan {
  run<T>(fn: () => T): T;
  end(attributes: Attributes, error: { readonly message: string | undefined } | undefined): void;
}

export interface ClientSpan {
  readonly headers: Readonly<Record<string, string>>;
  end(attributes: Attributes, error: { readonly message: string | undefined } | undefined): void;
}

/** Where the parent of a request's span comes from: `params._meta` first (SEP-414), else the HTTP request. */
export interface ParentCarriers {
  readonly meta: { readonly traceparent: string; readonly tracestate?: string } | undefined;
  readonly header: (name: string) => string | undefined;
}

/** What telemetry asks of the OpenTelemetry SDK when export is on (otel-pipeline.ts). */
export interface ExportPipeline {
  readonly exporters: readonly string[];
  startServerSpan(name: string, attributes: Attributes, parents: ParentCarriers): ServerSpan;
  startClientSpan(name: string, attributes: Attributes, startTime?: number): ClientSpan;
  /** {@link Telemetry.carryContext}. */
  carryContext(): void;
  /** A point of `mcp.server.operation.duration`. */
  recordOperation(seconds: number, attributes: Attributes): void;
  /** A point of `http.client.request.duration`. */
  recordUpstream(seconds: number, attributes: Attributes): void;
  observe(sources: GaugeSources): void;
  shutdown(): Promise<void>;
}

export interface TelemetryOptions {
  /** Spans and metrics; none (the default): the traffic window only. */
  readonly pipeline?: ExportPipeline;
  /** Tool arguments and results on spans (the opt-in). Default false. */
  readonly captureContent?: boolean;
  /** Monotonic clock in ms, for durations. Default `performance.now`. */
  readonly now?: () => number;
  /** The traffic window's clock and sizes. */
  readonly traffic?: TrafficWindowOptions;
}

/** The header the Functions host adds to each request it forwards to a custom handler. */
export const INVOCATION_ID_HEADER = 'x-ms-invocation-id';
const UPSTREAM_GROUP = '\u0000upstream';
/** `error.type` of a request its client gave up on before the answer. */
export const CANCELLED = 'cancelled';
/** What a request the client cancelled ended with, for the accounting alone: no client sees it. */
const CANCELLED_OUTCOME: Outcome = { error: { code: -32800, message: 'cancelled by the client' } };

/** Distinct client-chosen names (tools, prompts, protocol versions, error codes) kept as metric attributes before new ones are `_OTHER`. */
const MAX_NAMES = 256;
/** Tool names remembered from routes' `tools/list` answers, in all. */
const MAX_LISTED = 1024;

/**
 * Telemetry with the given pipeline, or, with none, the in-process traffic window alone.
 *
 * @example
 * const telemetry = createTelemetry(); // export off: the status page's numbers only
 * const op = telemetry.operation({ route: 'time', era: 'legacy', message, header: () => undefined });
 * op.run(() => handle(message));
 * op.end(answer);
 */
export function createTelemetry(options: TelemetryOptions = {}): Telemetry {
  const { pipeline, captureContent = false } = options;
  const now = options.now ?? (() => performance.now());
  const traffic = createTrafficWindow(options.traffic);
  const names = boundedNames(MAX_NAMES);
  const listed = listedTools(MAX_LISTED);

  function operation(start: OperationStart): Operation {
    const began = now();
    // The span's attributes only when exporting: the status page needs the names alone.
    const full = pipeline
      ? describeRequest(start.message, { route: start.route, era: start.era, protocolVersion: start.protocolVersion })
      : undefined;
    const described = full ?? requestNames(start.message);
    let span: ServerSpan | undefined;
    if (pipeline && full) {
      const attributes = full.attributes;
      if (start.session) attributes['mcp.gateway.session'] = start.session;
      const invocation = start.header(INVOCATION_ID_HEADER);
      if (invocation) attributes['faas.invocation_id'] = invocation.slice(0, 64);
      span = pipeline.startServerSpan(full.spanName, attributes, { meta: metaTraceContext(start.message), header: start.header });
    }
    let ended = false;
    let late: { readonly session?: string | undefined; readonly protocolVersion?: string | undefined } = {};
    const finish = (outcome: Outcome, cancelledByClient: boolean): void => {
      if (ended) return;
      ended = true;
      const ms = now() - began;
      const answered = errorTypeOf(outcome);
      const cancelled = cancelledByClient || (answered !== undefined && start.clientGone?.() === true);
      const errorType = cancelled ? CANCELLED : answered;
      const rpcError = 'error' in outcome;
      if (described.method === 'tools/list') listed.add(start.route, outcome);
      // Client-chosen names become known once the gateway answered them without an error (an
      // unknown tool is -32602), or, for a tool, with a tool error once the route listed it: a
      // server of the SDK 1.x answers a tool it does not have with an isError result. They are
      // the metrics' and the page's keys.
      const target = described.tool ?? described.prompt;
      const admit = !rpcError && (errorType === undefined || (described.tool !== undefined && listed.has(start.route, described.tool)));
      const boundedTarget = target === undefined ? undefined : names(`${start.route}\u0000${target}`, target, admit);
      const method = metricMethod(described.method);
      const negotiated = described.method === 'initialize' ? negotiatedVersion(outcome) : undefined;
      const lateVersion = start.protocolVersion === undefined ? (late.protocolVersion ?? negotiated) : undefined;
      const version = start.protocolVersion ?? lateVersion;
      traffic.record(
        start.route,
        boundedTarget === undefined ? method : `${method} ${boundedTarget}`,
        // A cancelled request is neither an error nor a latency of the server's.
        cancelled ? { tag: CANCELLED } : { ms, error: errorType !== undefined, ...(errorType === undefined ? {} : { tag: errorType }) },
      );
      if (!pipeline) return;
      const result: Attributes = cancelled ? { 'error.type': CANCELLED } : outcomeAttributes(outcome, errorType);
      if (lateVersion !== undefined) result['mcp.protocol.version'] = lateVersion;
      if (late.session !== undefined && !start.session) result['mcp.gateway.session'] = late.session;
      span?.end(
        captureContent ? { ...result, ...contentAttributes(start.message, outcome) } : result,
        errorType === undefined || cancelled ? undefined : { message: errorMessageOf(outcome) },
      );
      // Few attributes: the SDK hashes them on every point (network.* would be the same on all).
      const point: Attributes = { 'mcp.method.name': method, 'mcp.gateway.route': start.route, 'mcp.gateway.era': start.era };
      if (described.tool !== undefined) {
        point['gen_ai.tool.name'] = boundedTarget!;
        point['gen_ai.operation.name'] = 'execute_tool';
      }
      if (described.prompt !== undefined) point['gen_ai.prompt.name'] = boundedTarget!;
      if (version) point['mcp.protocol.version'] = names(`\u0000version\u0000${version}`, version, !rpcError);
      if (errorType !== undefined) {
        point['error.type'] = names(`\u0000error\u0000${errorType}`, errorType, true);
        if (rpcError && !cancelled) point['rpc.response.status_code'] = point['error.type'];
      }
      pipeline.recordOperation(ms / 1000, point);
    };
    return {
      run: span ? (fn) => span.run(fn) : (fn) => fn(),
      end: (outcome) => finish(outcome, false),
      cancel: () => finish(CANCELLED_OUTCOME, true),
      identify(more) {
        late = more;
      },
    };
  }

  function upstream(method: string, input: string | URL): UpstreamCall {
    const began = now();
    // The span's name and attributes (a redacted URL) only when exporting: the status page needs the origin alone.
    const described = pipeline ? describeUpstream(method, input) : undefined;
    const origin = described ? described.origin : upstreamOrigin(input);
    const span = described && pipeline?.startClientSpan(described.spanName, described.attributes);
    let coalesced = false;
    let ended = false;
    const finish = (status: number | undefined, cache: CacheOutcome | undefined, errorType: string | undefined) => {
      if (ended) return;
      ended = true;
      const ms = now() - began;
      // Only answers that went to the network say how the upstream is doing.
      const networked = cache === 'miss' || cache === 'revalidated' || cache === 'bypass' || status === undefined;
      traffic.record(UPSTREAM_GROUP, origin ?? OTHER_KEY, {
        ...(networked ? { ms } : {}),
        error: errorType !== undefined || cache === 'backoff',
        tag: cache ?? 'failed',
      });
      if (!pipeline || !described) return;
      const attributes =
        status === undefined
          ? { 'error.type': errorType! }
          : upstreamResponseAttributes(status, cache, coalesced && (cache === 'miss' || cache === 'revalidated'));
      span?.end(attributes, errorType === undefined ? undefined : { message: errorType });
      if (networked && !coalesced) {
        const point: Attributes = { 'http.request.method': described.spanName, ...attributes };
        delete point['mcp.gateway.cache.coalesced'];
        if (described.attributes['server.address'] !== undefined) {
          point['server.address'] = described.attributes['server.address'];
          point['server.port'] = described.attributes['server.port']!;
        }
        pipeline.recordUpstream(ms / 1000, point);
      }
    };
    return {
      traceHeaders: span?.headers,
      joined() {
        coalesced = true;
      },
      end(response) {
        const cache = response.headers.get('x-gateway-cache');
        finish(response.status, isCacheOutcome(cache) ? cache : undefined, response.status >= 500 ? String(response.status) : undefined);
      },
      fail(error) {
        finish(undefined, undefined, upstreamErrorType(error));
      },
    };
  }

  function bridged(message: RequestMessage, context: BridgedContext): BridgedCall | undefined {
    if (!pipeline) return undefined;
    const described = describeRequest(message, { route: context.route, era: 'legacy', protocolVersion: context.protocolVersion });
    const attributes: Attributes = { ...described.attributes, 'mcp.gateway.upstream': context.kind };
    // The downstream era says nothing of the upstream request, nor does HTTP for a stdio child.
    delete attributes['mcp.gateway.era'];
    delete attributes['jsonrpc.request.id'];
    if (context.kind === 'url' && context.url) {
      attributes['url.full'] = `${context.url.origin}${context.url.pathname}`;
      attributes['server.address'] = context.url.hostname;
    } else {
      attributes['network.transport'] = 'pipe';
      delete attributes['network.protocol.name'];
    }
    const span = pipeline.startClientSpan(described.spanName, attributes, context.startTime);
    return {
      meta: span.headers,
      end(outcome, error) {
        const errorType = error ?? (outcome ? errorTypeOf(outcome) : undefined);
        span.end(
          outcome ? outcomeAttributes(outcome, errorType) : error ? { 'error.type': error } : {},
          // A call its caller cancelled is no failure of the upstream, as on the SERVER span.
          errorType && errorType !== CANCELLED ? { message: errorType } : undefined,
        );
      },
    };
  }

  return {
    exporters: pipeline?.exporters ?? [],
    operation,
    upstream,
    bridged,
    carryContext() {
      pipeline?.carryContext();
    },
    observe(sources) {
      pipeline?.observe(sources);
    },
    routeTraffic: (route) => traffic.group(route),
    upstreamTraffic: () => traffic.group(UPSTREAM_GROUP),
    shutdown: async () => {
      await pipeline?.shutdown();
    },
  };
}

/**
 * A bounded set of names clients choose: a name is kept once `admit` says so (it was answered
 * without a protocol error), up to `limit` names; any other is `_OTHER`.
 */
function boundedNames(limit: number): (key: string, name: string, admit: boolean) => string {
  const known = new Set<string>();
  return (key, name, admit) => {
    if (known.has(key)) return name;
    if (!admit || known.size >= limit) return OTHER_KEY;
    known.add(key);
    return name;
  };
}

/** The tools each route's `tools/list` answers named (as the client saw them, so never a filtered one), up to `limit`. */
function listedTools(limit: number) {
  const known = new Set<string>();
  return {
    add(route: string, outcome: Outcome): void {
      if (!('result' in outcome)) return;
      const tools = (outcome.result as { tools?: unknown } | null)?.tools;
      if (!Array.isArray(tools)) return;
      for (const tool of tools as Array<{ name?: unknown } | null>) {
        if (known.size >= limit) return;
        if (typeof tool?.name === 'string')
          known.add(`${route}\u0000${requestNames({ method: 'tools/call', params: { name: tool.name } }).tool!}`);
      }
    },
    has: (route: string, tool: string) => known.has(`${route}\u0000${tool}`),
  };
}

function isCacheOutcome(value: string | null): value is CacheOutcome {
  return value === 'hit' || value === 'miss' || value === 'revalidated' || value === 'stale' || value === 'bypass' || value === 'backoff';
}
