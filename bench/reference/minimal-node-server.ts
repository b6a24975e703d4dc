/**
 * The minimal SDK server of `minimal-sdk-server.ts` without a web framework: the same session map,
 * `StreamableHTTPServerTransport` and time server per session, on `node:http` directly, the body
 * read and parsed by hand. Not how the SDK's examples are written (they use express); here to
 * show what the SDK's transport itself costs, and so what the gateway adds to it.
 *
 * With `BENCH_OTEL=1` (and `OTEL_EXPORTER_OTLP_ENDPOINT`) it also makes, per POSTed request, what
 * the gateway makes with export on: a SERVER span with the MCP conventions' attributes and a point
 * of `mcp.server.operation.duration`, exported over OTLP/HTTP protobuf by the same SDK packages
 * (otel-instrument.ts). Measured against itself without, that is what OpenTelemetry's JS SDK
 * costs a server this cheap: the floor under the gateway's own telemetry cost.
 *
 * Run as its own process by the benchmarks: `PORT=0 node dist/bench/reference/minimal-node-server.js`
 * prints `listening http://127.0.0.1:<port>/mcp` once it accepts connections.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { createTimeServer } from '../../servers/time/index.js';
import { instrument } from './otel-instrument.js';

/** The span and point of one request, when `BENCH_OTEL=1`. */
const observe = process.env.BENCH_OTEL === '1' ? await instrument() : undefined;

const transports = new Map<string, StreamableHTTPServerTransport>();

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return chunks.length === 0 ? undefined : JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function refuse(res: ServerResponse, status: number, message: string): void {
  res
    .writeHead(status, { 'content-type': 'application/json' })
    .end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.url !== '/mcp') return refuse(res, 404, 'Not found');
  const sessionId = req.headers['mcp-session-id'] as string | undefined;
  const existing = sessionId ? transports.get(sessionId) : undefined;
  if (req.method !== 'POST') {
    if (!existing) return refuse(res, 404, 'Session not found');
    return existing.handleRequest(req, res);
  }
  const body = await readJson(req);
  if (observe) observe(body, sessionId, res);
  if (existing) return existing.handleRequest(req, res, body);
  if (sessionId || !isInitializeRequest(body)) return refuse(res, sessionId ? 404 : 400, 'Bad Request: No valid session ID provided');
  const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
    sessionIdGenerator: () => randomUUID(),
    onsessioninitialized: (id) => {
      transports.set(id, transport);
    },
  });
  transport.onclose = () => {
    if (transport.sessionId) transports.delete(transport.sessionId);
  };
  await createTimeServer({ localTimezone: 'UTC' }).connect(transport);
  await transport.handleRequest(req, res, body);
}

const server = createServer((req, res) => {
  handle(req, res).catch(() => refuse(res, 400, 'Parse error'));
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`listening http://127.0.0.1:${port}/mcp\n`);
});
process.once('SIGTERM', () => process.exit(0));
