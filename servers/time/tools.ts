/**
 * The time server's MCP tools: schemas, config and registration. The arithmetic lives in
 * `time.ts`; this file only maps tool calls onto it and its errors onto `isError` results.
 */
import type { McpServer, CallToolResult } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { cacheJsonSchema } from '../../src/gateway/module-contract.js';
import { convertTime, getCurrentTime, TimeInputError, type Clock } from './time.js';

/** What the tools need: the zone to suggest as the user's own, and the clock. */
export interface TimeToolsOptions {
  /** IANA name named in the tool descriptions as the zone to use when the user gives none. */
  readonly localTimezone: string;
  readonly now: Clock;
}

const zonedTimeShape = {
  timezone: z.string().describe('The IANA timezone name, as given'),
  datetime: z.string().describe("Local date and time, ISO 8601 with UTC offset, e.g. '2026-07-15T16:00:37-04:00'"),
  day_of_week: z.string().describe("English weekday name, e.g. 'Wednesday'"),
  is_dst: z.boolean().describe('Whether daylight saving time is in effect'),
};

const zonedTimeSchema = z.object(zonedTimeShape);

const readOnly = { readOnlyHint: true, openWorldHint: false } as const;

// The longest tz database name is 32 characters (America/Argentina/ComodRivadavia); the bound keeps
// a runaway argument out of the error message that quotes it.
const zoneName = () => z.string().max(64);

/**
 * Configs by `localTimezone`, built once: the gateway builds a server for every 2026-07-28
 * request, and schemas built anew each time would cost more than the call itself. Each schema is
 * wrapped in `cacheJsonSchema`, or the SDK would still convert it to JSON Schema on every server.
 */
const configsByZone = new Map<string, ReturnType<typeof buildConfigs>>();

function configsFor(localTimezone: string): ReturnType<typeof buildConfigs> {
  let configs = configsByZone.get(localTimezone);
  if (!configs) configsByZone.set(localTimezone, (configs = buildConfigs(localTimezone)));
  return configs;
}

/** The tools' configs for one `localTimezone` (it is named in the descriptions). */
function buildConfigs(localTimezone: string) {
  const useLocal = (what: string) => `Use '${localTimezone}' as local timezone if no ${what} provided by the user.`;
  return {
    getCurrentTime: {
      title: 'Get current time',
      description:
        'Get the current time in an IANA timezone, with the day of the week and whether daylight ' +
        `saving time is in effect. ${useLocal('timezone')}`,
      inputSchema: cacheJsonSchema(
        z.object({
          timezone: zoneName().describe(`IANA timezone name (e.g., 'America/New_York', 'Europe/London'). ${useLocal('timezone')}`),
        }),
      ),
      outputSchema: zonedTimeOutput,
      annotations: readOnly,
    },
    convertTime: {
      title: 'Convert time between timezones',
      description:
        "Convert a 24-hour time (HH:MM) on today's date in the source timezone to the target " +
        'timezone, with the difference between their UTC offsets. A time that occurs twice when ' +
        'clocks go back means the first occurrence; a time skipped when clocks go forward is an ' +
        `error. ${useLocal('timezone')}`,
      inputSchema: cacheJsonSchema(
        z.object({
          source_timezone: zoneName().describe(
            "Source IANA timezone name (e.g., 'America/New_York', 'Europe/London'). " + useLocal('source timezone'),
          ),
          time: z.string().max(16).describe("Time to convert in 24-hour format (HH:MM), e.g. '14:30'"),
          target_timezone: zoneName().describe(
            "Target IANA timezone name (e.g., 'Asia/Tokyo', 'America/Los_Angeles'). " + useLocal('target timezone'),
          ),
        }),
      ),
      outputSchema: convertedTimeOutput,
      annotations: readOnly,
    },
  };
}

const convertedTimeSchema = z.object({
  source: zonedTimeSchema.describe('The time in the source timezone'),
  target: zonedTimeSchema.describe('The same instant in the target timezone'),
  time_difference: z.string().describe("Target UTC offset minus source UTC offset, e.g. '+13.0h', '+5.75h', '-4.0h'"),
});

const zonedTimeOutput = cacheJsonSchema(zonedTimeSchema);
const convertedTimeOutput = cacheJsonSchema(convertedTimeSchema);

/**
 * Registers `get_current_time` and `convert_time` on `server`.
 *
 * @example
 * ```ts
 * const server = new McpServer({ name: 'time', version: '1.0.0' });
 * registerTimeTools(server, { localTimezone: 'Europe/Paris', now: () => new Date() });
 * ```
 */
export function registerTimeTools(server: McpServer, { localTimezone, now }: TimeToolsOptions): void {
  const configs = configsFor(localTimezone);
  server.registerTool('get_current_time', configs.getCurrentTime, ({ timezone }) => toolResult(() => getCurrentTime(timezone, now)));
  server.registerTool('convert_time', configs.convertTime, (request) => toolResult(() => convertTime(request, now)));
}

/**
 * Runs `compute` and wraps its value as structured content plus the same JSON as text (for
 * clients that ignore structured content). Bad input becomes an `isError` result the model can
 * read and correct; it must carry no `structuredContent`, which would be checked against the
 * output schema. Anything else is a bug and propagates.
 */
function toolResult(compute: () => Record<string, unknown>): CallToolResult {
  try {
    const result = compute();
    return {
      content: [{ type: 'text', text: JSON.stringify(result, null, 2) }],
      structuredContent: result,
    };
  } catch (error) {
    if (error instanceof TimeInputError) {
      return { content: [{ type: 'text', text: error.message }], isError: true };
    }
    throw error;
  }
}
