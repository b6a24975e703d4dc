/**
 * The reference the gateway is measured against: one MCP route written the way the SDK's examples
 * write it (`simpleStreamableHttp.ts`, `jsonResponseStreamableHttp.ts`): `createMcpExpressApp()`,
 * one map of sessions, a `StreamableHTTPServerTransport` and an `McpServer` per session. It serves
 * the same time server the gateway mounts, at `/mcp`, and nothing else: no logging, no bounds on
 * the map, no idle expiry, no status page.
 *
 * Run as its own process by the benchmarks: `PORT=0 node dist/bench/reference/minimal-sdk-server.js`
 * prints `listening http://127.0.0.1:<port>/mcp` once it accepts connections.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Request, Response } from 'express';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { createTimeServer } from '../../servers/time/index.js';

const transports = new Map<string, StreamableHTTPServerTransport>();
const app = createMcpExpressApp();

app.post('/mcp', async (req: Request, res: Response) => {
  const sessionId = req.headers['mcp-session-id'] as string | undefined;
  const existing = sessionId ? transports.get(sessionId) : undefined;
  if (existing) {
    await existing.handleRequest(req, res, req.body);
    return;
  }
  if (sessionId || !isInitializeRequest(req.body)) {
    res
      .status(sessionId ? 404 : 400)
      .json({ jsonrpc: '2.0', error: { code: -32000, message: 'Bad Request: No valid session ID provided' }, id: null });
    return;
  }
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
  await transport.handleRequest(req, res, req.body);
});

// GET (the server's event stream) and DELETE (end the session) go to the session's transport.
const sessionRequest = async (req: Request, res: Response) => {
  const transport = transports.get(req.headers['mcp-session-id'] as string);
  if (!transport) {
    res.status(404).send('Session not found');
    return;
  }
  await transport.handleRequest(req, res);
};
app.get('/mcp', sessionRequest);
app.delete('/mcp', sessionRequest);

const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`listening http://127.0.0.1:${port}/mcp\n`);
});
process.once('SIGTERM', () => process.exit(0));
