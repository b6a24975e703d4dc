/**
 * The OpenTelemetry SDK, set up for the gateway when export is on (and loaded only then): one
 * tracer provider and one meter provider, each with a processor or reader per destination (an
 * OTLP collector, Azure Monitor, or both), and the W3C trace context propagator.
 *
 * The spans are the gateway's own (telemetry.ts says what they hold): no module is patched, so
 * nothing here depends on being loaded before other modules. The context manager carries a
 * request's span into the module's tool handler, so that the upstream requests it makes through
 * the cache (and a bridged route's forwarded requests) are its children: AsyncLocalStorage, from
 * the first route that can make such requests on (context-on-demand.ts). What the SDK reads from the
 * environment itself, it reads: the OTLP endpoint, headers, timeout and compression variables,
 * `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER(_ARG)`, `OTEL_BSP_*`.
 */
import {
  context,
  diag,
  DiagLogLevel,
  metrics,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Link,
  type TextMapGetter,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Logger } from '../logger.js';
import { OnDemandContextManager } from './context-on-demand.js';
import type { Attributes } from './mcp-semconv.js';
import type { ExportPipeline, GaugeSources, ParentCarriers, UpstreamBackoffGauge } from './telemetry.js';
import type { OtlpProtocol, TelemetrySettings } from './telemetry-settings.js';

export interface OtelPipelineOptions {
  /** Where diagnostics of the SDK itself (an export that failed) go, at warn. */
  readonly logger: Logger;
  readonly serviceVersion: string;
  /**
   * Registers the providers, context manager and propagator as OpenTelemetry's globals, for any
   * library that reports through `@opentelemetry/api`. The entry point does; tests need not.
   */
  readonly register?: boolean;
  /** Read for the resource (Azure's instance and site names) and by Azure Monitor's exporter. */
  readonly env: NodeJS.ProcessEnv;
}

/** `mcp.server.operation.duration`'s buckets, as the MCP conventions advise. */
const OPERATION_BUCKETS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300];
/** `http.client.request.duration`'s, as the HTTP conventions advise. */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
const SCOPE = 'mcp-gateway';

type EnabledSettings = Extract<TelemetrySettings, { enabled: true }>;

