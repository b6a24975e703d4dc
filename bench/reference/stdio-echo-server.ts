/**
 * The stdio server of the bridge benchmarks: one `echo` tool on `McpServer` and
 * `StdioServerTransport` of the v1 SDK (`@modelcontextprotocol/sdk`), the way most published
 * stdio servers are written. The gateway's `command:` route, supergateway and a client talking to
 * it directly all run this same file, so the server's own work is the same in each.
 *
 * Run by the benchmarks as `node dist/bench/reference/stdio-echo-server.js`; it speaks MCP on
 * stdin and stdout, writes nothing else, and exits when stdin closes.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'bench-echo', version: '1.0.0' });
server.registerTool('echo', { description: 'Answers with its message', inputSchema: { message: z.string() } }, async ({ message }) => ({
  content: [{ type: 'text', text: message }],
}));

await server.connect(new StdioServerTransport());
