/**
 * The status page's traffic rows for a route with many tools: every tool called has its own row,
 * whatever the number of tools, while names the route does not have stay one `_OTHER` row.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectClient, startInProcessGateway, type InProcessGateway } from '../helpers/gateway.js';
import { fixturePath } from '../helpers/project.js';

/** More tools than the traffic window once kept keys per route (64). */
const TOOLS = 100;

let gw: InProcessGateway;
let operations: Array<{ method: string; target?: string; requests: number }>;

before(async () => {
  gw = await startInProcessGateway(
    `servers:\n  probe:\n    command: node\n    args: [${JSON.stringify(fixturePath('stdio', 'probe-server.mjs'))}]\n`,
  );
  const { client } = await connectClient(`${gw.url}/mcp/probe`);
  for (let i = 0; i < TOOLS; i++) await client.callTool({ name: 'grow', arguments: {} });
  await client.listTools();
  for (let i = 1; i <= TOOLS; i++) await client.callTool({ name: `grown-${i}`, arguments: {} });
  assert.equal((await client.callTool({ name: 'no-such-tool', arguments: {} })).isError, true);
  await client.close();
  operations = (await gw.gateway.status('http://x')).routes[0]!.traffic.operations;
});

after(async () => {
  await gw?.close();
});

describe('the status page of a route with many tools', () => {
  it('has a row for each tool called', () => {
    const calls = new Map(operations.filter((o) => o.method === 'tools/call').map((o) => [o.target, o.requests]));
    assert.equal(calls.get('grow'), TOOLS);
    for (let i = 1; i <= TOOLS; i++) assert.equal(calls.get(`grown-${i}`), 1, `grown-${i}`);
    assert.equal(calls.get('_OTHER'), 1, 'the unknown tool');
    assert.equal(calls.size, TOOLS + 2);
  });
});
