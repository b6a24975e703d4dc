/**
 * Telemetry off, the default: the gateway in this process with no telemetry configured serves and
 * counts its requests for the status page, and OpenTelemetry's packages are never loaded (they are
 * CommonJS, so each would be in the module cache once imported).
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { connectClient, shippedModule, startInProcessGateway } from '../helpers/gateway.js';

describe('telemetry off (the default)', () => {
  it('counts requests for the status page without loading any OpenTelemetry or Azure Monitor package', async () => {
    const gw = await startInProcessGateway(`servers:\n  time:\n    module: ${shippedModule('time')}\n`);
    try {
      const { client } = await connectClient(`${gw.url}/mcp/time`);
      await client.callTool({ name: 'get_current_time', arguments: { timezone: 'UTC' } });
      await client.close();
      const status = await gw.gateway.status('http://x');
      assert.deepEqual(status.telemetry.exporters, []);
      const call = status.routes[0]!.traffic.operations.find((o) => o.method === 'tools/call');
      assert.equal(call?.target, 'get_current_time');
      assert.equal(call?.requests, 1);
    } finally {
      await gw.close();
    }
    const loaded = Object.keys(createRequire(import.meta.url).cache).filter((file) =>
      /[\\/]node_modules[\\/](@opentelemetry|@azure)[\\/]/.test(file),
    );
    assert.deepEqual(loaded, []);
  });
});
