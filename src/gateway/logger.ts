/**
 * Structured JSON logs (pino): one line per request, written by the app; modules get a child
 * logger bound to their route. Session ids are logged as a short hash, never raw: an id is a
 * bearer credential for its session. Nothing logs request headers, so no redaction pass is needed
 * (pino's would cost on every line); tests check that no id, key or token reaches the log.
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { pino, type DestinationStream, type Logger } from 'pino';
import sonicBoom from 'sonic-boom';

export type { Logger };

export interface LoggerOptions {
  /** pino level: trace, debug, info, warn, error, fatal, silent. Default `info`. */
  level?: string;
  /** Where lines go; default stdout, written asynchronously ({@link stdoutLog}). */
  destination?: DestinationStream;
}

export function createLogger({ level = 'info', destination }: LoggerOptions = {}): Logger {
  return pino(
    {
      level,
      base: { service: 'mcp-gateway' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? stdoutLog(),
  );
}

/** Lines not yet written past this are dropped: a reader that stops reading cannot fill memory. */
const MAX_UNWRITTEN = 8 * 1024 * 1024;
/** At exit, the last lines wait this long at most for a reader that is not reading. */
const EXIT_WRITE_WAIT_MS = 1_000;

/**
 * The log's stdout: written asynchronously, as pino's own destination is (lines logged while a
 * write is under way go out together in the next one, instead of one blocking write per request:
 * 6% of throughput in `npm run bench`), and written out at exit. Unlike pino's, it never stops the
 * gateway: when the reader has gone (`npm start | head`, a log shipper that died) the lines are
 * dropped, said once on stderr, and the process serves, drains and exits as before. A reader that
 * stays but stops reading holds at most {@link MAX_UNWRITTEN} of lines; the rest are dropped until it
 * reads again. (A write it has already taken and not read still keeps the process at exit, as it
 * would any process writing to a pipe.) sonic-boom 5, not pino 10's 4.x: 4.x's write at exit
 * retried a closed pipe for ever, so a drain whose log reader had gone never exited.
 */
export function stdoutLog(fd = 1): DestinationStream {
  let open = true;
  let dropping = false;
  let exitDeadline = Infinity;
  const fail = (error: NodeJS.ErrnoException) => {
    if (!open) return;
    open = false;
    say(`stdout ${error.code === 'EPIPE' ? 'is closed' : 'failed'} (${error.code ?? error.message}); log lines are dropped from now on`);
  };
  const boom = new sonicBoom.SonicBoom({
    fd,
    sync: false,
    maxLength: MAX_UNWRITTEN,
    // A pipe that is full (EAGAIN) is waited on while serving; at exit, only for a moment.
    retryEAGAIN: () => Date.now() < exitDeadline,
  });
  boom.on('error', fail);
  boom.on('drop', () => {
    if (!dropping) say(`stdout is not being read (${MAX_UNWRITTEN / 1024 / 1024} MiB unwritten); log lines are dropped until it is`);
    dropping = true;
  });
  boom.on('write', () => (dropping = false));
  atExit.add(() => {
    if (!open) return;
    exitDeadline = Date.now() + EXIT_WRITE_WAIT_MS;
    try {
      boom.flushSync();
    } catch (error) {
      fail(error as NodeJS.ErrnoException);
    }
  });
  return { write: (line: string) => open && boom.write(line) };
}

/** A line about the log itself, on stderr: the log cannot carry it. */
function say(line: string): void {
  try {
    process.stderr.write(`log: ${line}\n`);
  } catch {
    // stderr is gone too: there is nowhere left to say it.
  }
}

/** What each stdout log writes out at exit: one listener for them all. */
const atExit = new Set<() => void>();
process.on('exit', () => {
  for (const flush of atExit) flush();
});

/**
 * Paths are logged up to this many characters. A request target may be up to 16 KB (Node's
 * header limit), and a line per request, from anyone who can reach the gateway, must stay small.
 */
export const MAX_LOGGED_PATH = 256;

/**
 * `text` cut to `max` characters, saying how many were cut.
 *
 * @example capForLog('/mcp/' + 'a'.repeat(300)) // '/mcp/aaa…a…[+49 chars]' (256 characters, then the marker)
 */
export function capForLog(text: string, max = MAX_LOGGED_PATH): string {
  return text.length <= max ? text : `${text.slice(0, max)}…[+${text.length - max} chars]`;
}

/**
 * The gateway's log level for an MCP log message's level (RFC 5424's eight, as MCP has them): so an
 * upstream's `error` is an error line, and its `debug` is dropped at the default `info`. The three
 * above `error` are `error` too: pino's `fatal` says the gateway itself is going down. A level no
 * version of MCP has is `info`, as the message is still worth keeping.
 */
export function levelOfMcp(level: string): 'debug' | 'info' | 'warn' | 'error' {
  return MCP_LEVELS.get(level) ?? 'info';
}

const MCP_LEVELS = new Map<string, 'debug' | 'info' | 'warn' | 'error'>([
  ['debug', 'debug'],
  ['info', 'info'],
  ['notice', 'info'],
  ['warning', 'warn'],
  ['error', 'error'],
  ['critical', 'error'],
  ['alert', 'error'],
  ['emergency', 'error'],
]);

/** Tags of recently seen ids: a session logs many lines, and hashing each time is wasted work. */
const tags = new LRUCache<string, string>({ max: 2_000 });

/** A stable, non-reversible tag for a session id: enough to follow one session through the log. */
export function sessionTag(sessionId: string | undefined): string | undefined {
  if (!sessionId) return undefined;
  let tag = tags.get(sessionId);
  if (tag === undefined) {
    tag = createHash('sha256').update(sessionId).digest('hex').slice(0, 12);
    tags.set(sessionId, tag);
  }
  return tag;
}
