import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { GATEWAY_ERRORS, GatewayError } from '../../src/gateway/errors.js';
import { PROJECT_ROOT } from '../helpers/project.js';

describe('error registry', () => {
  it('matches the README table, row for row', () => {
    const readme = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
    const rows = [...readme.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \| (-\d+) \| (.+) \|$/gm)].map((m) => [
      m[1],
      Number(m[2]),
      Number(m[3]),
      m[4],
    ]);
    const registry = Object.entries(GATEWAY_ERRORS).map(([code, e]) => [code, e.status, e.rpc, e.summary]);
    assert.deepEqual(rows, registry);
  });

  it('renders a JSON-RPC error body carrying the stable code', () => {
    const error = new GatewayError('route_not_found', 'No MCP server at /mcp/x', { routes: ['/mcp/time'] });
    assert.equal(error.status, 404);
    assert.deepEqual(error.toJsonRpcBody(), {
      jsonrpc: '2.0',
      error: { code: -32000, message: 'No MCP server at /mcp/x', data: { code: 'route_not_found', routes: ['/mcp/time'] } },
      id: null,
    });
  });
});
