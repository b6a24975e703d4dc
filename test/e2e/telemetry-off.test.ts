/**
 * Telemetry off, the default: the gateway in this process with no telemetry configured serves and
 * counts its requests for the status page, and OpenTelemetry's packages are never loaded (they are
 * CommonJS, so each would be in the module cache once imported).
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { CLIENT_CAPABILITIES_META_KEY, CLIENT_INFO_META_KEY, PROTOCOL_VERSION_META_KEY } from '@modelcontextprotocol/client';
import { until } from '../helpers/until.js';
import { connectClient, fixtureModule, MCP_POST_HEADERS, shippedModule, startInProcessGateway } from '../helpers/gateway.js';

const MODERN = '2026-07-28';

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

  it('counts a call its client gave up on as cancelled, not as an error, in both eras', async () => {
    const gw = await startInProcessGateway(`servers:\n  echo:\n    module: ${fixtureModule('echo')}\n`);
    const traffic = async () => (await gw.gateway.status('http://x')).routes[0]!.traffic;
    // Aborted once the gateway has the call, not after a guess at how long that takes.
    const inFlight = () => until(() => gw.gateway.routes.get('echo')!.inFlight === 1, 'the call to reach the gateway');
    try {
      // 2026-07-28: the client aborts while the tool is still running; the SDK cancels the call.
      const gone = new AbortController();
      const modern = fetch(`${gw.url}/mcp/echo`, {
        method: 'POST',
        signal: gone.signal,
        headers: { ...MCP_POST_HEADERS, 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': 'slow' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: {
            name: 'slow',
            arguments: { ms: 2000, text: 'late' },
            _meta: {
              [PROTOCOL_VERSION_META_KEY]: MODERN,
              [CLIENT_CAPABILITIES_META_KEY]: {},
              [CLIENT_INFO_META_KEY]: { name: 'raw', version: '1' },
            },
          },
        }),
      });
      await inFlight();
      gone.abort();
      await assert.rejects(modern, { name: 'AbortError' });
      let seen = await traffic();
      await until(async () => (seen = await traffic()).requests >= 1, 'the call to be counted');
      assert.equal(seen.requests, 1);
      assert.equal(seen.errors, 0, 'the client went away: not an error of the server');
      assert.deepEqual(seen.errorTypes, { cancelled: 1 });
      assert.equal(seen.p50Ms, null, 'nor a latency of the server');
      const page = await (await fetch(`${gw.url}/`)).text();
      assert.match(page, /0 errors<\/span> · 1 cancelled/);

      // A 2025 session: the client's abort cancels the call (notifications/cancelled), which the
      // server then does not answer; counted as cancelled at once, not when the session ends.
      const { client } = await connectClient(`${gw.url}/mcp/echo`);
      const dropped = new AbortController();
      const call = client.callTool({ name: 'slow', arguments: { ms: 2000, text: 'x' } }, { signal: dropped.signal });
      await inFlight();
      dropped.abort();
      await assert.rejects(call);
      await until(async () => (seen = await traffic()).requests >= 3, 'the 2025 call to be counted');
      assert.equal(seen.requests, 3, 'the modern call, the initialize and the 2025 call');
      assert.equal(seen.errors, 0, JSON.stringify(seen.errorTypes));
      assert.deepEqual(seen.errorTypes, { cancelled: 2 });
      assert.match(await (await fetch(`${gw.url}/`)).text(), /0 errors<\/span> · 2 cancelled/);
      await client.close();
    } finally {
      await gw.close();
    }
  });
});
