/**
 * The SDK v2 reference: a minimal server as SDK v2 writes one, `createMcpHandler(factory)` on
 * `node:http` through `toNodeHandler`, serving the time server's tools. MCP 2026-07-28 has no
 * sessions: the factory builds a fresh `McpServer` for every request (and the handler answers
 * 2025-era requests statelessly, the same way). Schemas and tool configs are built once, outside
 * the factory, as the SDK's docs advise.
 *
 * The tools are the time module's (`servers/time/tools.ts`: same names, descriptions, schemas and
 * annotations, `localTimezone: 'UTC'`, the same arithmetic from `servers/time/time.ts`), registered
 * with v2's `McpServer`: the module itself is still written against SDK 1.32.
 *
 * Run as its own process by the benchmarks: `PORT=0 node dist/bench/reference/minimal-v2-server.js`
 * prints `listening http://127.0.0.1:<port>/mcp` once it accepts connections.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, McpServer, type CallToolResult } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { convertTime, getCurrentTime, TimeInputError } from '../../servers/time/time.js';

const LOCAL_TIMEZONE = 'UTC';
const now = () => new Date();
const useLocal = (what: string) => `Use '${LOCAL_TIMEZONE}' as local timezone if no ${what} provided by the user.`;

const zonedTime = z.object({
  timezone: z.string().describe('The IANA timezone name, as given'),
  datetime: z.string().describe("Local date and time, ISO 8601 with UTC offset, e.g. '2026-07-15T16:00:37-04:00'"),
  day_of_week: z.string().describe("English weekday name, e.g. 'Wednesday'"),
  is_dst: z.boolean().describe('Whether daylight saving time is in effect'),
});
const readOnly = { readOnlyHint: true, openWorldHint: false } as const;

const getCurrentTimeTool = {
  title: 'Get current time',
  description:
    'Get the current time in an IANA timezone, with the day of the week and whether daylight ' +
    `saving time is in effect. ${useLocal('timezone')}`,
  inputSchema: z.object({
    timezone: z.string().describe(`IANA timezone name (e.g., 'America/New_York', 'Europe/London'). ${useLocal('timezone')}`),
  }),
  outputSchema: zonedTime,
  annotations: readOnly,
};

const convertTimeTool = {
  title: 'Convert time between timezones',
  description:
    "Convert a 24-hour time (HH:MM) on today's date in the source timezone to the target " +
    'timezone, with the difference between their UTC offsets. A time that occurs twice when ' +
    'clocks go back means the first occurrence; a time skipped when clocks go forward is an ' +
    `error. ${useLocal('timezone')}`,
  inputSchema: z.object({
    source_timezone: z
      .string()
      .describe("Source IANA timezone name (e.g., 'America/New_York', 'Europe/London'). " + useLocal('source timezone')),
    time: z.string().describe("Time to convert in 24-hour format (HH:MM), e.g. '14:30'"),
    target_timezone: z
      .string()
      .describe("Target IANA timezone name (e.g., 'Asia/Tokyo', 'America/Los_Angeles'). " + useLocal('target timezone')),
  }),
  outputSchema: z.object({
    source: zonedTime.describe('The time in the source timezone'),
    target: zonedTime.describe('The same instant in the target timezone'),
    time_difference: z.string().describe("Target UTC offset minus source UTC offset, e.g. '+13.0h', '+5.75h', '-4.0h'"),
  }),
  annotations: readOnly,
};

/** As `servers/time/tools.ts` answers: structured content and the same JSON as text; bad input as `isError`. */
function toolResult(compute: () => Record<string, unknown>): CallToolResult {
  try {
    const result = compute();
    return { content: [{ type: 'text', text: JSON.stringify(result, null, 2) }], structuredContent: result };
  } catch (error) {
    if (error instanceof TimeInputError) return { content: [{ type: 'text', text: error.message }], isError: true };
    throw error;
  }
}

function createTimeServer(): McpServer {
  const server = new McpServer({ name: 'time', version: '0.1.0' });
  server.registerTool('get_current_time', getCurrentTimeTool, ({ timezone }) => toolResult(() => getCurrentTime(timezone, now)));
  server.registerTool('convert_time', convertTimeTool, (request) => toolResult(() => convertTime(request, now)));
  return server;
}

const server = createServer(toNodeHandler(createMcpHandler(createTimeServer)));
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`listening http://127.0.0.1:${port}/mcp\n`);
});
process.once('SIGTERM', () => process.exit(0));
