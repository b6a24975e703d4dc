/**
 * What a client chooses cannot grow the exported metrics: the gateway as a process exporting to a
 * loopback collector, sent many requests whose client-chosen strings would each be a new series
 * if they reached an attribute. The gateway is stopped before anything is checked (its drain
 * flushes what is pending).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectClient, MCP_POST_HEADERS, shippedModule, startGatewayProcess, type GatewayProcess } from '../helpers/gateway.js';
import { startOtlpCollector, type OtlpCollector } from '../helpers/otlp-collector.js';

/** More than the 256 client-chosen names telemetry keeps before new ones are `_OTHER`. */
const MANY = 300;

let collector: OtlpCollector;
let gateway: GatewayProcess;
/** The version the real client negotiated, which the server also answers a made-up one with. */
let negotiated: string;

before(async () => {
  collector = await startOtlpCollector();
  gateway = await startGatewayProcess(`servers:\n  time:\n    module: ${shippedModule('time')}\n`, {
    OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
  });
  // An initialize may ask for any version: the server answers with one it supports.
  for (let i = 0; i < MANY; i++) {
    const response = await fetch(`${gateway.url}/mcp/time`, {
      method: 'POST',
      headers: MCP_POST_HEADERS,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: `made-up-${i}`, capabilities: {}, clientInfo: { name: 'cardinality-test', version: '1.0.0' } },
      }),
    });
    assert.equal(response.status, 200);
    await response.text();
  }
  // A real client afterwards: its tool is a name the gateway has answered without an error.
  const { client } = await connectClient(`${gateway.url}/mcp/time`);
  negotiated = client.getNegotiatedProtocolVersion()!;
  await client.callTool({ name: 'get_current_time', arguments: { timezone: 'UTC' } });
  await client.close();
  assert.equal(await gateway.stop(), 0);
});

after(async () => {
  await gateway?.stop();
  await collector?.close();
});

describe('telemetry cardinality', () => {
  it('records the negotiated protocol version of an initialize, not the one the client asked for', () => {
    const points = collector.lastMetric('mcp.server.operation.duration')!.points;
    const versions = new Set(points.map((p) => p.attributes['mcp.protocol.version']));
    assert.deepEqual([...versions], [negotiated]);
    const initializes = collector.spans.filter((s) => s.name === 'initialize');
    assert.equal(initializes.length, MANY + 1);
    for (const span of initializes) assert.equal(span.attributes['mcp.protocol.version'], negotiated);
  });

  it("still names a route's real tool after many made-up versions", () => {
    const points = collector.lastMetric('mcp.server.operation.duration')!.points;
    const call = points.find((p) => p.attributes['mcp.method.name'] === 'tools/call');
    assert.equal(call?.attributes['gen_ai.tool.name'], 'get_current_time');
  });
});
