/**
 * What a client chooses cannot grow telemetry: the gateway as a process exporting to a loopback
 * collector, sent many requests whose client-chosen strings would each be a new metric series if
 * they reached an attribute, and one whose id is long enough to weigh on every span queued for
 * export. The gateway is stopped before anything is checked (its drain flushes what is pending).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  connectClient,
  fixtureModule,
  initializeBody,
  MCP_POST_HEADERS,
  shippedModule,
  startGatewayProcess,
  type GatewayProcess,
} from '../helpers/gateway.js';
import { startOtlpCollector, type OtlpCollector } from '../helpers/otlp-collector.js';

/** More than the 256 client-chosen names telemetry keeps before new ones are `_OTHER`. */
const MANY = 300;
/** A request id's length: far more than a span attribute needs. */
const LONG_ID = 200_000;

let collector: OtlpCollector;
let gateway: GatewayProcess;
/** The version the real client negotiated, which the server also answers a made-up one with. */
let negotiated: string;
/** What /status.json said of the SDK 1.x route after the made-up tool names. */
let v1Status: { traffic: { operations: Array<{ method: string; target?: string }> } };

before(async () => {
  collector = await startOtlpCollector();
  gateway = await startGatewayProcess(
    `servers:\n  time:\n    module: ${shippedModule('time')}\n  v1:\n    module: ${fixtureModule('v1-echo')}\n`,
    {
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    },
  );
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
  // A request id may be any string the body limit allows: the span keeps its first characters.
  const longId = await fetch(`${gateway.url}/mcp/time`, {
    method: 'POST',
    headers: MCP_POST_HEADERS,
    body: JSON.stringify({
      ...initializeBody(),
      id: `long-${'x'.repeat(LONG_ID)}`,
      params: { ...initializeBody().params, protocolVersion: 'made-up-long' },
    }),
  });
  assert.equal(longId.status, 200);
  await longId.text();
  // A real client afterwards: its tool is a name the gateway has answered without an error.
  const { client } = await connectClient(`${gateway.url}/mcp/time`);
  negotiated = client.getNegotiatedProtocolVersion()!;
  await client.callTool({ name: 'get_current_time', arguments: { timezone: 'UTC' } });
  await client.close();

  // An SDK 1.x server answers a tool it does not have with an isError result, not a JSON-RPC
  // error: made-up names first, then the route's own tools after a listing (one failing).
  const v1 = await connectClient(`${gateway.url}/mcp/v1`);
  for (let i = 0; i < MANY; i++) {
    const result = await v1.client.callTool({ name: `made-up-tool-${i}`, arguments: {} });
    assert.equal(result.isError, true);
  }
  await v1.client.listTools();
  await v1.client.callTool({ name: 'echo', arguments: { text: 'hi' } });
  assert.equal((await v1.client.callTool({ name: 'add', arguments: { a: 'not a number' } })).isError, true);
  await v1.client.close();
  v1Status = (
    (await (await fetch(`${gateway.url}/status.json`)).json()) as { routes: Array<typeof v1Status & { name: string }> }
  ).routes.find((route) => route.name === 'v1')!;
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
    const initializes = collector.spans.filter((s) => s.name === 'initialize' && s.attributes['mcp.gateway.route'] === 'time');
    assert.equal(initializes.length, MANY + 2);
    for (const span of initializes) assert.equal(span.attributes['mcp.protocol.version'], negotiated);
  });

  it("still names a route's real tool after many made-up versions", () => {
    const points = collector.lastMetric('mcp.server.operation.duration')!.points;
    const call = points.find((p) => p.attributes['mcp.method.name'] === 'tools/call' && p.attributes['mcp.gateway.route'] === 'time');
    assert.equal(call?.attributes['gen_ai.tool.name'], 'get_current_time');
  });

  it('keeps tool names a route does not have out of the metrics and the status page, when its server answers them with isError', () => {
    const points = collector.lastMetric('mcp.server.operation.duration')!.points.filter((p) => p.attributes['mcp.gateway.route'] === 'v1');
    const calls = points.filter((p) => p.attributes['mcp.method.name'] === 'tools/call');
    const byTool = new Map(
      calls.map((p) => [`${String(p.attributes['gen_ai.tool.name'])} ${String(p.attributes['error.type'] ?? 'ok')}`, p.count]),
    );
    assert.deepEqual(Object.fromEntries(byTool), { '_OTHER tool_error': MANY, 'echo ok': 1, 'add tool_error': 1 });
    const rows = v1Status.traffic.operations.filter((o) => o.method === 'tools/call').map((o) => o.target);
    assert.deepEqual(rows.sort(), ['_OTHER', 'add', 'echo']);
  });
});

describe('a long request id', () => {
  it('is cut on the span, as a client-chosen name is', () => {
    const span = collector.spans.find((s) => String(s.attributes['jsonrpc.request.id']).startsWith('long-'));
    assert.ok(span);
    assert.ok(
      String(span.attributes['jsonrpc.request.id']).length <= 129,
      `${String(span.attributes['jsonrpc.request.id']).length} characters`,
    );
    for (const { body } of collector.requests) assert.ok(!body.includes('x'.repeat(1000)), 'the whole id was exported');
  });
});
