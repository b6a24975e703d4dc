/**
 * The backoff gauges of command and url routes, end to end: the built gateway as a process
 * exporting OTLP/HTTP JSON to a loopback collector, with a command route whose child keeps exiting
 * before it answers (test/fixtures/stdio/gated-server.mjs, told `exit` by its file), a url route
 * whose server refuses every connection, and a command route whose server answers. The points are
 * checked by their attributes (the route and its kind, never the command line or the URL) and
 * against /status.json, which shows the same schedules: in a periodic export before and while the
 * routes back off, and in the one the drain flushes when the gateway stops. The backoff lasts an
 * hour, so nothing in the test (not even the status page listing a route's tools) tries a server
 * again and changes what is checked.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { BackoffState } from '../../src/gateway/backoff-schedule.js';
import { MCP_POST_HEADERS, initializeBody, shippedModule, startGatewayProcess, textOf, type GatewayProcess } from '../helpers/gateway.js';
import { startOtlpCollector, type AttributeMap, type OtlpCollector } from '../helpers/otlp-collector.js';
import { processesWith } from '../helpers/processes.js';
import { fixturePath } from '../helpers/project.js';
import { tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/until.js';

const GATED = fixturePath('stdio', 'gated-server.mjs');
const PROBE = fixturePath('stdio', 'probe-server.mjs');
const marker = `telemetry-backoff-${randomUUID()}`;
const modeFile = path.join(tempDir('telemetry-backoff'), 'mode');
/** Secrets in the url route's address and headers, which no export may carry. */
const URL_SECRET = `url-secret-${randomUUID()}`;
const HEADER_SECRET = `header-secret-${randomUUID()}`;

/** A loopback port nothing listens on: connections to it are refused. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

let collector: OtlpCollector;
let gateway: GatewayProcess;

before(async () => {
  collector = await startOtlpCollector();
  // Every child of the gated route exits with code 1 before it answers anything.
  writeFileSync(modeFile, 'exit');
  const port = await closedPort();
  const yaml = [
    'servers:',
    '  gated:',
    `    command: ${process.execPath}`,
    `    args: [${JSON.stringify(GATED)}, ${JSON.stringify(modeFile)}, ${JSON.stringify(marker)}]`,
    '  remote:',
    `    url: http://127.0.0.1:${port}/mcp?key=${URL_SECRET}`,
    `    headers: { Authorization: "Bearer ${HEADER_SECRET}" }`,
    '  probe:',
    `    command: ${process.execPath}`,
    `    args: [${JSON.stringify(PROBE)}, ${JSON.stringify(marker)}]`,
    '  time:',
    `    module: ${shippedModule('time')}`,
    // Nothing is tried again within the test: a route backing off stays so, whatever looks at it.
    'cache:',
    '  backoff: { afterFailures: 2, initial: 1h, max: 1h }',
    '',
  ].join('\n');
  gateway = await startGatewayProcess(yaml, {
    OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_TRACES_EXPORTER: 'none',
    // Exports while the test runs: one before the routes fail, one while they back off.
    OTEL_METRIC_EXPORT_INTERVAL: '100',
  });
});

after(async () => {
  await gateway?.stop();
  await collector?.close();
  await until(() => processesWith(marker).length === 0, 'the children to exit');
});

/** A 2025 `initialize` posted as it is: the HTTP status and the gateway's error code. */
async function initialize(route: string): Promise<{ status: number; code?: string }> {
  const response = await fetch(`${gateway.url}/mcp/${route}`, {
    method: 'POST',
    headers: MCP_POST_HEADERS,
    body: JSON.stringify(initializeBody()),
  });
  const body = (await response.json()) as { error?: { data?: { code?: string } } };
  return { status: response.status, ...(body.error?.data?.code ? { code: body.error.data.code } : {}) };
}

async function backoffOnStatusPage(route: string): Promise<BackoffState> {
  const status = (await (await fetch(`${gateway.url}/status.json`)).json()) as {
    routes: Array<{ name: string; upstream: { backoff?: BackoffState } }>;
  };
  return status.routes.find((r) => r.name === route)!.upstream.backoff!;
}

