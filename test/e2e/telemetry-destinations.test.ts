/**
 * Telemetry's other destinations and settings, each with the built gateway as a process: OTLP in
 * protobuf (the default encoding) with the content opt-in; Azure Monitor against a loopback
 * ingestion endpoint, with the exporter's statsbeat off and a preload that refuses any DNS lookup
 * or connection off loopback (so nothing can leave the machine, and the test proves none tried);
 * telemetry turned off with the collector listening; settings the gateway cannot honour.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { startFakeNws } from '../helpers/fake-nws.js';
import { startFakeAppInsights } from '../helpers/fake-app-insights.js';
import { startFunctionsHost } from '../helpers/functions-host.js';
import { BLOCKED } from '../helpers/loopback-only.js';
import { connectClient, runGatewayToExit, shippedModule, startGatewayProcess } from '../helpers/gateway.js';
import { startOtlpCollector } from '../helpers/otlp-collector.js';
import { PROJECT_ROOT } from '../helpers/project.js';

const TIME_YAML = `servers:\n  time:\n    module: ${shippedModule('time')}\n`;
const LOOPBACK_ONLY = `--import=${pathToFileURL(path.join(PROJECT_ROOT, 'dist', 'test', 'helpers', 'loopback-only.js')).href}`;

describe('telemetry over OTLP/HTTP protobuf', () => {
  it('exports the same spans and metrics in the default encoding, with arguments and results only behind the opt-in', async () => {
    const collector = await startOtlpCollector();
    try {
      const gateway = await startGatewayProcess(TIME_YAML, {
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'true',
      });
      const { client } = await connectClient(`${gateway.url}/mcp/time`);
      await client.callTool({ name: 'get_current_time', arguments: { timezone: 'Asia/Kolkata' } });
      await client.close();
      assert.equal(await gateway.stop(), 0);

      assert.ok(collector.requests.every((r) => r.contentType === 'application/x-protobuf'));
      const call = collector.spans.find((s) => s.name === 'tools/call get_current_time')!;
      assert.equal(call.kind, 'server');
      assert.match(call.traceId, /^[0-9a-f]{32}$/);
      assert.equal(call.attributes['gen_ai.tool.name'], 'get_current_time');
      assert.equal(call.attributes['gen_ai.tool.call.arguments'], '{"timezone":"Asia/Kolkata"}');
      assert.match(String(call.attributes['gen_ai.tool.call.result']), /"timezone":"Asia\/Kolkata"/);
      const duration = collector.lastMetric('mcp.server.operation.duration')!;
      const point = duration.points.find((p) => p.attributes['gen_ai.tool.name'] === 'get_current_time')!;
      assert.equal(point.count, 1);
      assert.equal(point.attributes['gen_ai.tool.call.arguments'], undefined, 'content never goes into metrics');
    } finally {
      await collector.close();
    }
  });
});

describe('telemetry to Azure Monitor', () => {
  it('sends requests and dependencies to the ingestion endpoint, and nothing off loopback', async () => {
    const ingestion = await startFakeAppInsights();
    const nws = await startFakeNws();
    const key = randomUUID();
    try {
      const yaml =
        `servers:\n  weather:\n    module: ${shippedModule('weather')}\n    options:\n      baseUrl: ${nws.url}\n` +
        `      userAgent: "telemetry-test (test@example.com)"\n`;
      const gateway = await startGatewayProcess(yaml, {
        APPLICATIONINSIGHTS_CONNECTION_STRING: ingestion.connectionString(key),
        APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL: 'true',
        NODE_OPTIONS: LOOPBACK_ONLY,
        NODE_EXTRA_CA_CERTS: ingestion.caFile,
      });
      const { client, transport } = await connectClient(`${gateway.url}/mcp/weather`);
      const sessionId = transport.sessionId!;
      await client.callTool({ name: 'get_forecast', arguments: { latitude: 41.967, longitude: -71.189 } });
      // Outside the US: a tool error.
      const outside = await client.callTool({ name: 'get_forecast', arguments: { latitude: 51.5074, longitude: -0.1278 } });
      assert.equal(outside.isError, true);
      await client.close();
      assert.equal(await gateway.stop(), 0);
      assert.ok(!gateway.stderr.join('').includes(BLOCKED), `something tried to leave loopback:\n${gateway.stderr.join('')}`);
      assert.ok(gateway.stdout.some((line) => line.includes('"telemetry exporting"') && line.includes('azure-monitor')));

      const requests = ingestion.envelopes.filter((e) => e.data?.baseType === 'RequestData');
      const call = requests.find((e) => e.data?.baseData?.name === 'tools/call get_forecast' && e.data?.baseData?.success !== false);
      assert.ok(call, `a request named after the tool call among ${requests.map((e) => e.data?.baseData?.name).join(', ')}`);
      assert.equal(call.iKey, key);
      assert.equal(call.data!.baseData!.success, true);
      assert.equal(call.data!.baseData!.properties!['gen_ai.tool.name'], 'get_forecast');
      assert.equal(call.data!.baseData!.properties!['mcp.gateway.route'], 'weather');
      // The exporter keeps no error.type (an HTTP convention to it): the copy is what a query reads.
      const failed = requests.filter((e) => e.data?.baseData?.name === 'tools/call get_forecast' && e.data?.baseData?.success === false);
      assert.equal(failed.length, 1, 'the tool error is a failed request');
      assert.equal(failed[0]!.data!.baseData!.properties!['mcp.gateway.error.type'], 'tool_error');
      assert.equal(call.data!.baseData!.properties!['mcp.gateway.error.type'], undefined);
      const operationId = call.tags?.['ai.operation.id'];
      const dependencies = ingestion.envelopes.filter((e) => e.data?.baseType === 'RemoteDependencyData');
      const points = dependencies.find((e) => String(e.data?.baseData?.data).endsWith('/points/41.967,-71.189'));
      assert.ok(points, 'the upstream request is a dependency');
      assert.equal(points.tags?.['ai.operation.id'], operationId, 'in the tool call operation');
      assert.equal(points.data!.baseData!.resultCode, '200');
      const metrics = ingestion.envelopes.filter((e) => e.data?.baseType === 'MetricData');
      assert.ok(
        metrics.some((e) => JSON.stringify(e.data?.baseData).includes('mcp.server.operation.duration')),
        'the operation duration metric',
      );
      assert.deepEqual(ingestion.others, [], 'no live metrics or other calls');
      for (const body of ingestion.bodies)
        assert.ok(!body.includes(sessionId) && !body.includes('"latitude"'), 'no session id or argument');
    } finally {
      await nws.close();
      await ingestion.close();
    }
  });

  it('(the loopback-only preload does refuse what would leave the machine)', () => {
    const run = spawnSync(
      process.execPath,
      [LOOPBACK_ONLY, '--input-type=module', '-e', "await fetch('https://dc.services.visualstudio.com/v2.1/track').catch(() => {});"],
      { encoding: 'utf8', timeout: 10_000 },
    );
    assert.match(run.stderr, new RegExp(`${BLOCKED} (connection to|DNS lookup of) dc\\.services\\.visualstudio\\.com`));
  });
});

describe('telemetry under the Functions host', () => {
  it('puts the invocation id the host sends on the span, which has no parent (the host forwards no trace context)', async () => {
    const collector = await startOtlpCollector();
    try {
      const host = await startFunctionsHost({
        appRoot: PROJECT_ROOT,
        env: {
          LOG_LEVEL: 'warn',
          NWS_BASE_URL: 'http://127.0.0.1:9',
          OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
          OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        },
      });
      const { client } = await connectClient(`${host.url}/mcp/time`);
      await client.callTool({ name: 'get_current_time', arguments: { timezone: 'UTC' } });
      await client.close();
      await host.stop();
      const call = collector.spans.find((s) => s.name === 'tools/call get_current_time')!;
      assert.match(String(call.attributes['faas.invocation_id']), /^[0-9a-f-]{36}$/);
      assert.equal(call.parentSpanId, '');
    } finally {
      await collector.close();
    }
  });
});

describe('telemetry off', () => {
  it('exports nothing when OTEL_SDK_DISABLED is true, whatever else is set, and says so on /status.json', async () => {
    const collector = await startOtlpCollector();
    try {
      const gateway = await startGatewayProcess(TIME_YAML, { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_SDK_DISABLED: 'true' });
      const { client } = await connectClient(`${gateway.url}/mcp/time`);
      await client.callTool({ name: 'get_current_time', arguments: { timezone: 'UTC' } });
      await client.close();
      const status = (await (await fetch(`${gateway.url}/status.json`)).json()) as {
        telemetry: { exporters: string[] };
        routes: Array<{ traffic: { operations: Array<{ method: string; target?: string; requests: number }> } }>;
      };
      assert.deepEqual(status.telemetry.exporters, []);
      const counted = status.routes[0]!.traffic.operations.find((o) => o.method === 'tools/call' && o.target === 'get_current_time');
      assert.equal(counted?.requests, 1, 'the status page counts the call all the same');
      assert.equal(await gateway.stop(), 0);
      assert.ok(!gateway.stdout.some((line) => line.includes('"telemetry exporting"')));
      assert.deepEqual(collector.requests, []);
    } finally {
      await collector.close();
    }
  });

  it('does not start with telemetry settings it cannot honour, and names each', async () => {
    const { code, stderr } = await runGatewayToExit(TIME_YAML, {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      APPLICATIONINSIGHTS_CONNECTION_STRING: 'IngestionEndpoint=http://127.0.0.1:9/',
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=not-a-guid',
    });
    assert.equal(code, 1);
    assert.match(stderr, /invalid telemetry settings \(3 problems\)/);
    assert.match(stderr, /OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" is not supported/);
    assert.match(stderr, /APPLICATIONINSIGHTS_CONNECTION_STRING: no InstrumentationKey/);
    assert.match(stderr, /APPLICATIONINSIGHTS_AUTHENTICATION_STRING: must say Authorization=AAD/);
  });
});
