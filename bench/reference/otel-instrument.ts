/**
 * OpenTelemetry for the minimal node:http reference (`BENCH_OTEL=1`): per POSTed JSON-RPC request,
 * one SERVER span with the attributes the gateway's spans have (`describeRequest` of
 * telemetry/mcp-semconv.ts) and one
 * point of `mcp.server.operation.duration`, ended when the response is finished, exported over
 * OTLP/HTTP protobuf (the endpoint from `OTEL_EXPORTER_OTLP_ENDPOINT`) by the SDK's batch span
 * processor and periodic metric reader with their defaults: the same packages and settings as the
 * gateway's pipeline, and no context manager (the gateway carries context only where a route can
 * make requests of its own; a time server has none). Nothing else: this is the SDK's own price.
 */
import type { ServerResponse } from 'node:http';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describeRequest, type RequestMessage } from '../../src/gateway/telemetry/mcp-semconv.js';

const BUCKETS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300];

type Message = { method?: unknown; id?: unknown; params?: { name?: unknown; protocolVersion?: unknown } };

export async function instrument(): Promise<(body: unknown, session: string | undefined, res: ServerResponse) => void> {
  const resource = resourceFromAttributes({ 'service.name': 'minimal-node-reference' });
  const tracer = new BasicTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())] }).getTracer(
    'bench',
  );
  const meter = new MeterProvider({
    resource,
    readers: [new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter() })],
  }).getMeter('bench');
  const duration = meter.createHistogram('mcp.server.operation.duration', { unit: 's', advice: { explicitBucketBoundaries: BUCKETS } });
  let version = '2025-06-18';
  return (body, session, res) => {
    const message = body as Message | undefined;
    if (!message || typeof message.method !== 'string' || message.id === undefined) return;
    const began = performance.now();
    if (message.method === 'initialize' && typeof message.params?.protocolVersion === 'string') version = message.params.protocolVersion;
    // The attributes the gateway's own spans carry, made by the same function.
    const { spanName, method, tool, attributes } = describeRequest(message as RequestMessage, {
      route: 'time',
      era: 'legacy',
      protocolVersion: version,
    });
    if (session) attributes['mcp.gateway.session'] = session.slice(0, 12);
    const span = tracer.startSpan(spanName, { kind: SpanKind.SERVER, attributes }, ROOT_CONTEXT);
    res.once('finish', () => {
      if (res.statusCode >= 400) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
      const point: Record<string, string> = { 'mcp.method.name': method, 'mcp.gateway.route': 'time', 'mcp.gateway.era': 'legacy' };
      if (tool) {
        point['gen_ai.tool.name'] = tool;
        point['gen_ai.operation.name'] = 'execute_tool';
      }
      point['mcp.protocol.version'] = version;
      duration.record((performance.now() - began) / 1000, point);
    });
  };
}
