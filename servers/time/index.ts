/**
 * The time server module: `get_current_time` and `convert_time` over IANA timezones, with the
 * same tools and output as the reference MCP time server (modelcontextprotocol/servers `src/time`).
 * Its gateway entry's `options` take one key, `localTimezone` (see {@link optionsSchema}).
 */
import { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { ServerContext } from '../../src/gateway/module-contract.js';
import { isValidTimezone, type Clock } from './time.js';
import { registerTimeTools } from './tools.js';

/** Reported as `serverInfo.version`. */
export const TIME_SERVER_VERSION = '0.1.0';

/**
 * The `options` block of the module's gateway entry.
 *
 * - `localTimezone` (IANA name, default `'UTC'`): the zone the tool descriptions tell the model to
 *   use when the user names none. It does not change any result; the model still passes a zone.
 */
export const optionsSchema = z
  .object({
    localTimezone: z
      .string()
      .refine(isValidTimezone, {
        error: (issue) =>
          `localTimezone ${JSON.stringify(issue.input)} is not an IANA timezone name; ` + "use one such as 'America/New_York' or 'UTC'",
      })
      .default('UTC'),
  })
  .strict();

/** Validated options, as the gateway passes them to {@link createServer}. */
export type TimeOptions = z.infer<typeof optionsSchema>;

/** Options of {@link createTimeServer}. */
export interface TimeServerOptions {
  /** IANA name suggested as the user's own zone. */
  readonly localTimezone: string;
  /** Source of the current instant. Default: the system clock. */
  readonly now?: Clock;
}

/**
 * Builds a time server with an explicit clock; {@link createServer} is this with the system clock.
 *
 * @throws {Error} if `localTimezone` is not a timezone the runtime knows
 * @example
 * ```ts
 * const server = createTimeServer({
 *   localTimezone: 'Europe/Paris',
 *   now: () => new Date('2026-07-15T14:00:00Z'),
 * });
 * ```
 */
export function createTimeServer({ localTimezone, now = () => new Date() }: TimeServerOptions): McpServer {
  // The gateway has validated already; direct callers get the same check when building, not on
  // the first call.
  if (!isValidTimezone(localTimezone)) {
    throw new Error(`time server: localTimezone ${JSON.stringify(localTimezone)} is not an IANA timezone name`);
  }
  // The tool list never changes: clients need not listen for it.
  const server = new McpServer({ name: 'time', version: TIME_SERVER_VERSION }, { capabilities: { tools: { listChanged: false } } });
  registerTimeTools(server, { localTimezone, now });
  return server;
}

/**
 * The module contract's factory: a new, independent server per gateway session.
 *
 * @example
 * ```ts
 * const server = createServer({ route: 'time', options: { localTimezone: 'UTC' }, fetch, logger });
 * await server.connect(transport);
 * ```
 */
export function createServer(ctx: ServerContext<TimeOptions>): McpServer {
  return createTimeServer({ localTimezone: ctx.options.localTimezone });
}
