/**
 * A remote MCP server as many are deployed: the 1.x SDK's Streamable HTTP transport with sessions,
 * on loopback, for `url:` routes to stand in front of. A test gives each session's tools
 * (`register`) and may answer any request itself instead (`intercept`). And one that speaks only
 * the 2024 HTTP+SSE protocol ({@link startV1SseRemote}).
 */
import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer as V1McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport as V1SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { StreamableHTTPServerTransport as V1StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

export interface V1Remote {
  /** Its MCP endpoint, `http://127.0.0.1:<port>/mcp`. */
  readonly url: string;
  /** Answers a request itself, instead of the MCP server, when it returns true; the body is parsed JSON, if any. */
  intercept: (req: IncomingMessage, res: ServerResponse, body: unknown) => boolean | Promise<boolean>;
  /** The sessions it holds, by id: clear it to forget them all (the next request with an id gets 404). */
  readonly sessions: Map<string, V1StreamableHTTPServerTransport>;
  close(): Promise<void>;
}

export interface V1RemoteOptions {
  /** The tools of each new session's server. */
  readonly register: (server: V1McpServer) => void;
  /** The session ids it issues (default: UUIDs). */
  readonly sessionId?: () => string;
}

export async function startV1Remote(options: V1RemoteOptions): Promise<V1Remote> {
  const sessions = new Map<string, V1StreamableHTTPServerTransport>();
  const remote: { intercept: V1Remote['intercept'] } = { intercept: () => false };
  const server: Server = createHttpServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
    if (await remote.intercept(req, res, body)) return;
    const id = req.headers['mcp-session-id'];
    let transport = typeof id === 'string' ? sessions.get(id) : undefined;
    if (!transport) {
      if (typeof id === 'string' || body?.method !== 'initialize') {
        res
          .writeHead(404, { 'content-type': 'application/json' })
          .end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }));
        return;
      }
      const created = new V1StreamableHTTPServerTransport({
        sessionIdGenerator: options.sessionId ?? randomUUID,
        onsessioninitialized: (sid) => void sessions.set(sid, created),
      });
      const mcp = new V1McpServer({ name: 'v1-remote', version: '1.0.0' });
      options.register(mcp);
      await mcp.connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res, body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(remote, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    sessions,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}

export interface V1SseRemote {
  /** Its event stream's URL, `http://127.0.0.1:<port>/sse`. */
  readonly url: string;
  /** Event streams open (one per client connection). */
  streams(): number;
  close(): Promise<void>;
}

/** A v1-SDK server that speaks only the 2024 HTTP+SSE protocol: GET /sse, then POST /messages. */
export async function startV1SseRemote(options: Pick<V1RemoteOptions, 'register'>): Promise<V1SseRemote> {
  const transports = new Map<string, V1SSEServerTransport>();
  const server: Server = createHttpServer(async (req, res) => {
    const url = new URL(req.url!, 'http://127.0.0.1');
    if (req.method === 'GET' && url.pathname === '/sse') {
      const transport = new V1SSEServerTransport('/messages', res);
      transports.set(transport.sessionId, transport);
      res.once('close', () => transports.delete(transport.sessionId));
      const mcp = new V1McpServer({ name: 'v1-sse', version: '1.0.0' });
      options.register(mcp);
      await mcp.connect(transport);
      return;
    }
    const transport = transports.get(url.searchParams.get('sessionId') ?? '');
    if (req.method === 'POST' && url.pathname === '/messages' && transport) return transport.handlePostMessage(req, res);
    res.writeHead(req.method === 'POST' ? 405 : 404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/sse`,
    streams: () => transports.size,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