/** A route's point of a gauge in the last export that has one, or undefined. */
function routePoint(metric: string, route: string): { attributes: AttributeMap; value?: number } | undefined {
  return collector.lastMetric(metric)?.points.find((p) => p.attributes['mcp.gateway.route'] === route);
}

/** `[backing_off, consecutive_failures]` of a route in the last export. */
const gauges = (route: string) => [
  routePoint('mcp.gateway.upstream.backing_off', route)?.value,
  routePoint('mcp.gateway.upstream.consecutive_failures', route)?.value,
];

describe("a command or url route's backoff in the exported metrics", () => {
  it('exports each route backing off by route and kind, as the status page shows it', async () => {
    // Every command and url route has its series from the start, before its server was asked.
    await until(() => gauges('gated')[0] === 0 && gauges('remote')[0] === 0, 'an export with both routes ok');
    assert.deepEqual(gauges('gated'), [0, 0]);
    for (const route of ['gated', 'remote']) {
      for (let attempt = 0; attempt < 3; attempt++)
        assert.deepEqual(await initialize(route), { status: 502, code: 'upstream_unavailable' }, `attempt ${attempt + 1} on ${route}`);
    }
    assert.equal(
      gateway.stdout.filter((line) => line.includes('"server process failed to start"')).length,
      2,
      'the third started no child',
    );
    await until(() => gauges('gated')[0] === 1 && gauges('remote')[0] === 1, 'an export with both routes backing off');
    for (const [route, kind, lastError] of [
      ['gated', 'command', 'exited with code 1'],
      ['remote', 'url', 'ECONNREFUSED'],
    ] as const) {
      const attributes = { 'mcp.gateway.route': route, 'mcp.gateway.upstream': kind };
      assert.deepEqual(routePoint('mcp.gateway.upstream.backing_off', route), { attributes, value: 1 });
      assert.deepEqual(routePoint('mcp.gateway.upstream.consecutive_failures', route), { attributes, value: 2 });
      const { retryInSeconds, ...backoff } = await backoffOnStatusPage(route);
      assert.deepEqual(backoff, { state: 'backingOff', consecutiveFailures: 2, intervalSeconds: 3600, lastError });
      // Whole seconds on the gateway's own clock since the failure: the wait for an export may take a few.
      assert.ok(retryInSeconds !== undefined && retryInSeconds > 3500 && retryInSeconds <= 3600, `retryInSeconds ${retryInSeconds}`);
    }
  });

  it('exports 0 for a route whose server answers, and nothing for a module route', async () => {
    const client = new Client({ name: 'telemetry-backoff-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp/probe`)));
    assert.ok(JSON.parse(textOf(await client.callTool({ name: 'pid', arguments: {} }))).pid);
    await client.close();
    assert.deepEqual(await backoffOnStatusPage('probe'), { state: 'ok', consecutiveFailures: 0 });
    // The drain flushes a last export: its gauges read the state the gateway stopped in.
    assert.equal(await gateway.stop(), 0);
    assert.deepEqual(routePoint('mcp.gateway.upstream.backing_off', 'probe'), {
      attributes: { 'mcp.gateway.route': 'probe', 'mcp.gateway.upstream': 'command' },
      value: 0,
    });
    assert.deepEqual(gauges('probe'), [0, 0]);
    assert.deepEqual(gauges('gated'), [1, 2]);
    assert.deepEqual(gauges('remote'), [1, 2]);
    // A module's server lives in the gateway: nothing of its own to back off from.
    assert.equal(routePoint('mcp.gateway.upstream.backing_off', 'time'), undefined);
  });

  it('exports neither the command line nor the URL or headers of a route', () => {
    assert.ok(collector.requests.length >= 3);
    for (const { body } of collector.requests) {
      for (const secret of [URL_SECRET, HEADER_SECRET, GATED, modeFile, marker]) assert.ok(!body.includes(secret), `exported ${secret}`);
    }
  });
});
