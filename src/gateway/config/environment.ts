/**
 * The process settings main.ts reads from the environment (besides gateway.yaml, the session
 * secrets and telemetry, which have their own readers): where to listen and how much to log.
 * Checked before anything starts, every problem at once, each naming its variable.
 */

/** pino's levels, lowest first. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface ProcessSettings {
  /** `FUNCTIONS_CUSTOMHANDLER_PORT` (set by the Functions host), else `PORT`, else 7071; 0 picks a free port. */
  readonly port: number;
  /** `PORT` or `FUNCTIONS_CUSTOMHANDLER_PORT`, whichever gave the port (undefined for the default). */
  readonly portFrom: string | undefined;
  /** `HOST`, default 127.0.0.1. */
  readonly host: string;
  /** `LOG_LEVEL`, default info. */
  readonly logLevel: LogLevel;
}

/** Thrown when the environment holds a value the gateway cannot use; `message` lists every one. */
export class EnvironmentError extends Error {
  readonly code = 'invalid_environment';
  constructor(readonly problems: readonly string[]) {
    super(
      `invalid environment (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` + problems.map((p) => `  ${p}`).join('\n'),
    );
    this.name = 'EnvironmentError';
  }
}

/**
 * The listen address and log level `env` asks for. Empty values count as unset. Throws an
 * {@link EnvironmentError} naming each variable it cannot use.
 *
 * @example processSettings({ PORT: '8080', LOG_LEVEL: 'debug' }) // { port: 8080, portFrom: 'PORT', host: '127.0.0.1', logLevel: 'debug' }
 */
export function processSettings(env: NodeJS.ProcessEnv): ProcessSettings {
  const problems: string[] = [];
  const portFrom = ['FUNCTIONS_CUSTOMHANDLER_PORT', 'PORT'].find((name) => env[name]?.trim());
  let port = 7071;
  if (portFrom) {
    const text = env[portFrom]!.trim();
    port = Number(text);
    if (!/^\d+$/.test(text) || port > 65_535) {
      problems.push(`${portFrom} ${JSON.stringify(env[portFrom])} is not a port: use a whole number from 0 to 65535 (0 picks a free port)`);
    }
  }
  const level = env.LOG_LEVEL?.trim().toLowerCase() || 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    problems.push(`LOG_LEVEL ${JSON.stringify(env.LOG_LEVEL)} is not a level: use one of ${LOG_LEVELS.join(', ')}`);
  }
  if (problems.length > 0) throw new EnvironmentError(problems);
  return Object.freeze({ port, portFrom, host: env.HOST?.trim() || '127.0.0.1', logLevel: level as LogLevel });
}
