import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { context, SpanKind, trace, type Span } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { withAppInsightsAttributes } from '../../src/gateway/telemetry/app-insights-spans.js';

/** Spans made by the real SDK, ended, and handed through the wrapper to an in-memory exporter. */
function exported(make: (tracer: ReturnType<BasicTracerProvider['getTracer']>) => void) {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(withAppInsightsAttributes(memory))] });
  make(provider.getTracer('test'));
  return memory.getFinishedSpans();
}

describe('the spans Application Insights is sent', () => {
  it("copies error.type to mcp.gateway.error.type, and a bridged request's url.full to mcp.gateway.upstream.url", () => {
    const [toolError, bridged, http, plain] = exported((tracer) => {
      tracer.startSpan('tools/call pid', { kind: SpanKind.SERVER, attributes: { 'error.type': 'tool_error' } }).end();
      tracer
        .startSpan('tools/call pid', {
          kind: SpanKind.CLIENT,
          attributes: { 'url.full': 'http://127.0.0.1:9/mcp', 'mcp.gateway.upstream': 'url' },
        })
        .end();
      tracer
        .startSpan('GET', { kind: SpanKind.CLIENT, attributes: { 'http.request.method': 'GET', 'url.full': 'http://127.0.0.1:9/points' } })
        .end();
      tracer.startSpan('tools/list', { kind: SpanKind.SERVER, attributes: { 'mcp.method.name': 'tools/list' } }).end();
    });
    assert.equal(toolError!.attributes['mcp.gateway.error.type'], 'tool_error');
    assert.equal(toolError!.attributes['error.type'], 'tool_error', 'the original stays');
    assert.equal(bridged!.attributes['mcp.gateway.upstream.url'], 'http://127.0.0.1:9/mcp');
    // An HTTP span's URL is the envelope's own `data`: no copy.
    assert.equal(http!.attributes['mcp.gateway.upstream.url'], undefined);
    assert.deepEqual(plain!.attributes, { 'mcp.method.name': 'tools/list' });
  });

  it('keeps everything else of a copied span: context, parent, times, status, kind', () => {
    const [parent, child] = exported((tracer) => {
      const outer = tracer.startSpan('outer', { kind: SpanKind.SERVER });
      const inner = tracer.startSpan('inner', { kind: SpanKind.CLIENT, attributes: { 'error.type': '-32603' } }, traceContextOf(outer));
      inner.setStatus({ code: 2, message: 'boom' });
      inner.end();
      outer.end();
    }).reverse();
    assert.equal(child!.name, 'inner');
    assert.equal(child!.kind, SpanKind.CLIENT);
    assert.equal(child!.spanContext().traceId, parent!.spanContext().traceId);
    assert.equal(child!.parentSpanContext?.spanId, parent!.spanContext().spanId);
    assert.deepEqual(child!.status, { code: 2, message: 'boom' });
    assert.ok(child!.ended);
    assert.ok(child!.duration[0] >= 0 && child!.duration[1] >= 0);
    assert.equal(child!.resource, parent!.resource);
  });
});

/** A context with `span` current, to start a child of it. */
function traceContextOf(span: Span) {
  return trace.setSpan(context.active(), span);
}
