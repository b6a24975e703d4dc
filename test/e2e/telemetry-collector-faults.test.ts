/**
 * A collector that fails, as seen from the gateway process: answering every export with an error
 * (and a large body), or never answering. Requests are served as before, the SDK's complaints are
 * short log lines, and the gateway still stops within its flush deadline.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { connectClient, shippedModule, startGatewayProcess, type GatewayProcess } from '../helpers/gateway.js';
import { startOtlpCollector, type OtlpCollector } from '../helpers/otlp-collector.js';

const YAML = `servers:\n  time:\n    module: ${shippedModule('time')}\n`;
/** Exports often, so that a few happen while the test runs. */
const OFTEN = { OTEL_BSP_SCHEDULE_DELAY: '50', OTEL_METRIC_EXPORT_INTERVAL: '200' };
/** The flush at exit gives up after 5 s (main.ts); the drain and the process's end take a little more. */
const STOP_DEADLINE_MS = 8_000;

const started: Array<{ gateway: GatewayProcess; collector: OtlpCollector }> = [];
after(async () => {
  for (const { gateway, collector } of started) {
    await gateway.stop('SIGKILL');
    await collector.close();
  }
});

async function gatewayWithFailingCollector(fault: Parameters<OtlpCollector['fail']>[0]) {
  const collector = await startOtlpCollector();
  collector.fail(fault);
  const gateway = await startGatewayProcess(YAML, { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, ...OFTEN });
  started.push({ gateway, collector });
  return { gateway, collector };
}

async function callTimes(gateway: GatewayProcess, times: number) {
  const { client } = await connectClient(`${gateway.url}/mcp/time`);
  for (let i = 0; i < times; i++) {
    const result = await client.callTool({ name: 'get_current_time', arguments: { timezone: 'UTC' } });
    assert.notEqual(result.isError, true);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await client.close();
}

describe('a failing collector', () => {
  it('answering every export 500 with a large body: requests are served, and its complaints are short log lines', async () => {
    const { gateway, collector } = await gatewayWithFailingCollector({ status: 500, body: 'collector says no. '.repeat(20_000) });
    await callTimes(gateway, 30);
    assert.equal(await gateway.stop(), 0);
    assert.ok(collector.requests.length === 0);
    const complaints = gateway.stdout.filter((line) => line.includes('"telemetry: '));
    assert.ok(complaints.length > 0, 'the failed exports are logged');
    for (const line of complaints) assert.ok(line.length < 2_000, `a ${line.length}-character log line: ${line.slice(0, 200)}…`);
  });

  it('never answering: requests are served, and the gateway stops within its flush deadline', async () => {
    const { gateway } = await gatewayWithFailingCollector('hang');
    await callTimes(gateway, 10);
    const stopping = performance.now();
    assert.equal(await gateway.stop(), 0);
    assert.ok(performance.now() - stopping < STOP_DEADLINE_MS, `stopped in ${Math.round(performance.now() - stopping)} ms`);
    assert.ok(gateway.stdout.some((line) => line.includes('telemetry: export did not finish before exit')));
  });
});
