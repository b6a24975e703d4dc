/**
 * The list answers of the modern era, without the rest of the gateway: the gateway rewrites them
 * and writes them itself (hints set, hidden tools left out, the SDK's headers kept, the length in
 * bytes).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  McpServer,
  PROTOCOL_VERSION_META_KEY,
  type JSONRPCMessage,
} from '@modelcontextprotocol/server';
import pino from 'pino';
import { z } from 'zod';
import { createModernEra, type ModernEraOptions } from '../../src/gateway/protocol/modern.js';
import { createTelemetry } from '../../src/gateway/telemetry/telemetry.js';

const MODERN = '2026-07-28';
/** Not ASCII, so a length counted in characters would be short. */
const DESCRIPTION = 'Grüße aus 東京 — says hello';

function helloServer(): McpServer {
  const server = new McpServer({ name: 'hello', version: '1.0.0' });
  for (const name of ['hello', 'hidden'])
    server.registerTool(name, { description: DESCRIPTION, inputSchema: z.object({ who: z.string() }) }, async ({ who }) => ({
      content: [{ type: 'text', text: `hello ${who}` }],
    }));
  return server;
}

const servers: Server[] = [];
/** A node:http server in front of one modern era, reading the body as the gateway's edge does. */
async function serve(options: Pick<ModernEraOptions, 'tools' | 'listTtl' | 'cacheScope'>): Promise<string> {
  const era = createModernEra({
    route: 'hello',
    createServer: helloServer,
    keepAlive: 15_000,
    logger: pino({ level: 'silent' }),
    telemetry: createTelemetry(),
    ...options,
  });
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    await era.serve({
      req,
      res,
      body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as JSONRPCMessage,
      authInfo: undefined,
      owner: '127.0.0.1',
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp/hello`;
}
after(() => Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve)))));

const envelope = {
  [PROTOCOL_VERSION_META_KEY]: MODERN,
  [CLIENT_CAPABILITIES_META_KEY]: {},
  [CLIENT_INFO_META_KEY]: { name: 't', version: '1' },
};

async function post(url: string, method: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': MODERN,
      'mcp-method': method,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 7, method, params: { _meta: envelope } }),
  });
  const bytes = Buffer.from(await response.arrayBuffer());
  const body = JSON.parse(bytes.toString('utf8')) as {
    id: number;
    result: Record<string, unknown> & { tools?: Array<{ name: string; description: string }> };
  };
  return { response, bytes, body };
}

describe('list answers the modern era rewrites', () => {
  let open: string;
  let filtered: string;
  before(async () => {
    open = await serve({ tools: undefined, listTtl: 60_000, cacheScope: 'public' });
    filtered = await serve({ tools: { deny: ['hidden'] }, listTtl: 5_000, cacheScope: 'private' });
  });

  it("carries the route's hints, the SDK's content type and its length in bytes", async () => {
    for (const method of ['tools/list', 'server/discover']) {
      const { response, bytes, body } = await post(open, method);
      assert.equal(response.status, 200, method);
      assert.equal(response.headers.get('content-type'), 'application/json', method);
      assert.equal(Number(response.headers.get('content-length')), bytes.byteLength, method);
      assert.deepEqual([body.id, body.result.ttlMs, body.result.cacheScope], [7, 60_000, 'public'], method);
    }
    const { body } = await post(open, 'tools/list');
    assert.deepEqual(
      body.result.tools!.map((tool) => [tool.name, tool.description]),
      [
        ['hello', DESCRIPTION],
        ['hidden', DESCRIPTION],
      ],
    );
  });

  it('leaves hidden tools out when it parses the answer, with the same headers and a length that fits', async () => {
    const { response, bytes, body } = await post(filtered, 'tools/list');
    assert.equal(response.headers.get('content-type'), 'application/json');
    assert.equal(Number(response.headers.get('content-length')), bytes.byteLength);
    assert.deepEqual(
      body.result.tools!.map((tool) => tool.name),
      ['hello'],
    );
    assert.deepEqual([body.result.ttlMs, body.result.cacheScope], [5_000, 'private']);
  });
});
