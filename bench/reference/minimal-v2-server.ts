/**
 * The SDK v2 reference: a minimal server as SDK v2 writes one, `createMcpHandler(factory)` on
 * `node:http` through `toNodeHandler`, serving the time server (`servers/time`, the module the
 * gateway's `/mcp/time` serves, with `localTimezone: 'UTC'`). MCP 2026-07-28 has no sessions: the
 * factory builds a fresh `McpServer` for every request (and the handler answers 2025-era requests
 * statelessly, the same way).
 *
 * Run as its own process by the benchmarks: `PORT=0 node dist/bench/reference/minimal-v2-server.js`
 * prints `listening http://127.0.0.1:<port>/mcp` once it accepts connections.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler } from '@modelcontextprotocol/server';
import { createTimeServer } from '../../servers/time/index.js';

const server = createServer(toNodeHandler(createMcpHandler(() => createTimeServer({ localTimezone: 'UTC' }))));
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`listening http://127.0.0.1:${port}/mcp\n`);
});
process.once('SIGTERM', () => process.exit(0));