export async function createOtelPipeline(settings: EnabledSettings, options: OtelPipelineOptions): Promise<ExportPipeline> {
  const { logger, env } = options;
  diag.setLogger(diagnostics(logger), DiagLogLevel.WARN);

  const spanExporters: Array<[string, SpanExporter]> = [];
  const metricExporters: Array<[string, PushMetricExporter]> = [];
  if (settings.otlp?.traces) spanExporters.push(['otlp', await otlpSpanExporter(settings.otlp.traces)]);
  if (settings.otlp?.metrics) metricExporters.push(['otlp', await otlpMetricExporter(settings.otlp.metrics)]);
  if (settings.azureMonitor) {
    const { createAzureMonitorExporters } = await import('./azure-monitor.js');
    const azure = await createAzureMonitorExporters(settings.azureMonitor, env);
    if (azure.traces) spanExporters.push(['azure-monitor', azure.traces]);
    if (azure.metrics) metricExporters.push(['azure-monitor', azure.metrics]);
  }

  const resource = defaultResource()
    .merge(resourceFromAttributes({ 'service.name': SCOPE, 'service.version': options.serviceVersion, ...azureResource(env) }))
    .merge(detectResources({ detectors: [envDetector] }));
  const tracerProvider = new BasicTracerProvider({
    resource,
    spanProcessors: spanExporters.map(([, exporter]) => new BatchSpanProcessor(exporter)),
  });
  const meterProvider = new MeterProvider({
    resource,
    readers: metricExporters.map(
      ([, exporter]) =>
        new PeriodicExportingMetricReader({
          exporter,
          exportIntervalMillis: settings.metricExportIntervalMs,
          exportTimeoutMillis: Math.min(settings.metricExportTimeoutMs, settings.metricExportIntervalMs),
        }),
    ),
  });
  // Synchronous until a route needs a request's span to follow it through awaits (context-on-demand.ts).
  const contextManager = new OnDemandContextManager().enable();
  const propagator = new W3CTraceContextPropagator();
  if (options.register) {
    context.setGlobalContextManager(contextManager);
    propagation.setGlobalPropagator(propagator);
    trace.setGlobalTracerProvider(tracerProvider);
    metrics.setGlobalMeterProvider(meterProvider);
  }

  const tracer = tracerProvider.getTracer(SCOPE, options.serviceVersion);
  const meter = meterProvider.getMeter(SCOPE, options.serviceVersion);
  const operationDuration = meter.createHistogram('mcp.server.operation.duration', {
    unit: 's',
    description: 'MCP request duration as observed on the receiver from the time it was received until the result or ack is sent.',
    advice: { explicitBucketBoundaries: OPERATION_BUCKETS },
  });
  const upstreamDuration = meter.createHistogram('http.client.request.duration', {
    unit: 's',
    description: 'Duration of the upstream HTTP requests modules make through the gateway cache that went to the network.',
    advice: { explicitBucketBoundaries: HTTP_BUCKETS },
  });

  /** The parent `carrier` names, from `params._meta` or from the HTTP request's headers. */
  const extract = (carrier: unknown, getter: TextMapGetter<unknown>): Context | undefined => {
    const extracted = propagator.extract(ROOT_CONTEXT, carrier, getter);
    return trace.getSpanContext(extracted) ? extracted : undefined;
  };

  return {
    exporters: [...new Set([...spanExporters, ...metricExporters].map(([name]) => name))],

    startServerSpan(name, attributes, parents: ParentCarriers) {
      const fromHttp = parents.header('traceparent') ? extract(undefined, headerGetter(parents.header)) : undefined;
      const fromMeta = parents.meta ? extract(parents.meta, recordGetter) : undefined;
      // The MCP conventions: the request's own context (`_meta`) is the parent; the transport's,
      // when it differs, is linked.
      const parent = fromMeta ?? fromHttp ?? ROOT_CONTEXT;
      const links: Link[] | undefined = fromMeta && fromHttp ? [{ context: trace.getSpanContext(fromHttp)! }] : undefined;
      const span = tracer.startSpan(name, { kind: SpanKind.SERVER, attributes, ...(links ? { links } : {}) }, parent);
      const active = trace.setSpan(parent, span);
      return {
        run: (fn) => contextManager.with(active, fn),
        end(more, error) {
          span.setAttributes(more);
          if (error) span.setStatus({ code: SpanStatusCode.ERROR, ...(error.message ? { message: error.message } : {}) });
          span.end();
        },
      };
    },

    startClientSpan(name, attributes, startTime) {
      const parent = contextManager.active();
      const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes, ...(startTime === undefined ? {} : { startTime }) }, parent);
      const headers: Record<string, string> = {};
      propagator.inject(trace.setSpan(parent, span), headers, { set: (carrier, key, value) => (carrier[key] = value) });
      return {
        headers,
        end(more, error) {
          span.setAttributes(more);
          if (error) span.setStatus({ code: SpanStatusCode.ERROR, ...(error.message ? { message: error.message } : {}) });
          span.end();
        },
      };
    },

    carryContext() {
      contextManager.carry();
    },

    recordOperation(seconds, attributes: Attributes) {
      operationDuration.record(seconds, attributes);
    },

    recordUpstream(seconds, attributes: Attributes) {
      upstreamDuration.record(seconds, attributes);
    },

    observe(sources: GaugeSources) {
      observeGauges(meter, sources);
    },

    async shutdown() {
      const results = await Promise.allSettled([tracerProvider.shutdown(), meterProvider.shutdown()]);
      for (const result of results)
        // Its name and message only, cut: an exporter's error carries the collector's whole answer (`data`).
        if (result.status === 'rejected') logger.warn({ err: describeFailure(result.reason) }, 'telemetry: flushing at shutdown failed');
      contextManager.disable();
    },
  };
}

