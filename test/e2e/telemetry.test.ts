/**
 * Telemetry end to end: the built gateway as a process, exporting OTLP/HTTP JSON to a loopback
 * collector, driven by the SDK's clients (both eras) and raw requests, with the weather module on
 * the fake NWS. What arrives is checked by name and attribute: the SERVER span of each request and
 * its parent (the HTTP traceparent, or `params._meta`), tool and JSON-RPC errors, the CLIENT spans
 * of the cache's upstream requests in the tool call's trace and the context sent upstream, the
 * metrics, and that no session id, key or tool argument is anywhere in what was exported. The
 * gateway is stopped before anything is checked: its drain flushes what is pending, so nothing
 * here waits for an export interval.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  Client,
  PROTOCOL_VERSION_META_KEY,
  StreamableHTTPClientTransport,
} from '@modelcontextprotocol/client';
import { startFakeNws, type FakeNws } from '../helpers/fake-nws.js';
import { initializeBody, MCP_POST_HEADERS, shippedModule, startGatewayProcess, textOf, type GatewayProcess } from '../helpers/gateway.js';
import { fixturePath } from '../helpers/project.js';
import { startOtlpCollector, type CollectedSpan, type OtlpCollector } from '../helpers/otlp-collector.js';

const POINT = { latitude: 41.967, longitude: -71.189 };
const API_KEY = 'telemetry-test-key-0123456789abcdef';
/** A tool argument no span or metric may carry (arguments are opt-in). */
const SECRET_ZONE = 'Antarctica/Troll';
const MODERN = '2026-07-28';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const traceparent = (traceId: string, spanId: string) => `00-${traceId}-${spanId}-01`;

let nws: FakeNws;
let collector: OtlpCollector;
let gateway: GatewayProcess;
const sessionIds: string[] = [];

// What the clients sent, for the checks after the gateway has stopped.
const header = { traceId: hex(16), spanId: hex(8) };
const meta = { traceId: hex(16), spanId: hex(8) };
const modernMeta = { traceId: hex(16), spanId: hex(8) };
const modernHeader = { traceId: hex(16), spanId: hex(8) };
let hourlyRequests: FakeNws['requests'] = [];
const bridgedHeader = { traceId: hex(16), spanId: hex(8) };
/** The trace of a call on the `probe` session, resumed by a second gateway (a new child started for it). */
const resumedHeader = { traceId: hex(16), spanId: hex(8) };
/** Both gateways: the second resumes the first one's sessions. */
const SESSION_SECRET = randomBytes(32).toString('base64');
/** The trace of a 2026-07-28 call on the `modernchild` route, whose child speaks only that era. */
const modernChildHeader = { traceId: hex(16), spanId: hex(8) };
/** The trace of an initialize on the `broken` route, whose child exits before it answers. */
const brokenHeader = { traceId: hex(16), spanId: hex(8) };
/** The `_meta` the stdio server behind the `probe` route got with its call. */
let bridgedMeta: Record<string, unknown> = {};

