/**
 * The spans as Application Insights is sent them: the same spans, with copies of two attributes
 * under names Azure Monitor's exporter keeps.
 *
 * Why: the exporter leaves out of `customDimensions` every attribute of its list of HTTP semantic
 * conventions (`httpSemanticValues` in its types), which it maps to the envelope's own fields
 * instead, and only for an HTTP span (one with `http.request.method`). Two of the gateway's
 * attributes are on that list and on spans that are not HTTP ones, so they reached no column:
 * - `error.type`, the one attribute that tells a tool error (`tool_error`) from a JSON-RPC error or
 *   a cancelled call: copied to `mcp.gateway.error.type`;
 * - `url.full` of a CLIENT span forwarded to a `url:` route's server (an MCP request, with no
 *   HTTP method of its own): copied to `mcp.gateway.upstream.url`.
 * The OTLP export is not touched: there the conventions' names are the ones to read.
 */
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';

/** `exporter` (Azure Monitor's), sent each span with the copies above. */
export function withAppInsightsAttributes(exporter: SpanExporter): SpanExporter {
  return {
    export: (spans: ReadableSpan[], done: (result: ExportResult) => void) => exporter.export(spans.map(withCopies), done),
    shutdown: () => exporter.shutdown(),
    ...(exporter.forceFlush ? { forceFlush: () => exporter.forceFlush!() } : {}),
  };
}

function withCopies(span: ReadableSpan): ReadableSpan {
  const { attributes } = span;
  const errorType = attributes['error.type'];
  const url = attributes['http.request.method'] === undefined ? attributes['url.full'] : undefined;
  if (errorType === undefined && url === undefined) return span;
  const copied = {
    ...attributes,
    ...(errorType !== undefined ? { 'mcp.gateway.error.type': errorType } : {}),
    ...(url !== undefined ? { 'mcp.gateway.upstream.url': url } : {}),
  };
  return {
    name: span.name,
    kind: span.kind,
    spanContext: () => span.spanContext(),
    parentSpanContext: span.parentSpanContext,
    startTime: span.startTime,
    endTime: span.endTime,
    status: span.status,
    attributes: copied,
    links: span.links,
    events: span.events,
    duration: span.duration,
    ended: span.ended,
    resource: span.resource,
    instrumentationScope: span.instrumentationScope,
    droppedAttributesCount: span.droppedAttributesCount,
    droppedEventsCount: span.droppedEventsCount,
    droppedLinksCount: span.droppedLinksCount,
  };
}
