import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Attributes } from '../../src/gateway/telemetry/mcp-semconv.js';
import { createTelemetry, type ExportPipeline } from '../../src/gateway/telemetry/telemetry.js';

/** A pipeline that keeps what the telemetry hands it: each span's end and each metric point. */
function recordingPipeline() {
  const spans: Array<{ name: string; attributes: Attributes; error: { message: string | undefined } | undefined }> = [];
  const points: Attributes[] = [];
  const pipeline: ExportPipeline = {
    exporters: ['test'],
    startServerSpan(name, started) {
      return {
        run: (fn) => fn(),
        end: (attributes, error) => void spans.push({ name, attributes: { ...started, ...attributes }, error }),
      };
    },
    startClientSpan: () => ({ headers: {}, end: () => undefined }),
    carryContext: () => undefined,
    recordOperation: (_seconds, attributes) => void points.push(attributes),
    recordUpstream: () => undefined,
    observe: () => undefined,
    shutdown: async () => undefined,
  };
  return { pipeline, spans, points };
}

const call = (id: number) => ({ method: 'tools/call', id, params: { name: 'slow', arguments: {} } });
const cancelledAnswer = { error: { code: -32800, message: 'Request cancelled' } };

describe('an operation whose client went away', () => {
  it('is cancelled, not failed: error.type cancelled, no error status, apart from errors on the status page', () => {
    const { pipeline, spans, points } = recordingPipeline();
    const telemetry = createTelemetry({ pipeline });
    const base = { route: 'echo', era: 'modern' as const, header: () => undefined, protocolVersion: '2026-07-28' };
    telemetry.operation({ ...base, message: call(1), clientGone: () => true }).end(cancelledAnswer);
    // The same answer while the client is still there is an error, as before.
    telemetry.operation({ ...base, message: call(2), clientGone: () => false }).end(cancelledAnswer);

    assert.equal(spans[0]!.attributes['error.type'], 'cancelled');
    assert.equal(spans[0]!.attributes['rpc.response.status_code'], undefined);
    assert.equal(spans[0]!.error, undefined, 'the span is not marked failed');
    assert.equal(points[0]!['error.type'], 'cancelled');
    assert.equal(points[0]!['rpc.response.status_code'], undefined);

    assert.equal(spans[1]!.attributes['error.type'], '-32800');
    assert.equal(spans[1]!.attributes['rpc.response.status_code'], '-32800');
    assert.deepEqual(spans[1]!.error, { message: 'Request cancelled' });

    const traffic = telemetry.routeTraffic('echo');
    assert.equal(traffic.requests, 2);
    assert.equal(traffic.errors, 1);
    assert.deepEqual(traffic.tags, { cancelled: 1, '-32800': 1 });
  });

  it('answered successfully is a success, gone or not', () => {
    const { pipeline, spans } = recordingPipeline();
    const telemetry = createTelemetry({ pipeline });
    telemetry
      .operation({ route: 'echo', era: 'legacy', message: call(1), header: () => undefined, clientGone: () => true })
      .end({ result: { content: [] } });
    assert.equal(spans[0]!.attributes['error.type'], undefined);
    assert.equal(telemetry.routeTraffic('echo').errors, 0);
  });
});

describe('an operation its client cancelled (2025 notifications/cancelled)', () => {
  it('ends at the cancellation as cancelled, whether or not the client is still there, and a later answer is not counted', () => {
    const { pipeline, spans, points } = recordingPipeline();
    const telemetry = createTelemetry({ pipeline });
    const operation = telemetry.operation({
      route: 'echo',
      era: 'legacy',
      message: call(1),
      header: () => undefined,
      clientGone: () => false,
    });
    operation.cancel();
    assert.equal(spans.length, 1, 'the span ends at the cancellation');
    assert.equal(spans[0]!.attributes['error.type'], 'cancelled');
    assert.equal(spans[0]!.attributes['rpc.response.status_code'], undefined);
    assert.equal(spans[0]!.error, undefined, 'the span is not marked failed');
    assert.equal(points[0]!['error.type'], 'cancelled');
    operation.end({ result: { content: [] } });
    assert.equal(spans.length, 1);
    assert.equal(points.length, 1);
    const traffic = telemetry.routeTraffic('echo');
    assert.equal(traffic.requests, 1);
    assert.equal(traffic.errors, 0);
    assert.deepEqual(traffic.tags, { cancelled: 1 });
  });
});