function observeGauges(meter: ReturnType<MeterProvider['getMeter']>, sources: GaugeSources): void {
  meter
    .createObservableUpDownCounter('mcp.gateway.session.active', {
      unit: '{session}',
      description: 'Sessions held by this instance, per route and protocol era (2026-07-28 requests have none).',
    })
    .addCallback((result) => {
      for (const { route, era, active } of sources.sessions())
        result.observe(active, { 'mcp.gateway.route': route, 'mcp.gateway.era': era });
    });
  // Refused before the body is read, so without a span: counted here, as on the status page.
  meter
    .createObservableCounter('mcp.gateway.auth.refusals', {
      unit: '{request}',
      description:
        'MCP requests a route with auth refused for their credentials, by reason: missing, invalid (401), insufficient_scope (403), unavailable (503: the issuer could not be reached).',
    })
    .addCallback((result) => {
      for (const { route, reason, count } of sources.authRefusals())
        result.observe(count, { 'mcp.gateway.route': route, 'mcp.gateway.auth.reason': reason });
    });
  // Each ctx.fetch counts once, by what the cache did: these partition the requests.
  meter
    .createObservableCounter('mcp.gateway.cache.requests', {
      unit: '{request}',
      description:
        'Requests modules made through the upstream cache, by outcome: hit, miss (started an upstream request), coalesced (joined one), bypass, backoff.',
    })
    .addCallback((result) => {
      const c = sources.cache();
      const outcomes: Array<[string, number]> = [
        ['hit', c.hits],
        ['miss', c.misses],
        ['coalesced', c.coalesced],
        ['bypass', c.bypassed],
        ['backoff', c.backedOff],
      ];
      for (const [outcome, count] of outcomes) result.observe(count, { 'mcp.gateway.cache.outcome': outcome });
    });
  meter
    .createObservableCounter('mcp.gateway.cache.stale_served', {
      unit: '{response}',
      description: 'Answers served from an expired copy because the upstream failed or is backed off.',
    })
    .addCallback((result) => result.observe(sources.cache().staleServed));
  meter
    .createObservableCounter('mcp.gateway.cache.upstream_errors', {
      unit: '{request}',
      description: 'Upstream requests that failed: 5xx, 429, network error, or abandoned by every caller.',
    })
    .addCallback((result) => result.observe(sources.cache().upstreamErrors));
  meter
    .createObservableCounter('mcp.gateway.cache.revalidated', {
      unit: '{request}',
      description: 'Upstream requests that revalidated a stored copy (a 304 to the conditional request); each is also a miss.',
    })
    .addCallback((result) => result.observe(sources.cache().revalidated));
  meter
    .createObservableGauge('mcp.gateway.cache.entries', { unit: '{entry}', description: 'Responses the upstream cache holds.' })
    .addCallback((result) => result.observe(sources.cache().entries));
  meter
    .createObservableGauge('mcp.gateway.cache.size', { unit: 'By', description: 'Bytes the upstream cache holds.' })
    .addCallback((result) => result.observe(sources.cache().bytes));
  // An upstream host of the cache by its origin; a command or url route's server by the route and
  // its kind (never the command line or the URL, which may hold a path or a key).
  const hostAttributes = (origin: string): Attributes => {
    const url = new URL(origin);
    return {
      'server.address': url.hostname,
      'server.port': Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
      'url.scheme': url.protocol.slice(0, -1),
    };
  };
  const backingOff = meter.createObservableGauge('mcp.gateway.upstream.backing_off', {
    unit: '1',
    description:
      "Whether the gateway is leaving an upstream alone after repeated failures (1: backing off, or one probe trying it) or asking it (0): each upstream host of the cache, and each command or url route's server.",
  });
  const consecutiveFailures = meter.createObservableGauge('mcp.gateway.upstream.consecutive_failures', {
    unit: '{failure}',
    description: "Failures in a row of an upstream host of the cache, or of a command or url route's server (reset by any success).",
  });
  // One reading of each upstream's state for both gauges, so an export never pairs a state with
  // another moment's failures.
  meter.addBatchObservableCallback(
    (result) => {
      const observe = (upstream: UpstreamBackoffGauge, attributes: Attributes) => {
        result.observe(backingOff, upstream.state === 'ok' ? 0 : 1, attributes);
        result.observe(consecutiveFailures, upstream.consecutiveFailures, attributes);
      };
      for (const host of sources.upstreams()) observe(host, hostAttributes(host.origin));
      for (const server of sources.routeUpstreams())
        observe(server, { 'mcp.gateway.route': server.route, 'mcp.gateway.upstream': server.kind });
    },
    [backingOff, consecutiveFailures],
  );
}

