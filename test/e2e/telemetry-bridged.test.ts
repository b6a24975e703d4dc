/**
 * The CLIENT span of a request forwarded to a command route's server, when its caller cancels it:
 * `cancelled`, like the request's SERVER span, and not a failure. The gateway runs as a process
 * exporting to a loopback collector, and is stopped before anything is checked (its drain
 * flushes what is pending).
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { connectClient, startGatewayProcess, type GatewayProcess } from '../helpers/gateway.js';
import { fixturePath } from '../helpers/project.js';
import { startOtlpCollector, type OtlpCollector } from '../helpers/otlp-collector.js';
import { until } from '../helpers/until.js';

let collector: OtlpCollector;
let gateway: GatewayProcess;

before(async () => {
  collector = await startOtlpCollector();
  gateway = await startGatewayProcess(
    `servers:\n  probe:\n    command: node\n    args: [${JSON.stringify(fixturePath('stdio', 'probe-server.mjs'))}]\n`,
    {
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    },
  );
  const { client } = await connectClient(`${gateway.url}/mcp/probe`);
  const cancel = new AbortController();
  const call = client.callTool({ name: 'sleep', arguments: { ms: 5000 } }, { signal: cancel.signal });
  // Cancelled once the gateway has the call (its route's status says so), not after a guess.
  await until(async () => {
    const status = (await (await fetch(`${gateway.url}/status.json`)).json()) as { routes: Array<{ name: string; inFlight: number }> };
    return status.routes.find((route) => route.name === 'probe')!.inFlight === 1;
  }, 'the call to be in flight');
  cancel.abort();
  await assert.rejects(call);
  // The upstream's answer to the cancellation comes back to the gateway after a moment.
  await sleep(300);
  await client.close();
  assert.equal(await gateway.stop(), 0);
});

after(async () => {
  await gateway?.stop();
  await collector?.close();
});

describe('a cancelled call on a command route', () => {
  it("says cancelled on the forwarded request's CLIENT span, which is not marked failed, as its SERVER span", () => {
    const server = collector.spans.find((s) => s.kind === 'server' && s.name === 'tools/call sleep');
    const client = collector.spans.find((s) => s.kind === 'client' && s.name === 'tools/call sleep');
    assert.ok(server && client, JSON.stringify(collector.spans.map((s) => [s.kind, s.name])));
    assert.equal(client.parentSpanId, server.spanId);
    assert.equal(server.attributes['error.type'], 'cancelled');
    assert.equal(server.status.code, 'unset');
    assert.equal(client.attributes['error.type'], 'cancelled');
    assert.equal(client.status.code, 'unset', 'a cancellation is not a failure of the upstream');
  });
});