before(async () => {
  nws = await startFakeNws();
  collector = await startOtlpCollector();
  const yaml =
    `servers:\n` +
    `  weather:\n    module: ${shippedModule('weather')}\n    options:\n      baseUrl: ${nws.url}\n      userAgent: "telemetry-test (test@example.com)"\n      retryDelayMs: 1\n` +
    `  time:\n    module: ${shippedModule('time')}\n    auth:\n      kind: apiKey\n      keys: ["\${TIME_KEY}"]\n` +
    `  probe:\n    command: node\n    args: [${JSON.stringify(fixturePath('stdio', 'probe-server.mjs'))}]\n` +
    `  broken:\n    command: node\n    args: ["-e", "process.exit(3)"]\n` +
    `  modernchild:\n    command: node\n    args: [${JSON.stringify(fixturePath('stdio', 'modern-only-server.mjs'))}]\n`;
  const env = {
    GATEWAY_SESSION_SECRET: SESSION_SECRET,
    TIME_KEY: API_KEY,
    OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_SERVICE_NAME: 'gateway-under-test',
    OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=telemetry-test',
  };
  gateway = await startGatewayProcess(yaml, env);

  // 2025 era, parent from the HTTP traceparent: a forecast (cache misses), the same again (hits),
  // a point outside the US (a tool error), an unknown tool (a JSON-RPC error).
  const weather = await connect('weather', { traceparent: traceparent(header.traceId, header.spanId) });
  await weather.client.callTool({ name: 'get_forecast', arguments: POINT });
  await weather.client.callTool({ name: 'get_forecast', arguments: POINT });
  const outside = await weather.client.callTool({ name: 'get_forecast', arguments: { latitude: 51.5074, longitude: -0.1278 } });
  assert.equal(outside.isError, true);
  await assert.rejects(weather.client.callTool({ name: 'no_such_tool', arguments: {} }));

  // Parent from params._meta (SEP-414), with no HTTP traceparent.
  const metaClient = await connect('weather');
  await metaClient.client.callTool({
    name: 'get_alerts',
    arguments: { state: 'MA' },
    _meta: { traceparent: traceparent(meta.traceId, meta.spanId) },
  });

  // Two identical calls at once: one upstream request for both (coalesced; the latency keeps the
  // first one's request open while the second arrives).
  nws.setLatency(300);
  await Promise.all([0, 1].map(() => metaClient.client.callTool({ name: 'get_hourly_forecast', arguments: POINT })));
  nws.setLatency(0);
  hourlyRequests = nws.requests.filter((r) => r.path.endsWith('/forecast/hourly'));

  // A batch of two calls in one POST on the session.
  const batch = await fetch(`${gateway.url}/mcp/weather`, {
    method: 'POST',
    headers: {
      ...MCP_POST_HEADERS,
      'mcp-session-id': metaClient.transport.sessionId!,
      'mcp-protocol-version': metaClient.client.getNegotiatedProtocolVersion()!,
    },
    body: JSON.stringify([
      { jsonrpc: '2.0', id: 'batch-1', method: 'tools/call', params: { name: 'get_alerts', arguments: { state: 'MA' } } },
      { jsonrpc: '2.0', id: 'batch-2', method: 'tools/list' },
    ]),
  });
  assert.equal(batch.status, 200);
  await batch.text();

  // Refused before any server: an unknown session id.
  const refused = await fetch(`${gateway.url}/mcp/weather`, {
    method: 'POST',
    headers: { ...MCP_POST_HEADERS, 'mcp-session-id': 'no-such-session', 'mcp-protocol-version': '2025-06-18' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 'refused-1', method: 'tools/list' }),
  });
  assert.equal(refused.status, 404);
  // Refused for its MCP-Protocol-Version, which names no version.
  const badVersion = await fetch(`${gateway.url}/mcp/weather`, {
    method: 'POST',
    headers: { ...MCP_POST_HEADERS, 'mcp-protocol-version': 'garbage' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 'refused-version', method: 'tools/list' }),
  });
  assert.equal(badVersion.status, 400);

  // The API-key route, with an argument that must not be exported.
  const time = await connect('time', { 'x-api-key': API_KEY });
  await time.client.callTool({ name: 'get_current_time', arguments: { timezone: SECRET_ZONE } });
  // Refused for their credentials: two without a key, one with a wrong one (no span; counted).
  for (const headers of [{}, {}, { 'x-api-key': 'not-the-key' }] as Array<Record<string, string>>) {
    const refused = await fetch(`${gateway.url}/mcp/time`, { method: 'POST', headers: { ...MCP_POST_HEADERS, ...headers }, body: '{}' });
    assert.equal(refused.status, 401);
  }

  // 2026-07-28: parent from _meta, the HTTP traceparent linked.
  const modern = await fetch(`${gateway.url}/mcp/weather`, {
    method: 'POST',
    headers: {
      ...MCP_POST_HEADERS,
      'mcp-protocol-version': MODERN,
      'mcp-method': 'tools/call',
      'mcp-name': 'get_forecast',
      traceparent: traceparent(modernHeader.traceId, modernHeader.spanId),
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 'modern-1',
      method: 'tools/call',
      params: {
        name: 'get_forecast',
        arguments: POINT,
        _meta: {
          [PROTOCOL_VERSION_META_KEY]: MODERN,
          [CLIENT_CAPABILITIES_META_KEY]: {},
          [CLIENT_INFO_META_KEY]: { name: 'raw', version: '1.0.0' },
          traceparent: traceparent(modernMeta.traceId, modernMeta.spanId),
        },
      },
    }),
  });
  assert.equal(modern.status, 200);
  assert.match(await modern.text(), /"resultType":"complete"/);

  // A command route: the forwarded call is a CLIENT span, and its context reaches the child.
  const probe = await connect('probe', { traceparent: traceparent(bridgedHeader.traceId, bridgedHeader.spanId) });
  bridgedMeta = (JSON.parse(textOf(await probe.client.callTool({ name: 'meta', arguments: {} }))) as { meta: Record<string, unknown> })
    .meta;

  // 2026-07-28 to a command route whose child speaks only that era: the child's handshake is server/discover.
  const modernChild = await fetch(`${gateway.url}/mcp/modernchild`, {
    method: 'POST',
    headers: {
      ...MCP_POST_HEADERS,
      'mcp-protocol-version': MODERN,
      'mcp-method': 'tools/call',
      'mcp-name': 'era',
      traceparent: traceparent(modernChildHeader.traceId, modernChildHeader.spanId),
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 'modern-child-1',
      method: 'tools/call',
      params: {
        name: 'era',
        arguments: {},
        _meta: {
          [PROTOCOL_VERSION_META_KEY]: MODERN,
          [CLIENT_CAPABILITIES_META_KEY]: {},
          [CLIENT_INFO_META_KEY]: { name: 'raw', version: '1.0.0' },
        },
      },
    }),
  });
  const modernChildAnswer = await modernChild.text();
  assert.equal(modernChild.status, 200, modernChildAnswer);
  assert.match(modernChildAnswer, /"resultType":"complete"/);

  // A command route whose child exits before it answers: the initialize is refused (502).
  const broken = await fetch(`${gateway.url}/mcp/broken`, {
    method: 'POST',
    headers: { ...MCP_POST_HEADERS, traceparent: traceparent(brokenHeader.traceId, brokenHeader.spanId) },
    body: JSON.stringify({ ...initializeBody(), id: 'broken-initialize' }),
  });
  assert.equal(broken.status, 502);

  const probeSession = { id: probe.transport.sessionId!, version: probe.client.getNegotiatedProtocolVersion()! };
  for (const { client } of [weather, metaClient, time, probe]) await client.close();
  assert.equal(await gateway.stop(), 0);

  // Scaled out: another instance gets the probe session's next call, and resumes it with a new child
  // (its traces only: the metrics checked are the first instance's).
  gateway = await startGatewayProcess(yaml, { ...env, OTEL_METRICS_EXPORTER: 'none' });
  const resumed = await fetch(`${gateway.url}/mcp/probe`, {
    method: 'POST',
    headers: {
      ...MCP_POST_HEADERS,
      'mcp-session-id': probeSession.id,
      'mcp-protocol-version': probeSession.version,
      traceparent: traceparent(resumedHeader.traceId, resumedHeader.spanId),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 'resumed-call', method: 'tools/call', params: { name: 'meta', arguments: {} } }),
  });
  const resumedAnswer = await resumed.text();
  assert.equal(resumed.status, 200, resumedAnswer);
  assert.match(resumedAnswer, /"result"/);
  assert.equal(await gateway.stop(), 0);
});

