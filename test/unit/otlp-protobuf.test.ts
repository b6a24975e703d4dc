/** The test collector's protobuf decoder against the SDK's own encoder. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { decodeTraceRequest } from '../helpers/otlp-protobuf.js';

describe('OTLP protobuf decoding (test helper)', () => {
  it('reads back what the SDK encodes: ids, names, kinds, attributes, status and links', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'svc' }),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const tracer = provider.getTracer('scope');
    const linked = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 };
    const span = tracer.startSpan('tools/call t', {
      kind: SpanKind.SERVER,
      attributes: { s: 'x', n: 7, b: true, d: 1.5 },
      links: [{ context: linked }],
    });
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
    span.end();
    await provider.forceFlush();
    const bytes = ProtobufTraceSerializer.serializeRequest(exporter.getFinishedSpans())!;
    const decoded = decodeTraceRequest(bytes) as {
      resourceSpans: Array<{
        resource: { attributes: unknown[] };
        scopeSpans: Array<{ scope: { name: string }; spans: Array<Record<string, unknown>> }>;
      }>;
    };
    const [resourceSpans] = decoded.resourceSpans;
    assert.deepEqual(
      resourceSpans!.resource.attributes.find((a) => (a as { key: string }).key === 'service.name'),
      { key: 'service.name', value: { stringValue: 'svc' } },
    );
    const [scopeSpans] = resourceSpans!.scopeSpans;
    assert.equal(scopeSpans!.scope.name, 'scope');
    const [decodedSpan] = scopeSpans!.spans;
    assert.equal(decodedSpan!.name, 'tools/call t');
    assert.equal(decodedSpan!.kind, 2);
    assert.equal(decodedSpan!.traceId, span.spanContext().traceId);
    assert.equal(decodedSpan!.spanId, span.spanContext().spanId);
    assert.deepEqual(decodedSpan!.attributes, [
      { key: 's', value: { stringValue: 'x' } },
      { key: 'n', value: { intValue: 7 } },
      { key: 'b', value: { boolValue: true } },
      { key: 'd', value: { doubleValue: 1.5 } },
    ]);
    assert.deepEqual(decodedSpan!.status, { message: 'boom', code: 2 });
    assert.deepEqual(
      (decodedSpan!.links as Array<Record<string, unknown>>).map(({ traceId, spanId }) => ({ traceId, spanId })),
      [{ traceId: linked.traceId, spanId: linked.spanId }],
    );
  });
});
