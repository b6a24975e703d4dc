/**
 * The official SDK's own clients against the real gateway: the v2 client (the one the other tests
 * use) in its default mode, and the v1 client that most deployed MCP clients are still built on.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { fixtureModule, shippedModule, startInProcessGateway, textOf, type InProcessGateway } from '../helpers/gateway.js';

let gw: InProcessGateway;
before(async () => {
  gw = await startInProcessGateway(
    `servers:\n  time:\n    module: ${shippedModule('time')}\n  echo:\n    module: ${fixtureModule('echo')}\n`,
  );
});
after(() => gw.close());

describe('SDK clients', () => {
  it('serves the v2 client in its default (2025 handshake) mode with a resumable session', async () => {
    const client = new ClientV2({ name: 'v2-default', version: '1.0.0' });
    const transport = new TransportV2(new URL(`${gw.url}/mcp/time`));
    await client.connect(transport);
    assert.equal(client.getNegotiatedProtocolVersion(), '2025-11-25');
    assert.ok(transport.sessionId && transport.sessionId.length > 100, 'a sealed session id');
    const result = await client.callTool({ name: 'get_current_time', arguments: { timezone: 'UTC' } });
    assert.equal((result.structuredContent as { timezone: string }).timezone, 'UTC');
    await client.close();
  });

  it('serves the v1 client (SDK 1.32) the same way', async () => {
    const client = new ClientV1({ name: 'v1', version: '1.0.0' });
    const transport = new TransportV1(new URL(`${gw.url}/mcp/echo`));
    await client.connect(transport);
    assert.equal(client.getServerVersion()?.name, 'echo');
    assert.ok(transport.sessionId);
    assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { text: 'from v1' } })), 'from v1');
    const { tools } = await client.listTools();
    assert.ok(tools.some((tool) => tool.name === 'slow'));
    await client.close();
  });
});
