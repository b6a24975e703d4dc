/**
 * Structured JSON logs (pino): one line per request, written by the app; modules get a child
 * logger bound to their route. Session ids are logged as a short hash, never raw: an id is a
 * bearer credential for its session.
 */
import { createHash } from 'node:crypto';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  /** pino level: trace, debug, info, warn, error, fatal, silent. Default `info`. */
  level?: string;
  /** Where lines go; default stdout. */
  destination?: DestinationStream;
}

export function createLogger({ level = 'info', destination }: LoggerOptions = {}): Logger {
  return pino(
    {
      level,
      base: { service: 'mcp-gateway' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Belt and braces: these never belong in a log line, whoever passes them.
      redact: { paths: ['authorization', 'headers.authorization', 'headers["x-functions-key"]', 'headers["x-api-key"]', 'sessionId'], censor: '[redacted]' },
    },
    destination,
  );
}

/** A stable, non-reversible tag for a session id: enough to follow one session through the log. */
export function sessionTag(sessionId: string | undefined): string | undefined {
  return sessionId ? createHash('sha256').update(sessionId).digest('hex').slice(0, 12) : undefined;
}
