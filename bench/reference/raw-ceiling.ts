/**
 * The ceiling: `node:http` reading each request body and answering one fixed JSON-RPC result, with
 * no framework, no parsing and no MCP. Nothing written in Node on this machine answers faster, so
 * it tells how much of the load generator's and HTTP stack's cost is in every other number.
 *
 * Run as its own process by the benchmarks: `PORT=0 node dist/bench/reference/raw-ceiling.js`
 * prints `listening http://127.0.0.1:<port>/mcp` once it accepts connections.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const BODY = Buffer.from(
  JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    result: {
      content: [
        { type: 'text', text: '{"timezone":"UTC","datetime":"2026-01-01T00:00:00+00:00","day_of_week":"Thursday","is_dst":false}' },
      ],
    },
  }),
);

const server = createServer((req, res) => {
  req.resume();
  req.once('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': BODY.length });
    res.end(BODY);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`listening http://127.0.0.1:${port}/mcp\n`);
});
process.once('SIGTERM', () => process.exit(0));
