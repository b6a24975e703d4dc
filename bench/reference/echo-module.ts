/**
 * The echo server of the bridge benchmarks as a gateway module (`module:` route): the same `echo`
 * tool as bench/reference/stdio-echo-server.ts, served in the gateway's process. Measured beside
 * the `command:` route in the same gateway, it separates what HTTP and the gateway cost from what
 * the bridge to a child adds.
 */
import { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';

export function createServer(): McpServer {
  const server = new McpServer({ name: 'bench-echo', version: '1.0.0' });
  server.registerTool(
    'echo',
    { description: 'Answers with its message', inputSchema: z.object({ message: z.string() }) },
    async ({ message }) => ({
      content: [{ type: 'text' as const, text: message }],
    }),
  );
  return server;
}