async function otlpSpanExporter(protocol: OtlpProtocol): Promise<SpanExporter> {
  if (protocol === 'http/json') return new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter();
  return new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter();
}

async function otlpMetricExporter(protocol: OtlpProtocol): Promise<PushMetricExporter> {
  if (protocol === 'http/json') return new (await import('@opentelemetry/exporter-metrics-otlp-http')).OTLPMetricExporter();
  return new (await import('@opentelemetry/exporter-metrics-otlp-proto')).OTLPMetricExporter();
}

/** On Azure: which instance and app (Application Insights' cloud_RoleInstance and role). */
function azureResource(env: NodeJS.ProcessEnv): Attributes {
  const attributes: Attributes = {};
  if (env.WEBSITE_SITE_NAME) {
    attributes['cloud.provider'] = 'azure';
    attributes['cloud.platform'] = 'azure.functions';
    attributes['faas.name'] = env.WEBSITE_SITE_NAME;
  }
  if (env.WEBSITE_INSTANCE_ID) attributes['service.instance.id'] = env.WEBSITE_INSTANCE_ID;
  return attributes;
}

function headerGetter(header: (name: string) => string | undefined): TextMapGetter<unknown> {
  return { keys: () => ['traceparent', 'tracestate'], get: (_carrier, key) => header(key.toLowerCase()) };
}

const recordGetter: TextMapGetter<unknown> = {
  keys: (carrier) => Object.keys(carrier as Record<string, unknown>),
  get: (carrier, key) => {
    const value = (carrier as Record<string, unknown>)[key];
    return typeof value === 'string' ? value : undefined;
  },
};

/** How much of one diagnostic of the SDK a log line keeps. */
const MAX_DIAGNOSTIC = 500;

/**
 * The SDK's own diagnostics (a failed export, a dropped span) as log lines, each cut short: the
 * SDK's error handler puts a whole failed export's error in the message, with the collector's
 * answer body in it, and a collector (or a proxy in front of it) can answer with anything.
 */
const cut = (text: string) => (text.length <= MAX_DIAGNOSTIC ? text : `${text.slice(0, MAX_DIAGNOSTIC)}…`);

/** A failure of the SDK's (an export's error, with the collector's answer in its `data`) as a log line can hold it. */
function describeFailure(error: unknown): { type: string; message: string } {
  return error instanceof Error ? { type: error.name, message: cut(error.message) } : { type: typeof error, message: cut(String(error)) };
}

function diagnostics(logger: Logger) {
  const log =
    (level: 'warn' | 'error') =>
    (message: string, ...args: unknown[]) =>
      logger[level]({ otel: args.length > 0 ? cut(args.map(String).join(' ')) : undefined }, `telemetry: ${cut(String(message))}`);
  const quiet = () => undefined;
  return { error: log('error'), warn: log('warn'), info: quiet, debug: quiet, verbose: quiet };
}