after(async () => {
  await gateway?.stop();
  await collector?.close();
  await nws?.close();
});

async function connect(route: string, headers: Record<string, string> = {}) {
  const client = new Client({ name: 'telemetry-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp/${route}`), { requestInit: { headers } });
  await client.connect(transport);
  sessionIds.push(transport.sessionId!);
  return { client, transport };
}

const servers = (name: string) => collector.spans.filter((s) => s.kind === 'server' && s.name === name);
const childrenOf = (span: CollectedSpan) => collector.spans.filter((s) => s.parentSpanId === span.spanId && s.traceId === span.traceId);
function only<T>(items: T[], what: string): T {
  assert.equal(items.length, 1, `exactly one ${what}, got ${items.length}`);
  return items[0]!;
}

/** The one span of the request with JSON-RPC id `id`. */
const spanOfRequest = (id: string, what: string) =>
  only(
    collector.spans.filter((s) => s.attributes['jsonrpc.request.id'] === id),
    what,
  );

describe('telemetry over OTLP/HTTP JSON', () => {
  it('names and attributes a tool call by the MCP conventions, parented by the HTTP traceparent', () => {
    const [first] = servers('tools/call get_forecast').filter((s) => s.traceId === header.traceId);
    assert.ok(first, 'the forecast call is in the trace the client started');
    assert.equal(first.parentSpanId, header.spanId);
    assert.equal(first.status.code, 'unset');
    const { 'mcp.gateway.session': session, ...attributes } = first.attributes;
    assert.match(String(session), /^[0-9a-f]{12}$/, 'a tag of the session, not its id');
    assert.deepEqual(attributes, {
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': 'get_forecast',
      'gen_ai.operation.name': 'execute_tool',
      'jsonrpc.request.id': String(first.attributes['jsonrpc.request.id']),
      'mcp.protocol.version': attributes['mcp.protocol.version'],
      'mcp.gateway.route': 'weather',
      'mcp.gateway.era': 'legacy',
      'network.transport': 'tcp',
      'network.protocol.name': 'http',
    });
    assert.match(String(attributes['mcp.protocol.version']), /^\d{4}-\d{2}-\d{2}$/);
    assert.match(String(attributes['jsonrpc.request.id']), /^\d+$/);
    const initialize = servers('initialize').find((s) => s.traceId === header.traceId);
    assert.ok(initialize, 'initialize has its span too');
    assert.equal(first.resource['service.name'], 'gateway-under-test');
    assert.equal(first.resource['deployment.environment.name'], 'telemetry-test');
  });

  it('makes each upstream request a CLIENT span in the tool call trace, and sends its context upstream', () => {
    const [miss, hit] = servers('tools/call get_forecast').filter((s) => s.traceId === header.traceId);
    const fetched = childrenOf(miss!);
    assert.deepEqual(
      fetched.map((s) => [
        s.kind,
        s.name,
        s.attributes['url.full'],
        s.attributes['mcp.gateway.cache'],
        s.attributes['http.response.status_code'],
      ]),
      [
        ['client', 'GET', `${nws.url}/points/41.967,-71.189`, 'miss', 200],
        ['client', 'GET', `${nws.url}/gridpoints/BOX/70,82/forecast`, 'miss', 200],
      ],
    );
    const points = fetched[0]!;
    assert.equal(points.attributes['http.request.method'], 'GET');
    assert.equal(points.attributes['server.address'], '127.0.0.1');
    assert.equal(points.attributes['server.port'], Number(new URL(nws.url).port));
    const sent = nws.requests.find((r) => r.path === '/points/41.967,-71.189')!;
    assert.equal(sent.headers.traceparent, traceparent(header.traceId, points.spanId), 'the upstream got the CLIENT span as its parent');
    // The second call, in a new span of the same trace: answered from the cache (the trace
    // context is no part of the cache key).
    assert.deepEqual(
      childrenOf(hit!).map((s) => s.attributes['mcp.gateway.cache']),
      ['hit', 'hit'],
    );
  });

  it('makes each request forwarded to a command route a CLIENT span, whose context the server gets in _meta', () => {
    const served = only(
      servers('tools/call meta').filter((s) => s.traceId === bridgedHeader.traceId),
      'SERVER span of the bridged call',
    );
    const forwarded = only(childrenOf(served), 'CLIENT span of the forwarded call');
    assert.equal(forwarded.kind, 'client');
    assert.equal(forwarded.name, 'tools/call meta');
    assert.equal(forwarded.attributes['mcp.method.name'], 'tools/call');
    assert.equal(forwarded.attributes['gen_ai.tool.name'], 'meta');
    assert.equal(forwarded.attributes['mcp.gateway.route'], 'probe');
    assert.equal(forwarded.attributes['mcp.gateway.upstream'], 'command');
    // The version the gateway's client negotiated with the child, not the downstream one.
    assert.match(String(forwarded.attributes['mcp.protocol.version']), /^\d{4}-\d{2}-\d{2}$/);
    assert.equal(
      bridgedMeta.traceparent,
      traceparent(bridgedHeader.traceId, forwarded.spanId),
      'SEP-414: the child got the CLIENT span as parent',
    );
  });

  it("makes a command route's handshake with its child a CLIENT span, in the trace of the request that started the child", () => {
    const initialize = only(
      servers('initialize').filter((s) => s.traceId === bridgedHeader.traceId),
      'SERVER span of the initialize that started the child',
    );
    const handshake = only(childrenOf(initialize), 'CLIENT span of the handshake');
    assert.equal(handshake.kind, 'client');
    // A 2025 session's own child is spoken to in 2025: the initialize handshake.
    assert.equal(handshake.name, 'initialize');
    assert.equal(handshake.attributes['mcp.method.name'], 'initialize');
    assert.equal(handshake.attributes['mcp.gateway.route'], 'probe');
    assert.equal(handshake.attributes['mcp.gateway.upstream'], 'command');
    assert.equal(handshake.attributes['network.transport'], 'pipe');
    assert.match(String(handshake.attributes['mcp.protocol.version']), /^2025-\d{2}-\d{2}$/);
    assert.equal(handshake.attributes['error.type'], undefined);
    assert.equal(handshake.status.code, 'unset');
    // Within its parent's time: it began after the initialize came, and ended before it was answered.
    assert.ok(handshake.startTimeUnixNano >= initialize.startTimeUnixNano, 'starts within the initialize');
    assert.ok(handshake.endTimeUnixNano <= initialize.endTimeUnixNano, 'ends within the initialize');
    assert.ok(handshake.endTimeUnixNano > handshake.startTimeUnixNano, 'takes the time the child took');
  });

  it('makes the handshake of a session resumed on another instance a CLIENT span of the call that resumed it', () => {
    const call = only(
      servers('tools/call meta').filter((s) => s.traceId === resumedHeader.traceId),
      'SERVER span of the call on the resumed session',
    );
    assert.equal(call.attributes['jsonrpc.request.id'], 'resumed-call');
    assert.match(String(call.attributes['mcp.gateway.session']), /^[0-9a-f]{12}$/, 'the session, told once it was resumed');
    assert.match(String(call.attributes['mcp.protocol.version']), /^2025-\d{2}-\d{2}$/);
    // The resume's own initialize is the gateway's, not the client's: no SERVER span of its own.
    assert.deepEqual(
      collector.spans.filter((s) => s.traceId === resumedHeader.traceId && s.kind === 'server').map((s) => s.name),
      ['tools/call meta'],
    );
    const children = childrenOf(call);
    assert.deepEqual(children.map((s) => [s.kind, s.name]).sort(), [
      ['client', 'initialize'],
      ['client', 'tools/call meta'],
    ]);
    const handshake = children.find((s) => s.name === 'initialize')!;
    const forwarded = children.find((s) => s.name === 'tools/call meta')!;
    assert.ok(handshake.endTimeUnixNano <= forwarded.startTimeUnixNano, 'the child answered its handshake before the call went to it');
  });

  it('names the handshake with a 2026-07-28 child server/discover, with the version it negotiated', () => {
    const call = only(
      servers('tools/call era').filter((s) => s.traceId === modernChildHeader.traceId),
      'SERVER span of the 2026-07-28 call',
    );
    const children = childrenOf(call);
    assert.deepEqual(children.map((s) => [s.kind, s.name]).sort(), [
      ['client', 'server/discover'],
      ['client', 'tools/call era'],
    ]);
    const handshake = children.find((s) => s.name === 'server/discover')!;
    assert.equal(handshake.attributes['mcp.method.name'], 'server/discover');
    assert.equal(handshake.attributes['mcp.gateway.route'], 'modernchild');
    assert.equal(handshake.attributes['mcp.protocol.version'], MODERN);
    assert.equal(handshake.status.code, 'unset');
  });

  it('records a handshake that failed (the child exited first) as a failed CLIENT span under the one refused initialize', () => {
    const initialize = only(
      servers('initialize').filter((s) => s.traceId === brokenHeader.traceId),
      'SERVER span of the refused initialize (not one more for its refusal)',
    );
    assert.equal(initialize.parentSpanId, brokenHeader.spanId);
    assert.equal(initialize.attributes['jsonrpc.request.id'], 'broken-initialize');
    assert.equal(initialize.attributes['error.type'], '-32000', 'upstream_unavailable, as the client got it');
    assert.equal(initialize.status.code, 'error');
    const handshake = only(childrenOf(initialize), 'CLIENT span of the handshake');
    assert.equal(handshake.kind, 'client');
    assert.equal(handshake.name, 'initialize');
    assert.equal(handshake.attributes['mcp.gateway.route'], 'broken');
    assert.equal(handshake.status.code, 'error');
    assert.ok(handshake.attributes['error.type'], `error.type names the failure: ${String(handshake.attributes['error.type'])}`);
    assert.equal(handshake.attributes['mcp.protocol.version'], undefined, 'no version was negotiated');
  });

  it('gives coalesced callers their own CLIENT spans and sends one request, with the first caller context', () => {
    const calls = servers('tools/call get_hourly_forecast');
    assert.equal(calls.length, 2);
    const hourly = calls.flatMap(childrenOf).filter((s) => String(s.attributes['url.full']).endsWith('/forecast/hourly'));
    assert.equal(hourly.length, 2);
    assert.deepEqual(hourly.map((s) => s.attributes['mcp.gateway.cache']).sort(), ['miss', 'miss']);
    const joined = only(
      hourly.filter((s) => s.attributes['mcp.gateway.cache.coalesced'] === true),
      'coalesced span',
    );
    const leader = hourly.find((s) => s !== joined)!;
    const request = only(hourlyRequests, 'upstream request for both calls');
    assert.equal(request.headers.traceparent, traceparent(leader.traceId, leader.spanId));
  });

  it('says error.type tool_error for an isError result, and the JSON-RPC code for an error', () => {
    const calls = servers('tools/call get_forecast').filter((s) => s.traceId === header.traceId);
    const toolError = only(
      calls.filter((s) => s.attributes['error.type'] !== undefined),
      'failed forecast',
    );
    assert.equal(toolError.attributes['error.type'], 'tool_error');
    assert.equal(toolError.status.code, 'error');
    assert.equal(toolError.attributes['rpc.response.status_code'], undefined);
    const unknown = only(servers('tools/call no_such_tool'), 'call to an unknown tool');
    assert.equal(unknown.attributes['error.type'], '-32602');
    assert.equal(unknown.attributes['rpc.response.status_code'], '-32602');
    assert.equal(unknown.status.code, 'error');
    assert.match(unknown.status.message ?? '', /no_such_tool/);
  });

  it('takes the parent from params._meta.traceparent (SEP-414)', () => {
    const alerts = only(
      servers('tools/call get_alerts').filter((s) => s.traceId === meta.traceId),
      'alerts call in the _meta trace',
    );
    assert.equal(alerts.parentSpanId, meta.spanId);
    assert.deepEqual(alerts.links, []);
    assert.ok(childrenOf(alerts).some((s) => String(s.attributes['url.full']).includes('/alerts/active')));
  });

  it('gives each request of a batch its own span', () => {
    const ids = collector.spans.filter((s) => s.kind === 'server').map((s) => s.attributes['jsonrpc.request.id']);
    assert.ok(ids.includes('batch-1') && ids.includes('batch-2'), `batch ids among ${ids.join(', ')}`);
    const list = collector.spans.find((s) => s.attributes['jsonrpc.request.id'] === 'batch-2')!;
    assert.equal(list.name, 'tools/list');
  });

  it('records a request refused before any server with the error the client got', () => {
    const refused = spanOfRequest('refused-1', 'refused request');
    assert.equal(refused.name, 'tools/list');
    assert.equal(refused.attributes['error.type'], '-32001');
    assert.equal(refused.status.code, 'error');
    // A version the request named and the gateway does not speak is not a protocol version.
    const badVersion = spanOfRequest('refused-version', 'request refused for its version');
    assert.equal(badVersion.attributes['error.type'] !== undefined, true);
    assert.equal(badVersion.attributes['mcp.protocol.version'], undefined);
  });

  it('serves the 2026-07-28 era alike: parent from _meta, the HTTP context linked', () => {
    const call = spanOfRequest('modern-1', 'modern call');
    assert.equal(call.name, 'tools/call get_forecast');
    assert.equal(call.attributes['mcp.gateway.era'], 'modern');
    assert.equal(call.attributes['mcp.protocol.version'], MODERN);
    assert.equal(call.traceId, modernMeta.traceId);
    assert.equal(call.parentSpanId, modernMeta.spanId);
    assert.deepEqual(call.links, [{ traceId: modernHeader.traceId, spanId: modernHeader.spanId }]);
    assert.ok(childrenOf(call).length >= 1, 'its upstream requests are its children');
    assert.equal(call.attributes['mcp.gateway.session'], undefined, 'the modern era has no session');
  });

  it('exports mcp.server.operation.duration by method, tool, route and error.type', () => {
    const duration = collector.lastMetric('mcp.server.operation.duration')!;
    assert.equal(duration.type, 'histogram');
    assert.equal(duration.unit, 's');
    const point = (filter: Record<string, unknown>) =>
      duration.points.find(
        (p) =>
          Object.entries(filter).every(([k, v]) => p.attributes[k] === v) &&
          Object.keys(filter).includes('error.type') === 'error.type' in p.attributes,
      );
    const ok = point({
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': 'get_forecast',
      'mcp.gateway.route': 'weather',
      'mcp.gateway.era': 'legacy',
    });
    assert.ok(ok && ok.count! >= 2, 'the successful forecasts');
    const failed = point({ 'gen_ai.tool.name': 'get_forecast', 'mcp.gateway.era': 'legacy', 'error.type': 'tool_error' });
    assert.equal(failed?.count, 1);
    const unknown = point({ 'mcp.method.name': 'tools/call', 'error.type': '-32602' });
    assert.equal(unknown?.attributes['gen_ai.tool.name'], '_OTHER', 'a name never answered without an error is not a metric attribute');
    assert.ok(point({ 'mcp.gateway.era': 'modern', 'gen_ai.tool.name': 'get_forecast' }));
    for (const p of duration.points) assert.equal(p.attributes['mcp.gateway.session'], undefined);
  });

  it('exports sessions, cache, upstream and backoff metrics', () => {
    const sessions = collector.lastMetric('mcp.gateway.session.active')!;
    assert.deepEqual(
      sessions.points.map((p) => p.attributes).sort((a, b) => String(a['mcp.gateway.route']).localeCompare(String(b['mcp.gateway.route']))),
      [
        { 'mcp.gateway.route': 'broken', 'mcp.gateway.era': 'legacy' },
        { 'mcp.gateway.route': 'modernchild', 'mcp.gateway.era': 'legacy' },
        { 'mcp.gateway.route': 'probe', 'mcp.gateway.era': 'legacy' },
        { 'mcp.gateway.route': 'time', 'mcp.gateway.era': 'legacy' },
        { 'mcp.gateway.route': 'weather', 'mcp.gateway.era': 'legacy' },
      ],
    );
    const requests = collector.lastMetric('mcp.gateway.cache.requests')!;
    const count = (outcome: string) => requests.points.find((p) => p.attributes['mcp.gateway.cache.outcome'] === outcome)?.value ?? 0;
    assert.ok(count('hit') >= 2 && count('miss') >= 3 && count('coalesced') >= 1, JSON.stringify(requests.points));
    assert.ok(collector.lastMetric('mcp.gateway.cache.stale_served'));
    // The cache's upstream host by its origin, the command route's server by the route and its kind.
    for (const name of ['mcp.gateway.upstream.backing_off', 'mcp.gateway.upstream.consecutive_failures']) {
      const points = collector.lastMetric(name)!.points;
      assert.deepEqual(
        points.filter((p) => p.attributes['mcp.gateway.route'] === undefined),
        [{ attributes: { 'server.address': '127.0.0.1', 'server.port': Number(new URL(nws.url).port), 'url.scheme': 'http' }, value: 0 }],
        name,
      );
      assert.deepEqual(
        points.filter((p) => p.attributes['mcp.gateway.route'] === 'probe'),
        [{ attributes: { 'mcp.gateway.route': 'probe', 'mcp.gateway.upstream': 'command' }, value: 0 }],
        name,
      );
    }
    // The route whose child exited before it answered: one failure, not yet backing off.
    const failures = collector.lastMetric('mcp.gateway.upstream.consecutive_failures')!.points;
    assert.deepEqual(
      failures.find((p) => p.attributes['mcp.gateway.route'] === 'broken'),
      { attributes: { 'mcp.gateway.route': 'broken', 'mcp.gateway.upstream': 'command' }, value: 1 },
    );
    // Auth refusals, by route and reason: the status page's counts.
    assert.deepEqual(
      [...collector.lastMetric('mcp.gateway.auth.refusals')!.points].sort((a, b) => a.value! - b.value!),
      [
        { attributes: { 'mcp.gateway.route': 'time', 'mcp.gateway.auth.reason': 'invalid' }, value: 1 },
        { attributes: { 'mcp.gateway.route': 'time', 'mcp.gateway.auth.reason': 'missing' }, value: 2 },
      ],
    );
    const upstream = collector.lastMetric('http.client.request.duration')!;
    assert.ok(
      upstream.points.some((p) => p.attributes['http.response.status_code'] === 200 && p.attributes['mcp.gateway.cache'] === 'miss'),
    );
  });

  it('exports no session id, API key or tool argument anywhere', () => {
    assert.ok(collector.requests.length >= 2);
    assert.equal(sessionIds.length, 4);
    for (const { body } of collector.requests) {
      for (const id of sessionIds) assert.ok(!body.includes(id), 'a raw session id was exported');
      assert.ok(!body.includes(API_KEY), 'the API key was exported');
      assert.ok(!body.includes(SECRET_ZONE), 'a tool argument was exported');
      assert.ok(!body.includes('"latitude"'), 'tool arguments were exported');
      assert.ok(!body.includes('gen_ai.tool.call'), 'tool content was exported without the opt-in');
    }
  });
});
