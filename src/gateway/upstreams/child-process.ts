/**
 * One stdio MCP server as a child process, behind the SDK's `Transport` interface so that the
 * SDK's own `Client` talks to it.
 *
 * The SDK ships `StdioClientTransport`; this one exists for what a gateway needs and it does not
 * do: the child runs in its own process group, and stopping it signals the whole group, so a
 * server that starts helpers (`npx`, `uvx`, a shell script) leaves nothing behind; its environment
 * is a minimal base plus what gateway.yaml declares, never the gateway's own variables (secrets,
 * keys, app settings); every stderr line, and every stdout line that is not JSON-RPC, goes to the
 * structured log tagged with the route instead of being inherited, within a log budget per stream
 * (log-budget.ts): what a chatty child writes beyond it is counted, not logged.
 *
 * Children still running when the gateway exits (a crash, `process.exit`) are killed from an
 * `exit` hook. Only a SIGKILL of the gateway skips it; then each child sees its stdin close, which
 * MCP stdio servers treat as the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { deserializeMessage, serializeMessage, type JSONRPCMessage, type Transport } from '@modelcontextprotocol/client';
import { describeSize } from '../config/units.js';
import { capForLog, type Logger } from '../logger.js';
import { createLogBudget, type LogBudget } from './log-budget.js';

/** What gateway.yaml declares for a `command:` route. */
export interface ChildCommand {
  readonly command: string;
  readonly args: readonly string[];
  /** Added to the minimal base environment (and winning over it). */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
}

/**
 * Variables a child inherits from the gateway: what programs need to find themselves, a home, a
 * temporary folder, a locale, and Node's own settings. Nothing else: not GATEWAY_*, not the
 * Functions host's settings, not credentials.
 */
const INHERITED =
  /^(PATH|HOME|USER|LOGNAME|SHELL|TMPDIR|TMP|TEMP|LANG|LANGUAGE|LC_[A-Z_]+|TZ|NODE_[A-Z0-9_]+|SYSTEMROOT|COMSPEC|PATHEXT|WINDIR)$/;
/** Node settings that would hand the child a secret or the gateway's own behaviour. */
const NEVER_INHERITED = new Set(['NODE_AUTH_TOKEN']);

/** The environment a child starts with: the minimal base of `parent`, then the declared `env`. */
export function childEnvironment(
  declared: Readonly<Record<string, string>>,
  parent: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parent)) {
    if (value !== undefined && INHERITED.test(name) && !NEVER_INHERITED.has(name)) env[name] = value;
  }
  return { ...env, ...declared };
}

/** How much a child may write and leave unread (gateway.yaml's `maxMessageSize`, `callTimeout`). */
export interface ChildLimits {
  /**
   * The longest stdout line (one JSON-RPC message) kept while waiting for its newline, and the most
   * written to the child's stdin and not yet read by it; a child past either is stopped.
   */
  readonly maxMessageSize: number;
  /** How long what waits for the child's stdin (its pipe full) may go unread before it is stopped. */
  readonly stdinStallTimeout: number;
}

const DEFAULT_LIMITS: ChildLimits = { maxMessageSize: 64 * 1_048_576, stdinStallTimeout: 60_000 };
/**
 * How long a child whose stdout ended may take to be seen exiting before it counts as one that
 * closed its stdout and kept running: a child that exits closes its stdout too, and the two
 * events arrive in either order.
 */
const OUTPUT_CLOSED_GRACE = 200;
/** Longest piece of a non-protocol line that reaches the log. */
const LOGGED_LINE_CHARS = 1000;

const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function killAllOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) signalGroup(child, 'SIGKILL');
  });
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    // A negative pid signals the process group the child leads (spawned `detached`).
    process.kill(process.platform === 'win32' ? child.pid : -child.pid, signal);
  } catch {
    // Already gone.
  }
}

export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Whether the gateway had asked it to stop (else it exited on its own: a crash, or done). */
  readonly asked: boolean;
}

export class ChildProcessTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  /** Set once the child has exited: how. */
  exit: ChildExit | undefined;
  /**
   * Why the gateway stopped a child that was still running, when it did so on its own: it closed
   * its stdout, wrote a message over maxMessageSize, stopped reading its stdin, or answered no
   * ping after a call timed out (hung).
   */
  stoppedFor: string | undefined;

  private child: ChildProcess | undefined;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private closing: Promise<void> | undefined;
  private closeTold = false;
  private stall: NodeJS.Timeout | undefined;
  private readonly log: Logger;
  /** What of its stderr, and of its stdout that is not JSON-RPC, may reach the log: each its own budget. */
  private readonly stderrBudget: LogBudget;
  private readonly stdoutBudget: LogBudget;
  /** The lines it wrote on stdout that are not JSON-RPC (a banner, debug output): told when it never answers. */
  notJsonRpcLines = 0;
  /** Its last stderr line (cut to {@link LAST_STDERR_CHARS}): logged with why it failed to start. */
  lastStderr: string | undefined;

  constructor(
    private readonly spec: ChildCommand,
    logger: Logger,
    private readonly limits: ChildLimits = DEFAULT_LIMITS,
    /** How long a child may take to exit after its stdin closes, and again after SIGTERM. */
    private readonly stopGrace = 2000,
  ) {
    this.log = logger;
    const budget = (message: string) => createLogBudget({ onDropped: (dropped) => this.log.warn({ pid: this.pid, dropped }, message) });
    this.stderrBudget = budget('server stderr lines dropped (log budget)');
    this.stdoutBudget = budget('server stdout lines that are not JSON-RPC dropped (log budget)');
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): Promise<void> {
    if (this.child) throw new Error('ChildProcessTransport already started');
    killAllOnExit();
    return new Promise((resolve, reject) => {
      const child = spawn(this.spec.command, [...this.spec.args], {
        cwd: this.spec.cwd,
        env: childEnvironment(this.spec.env),
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: process.platform !== 'win32',
        shell: false,
        windowsHide: true,
      });
      this.child = child;
      child.once('spawn', () => {
        running.add(child);
        this.log.debug({ pid: child.pid }, 'server process started');
        resolve();
      });
      child.once('error', (error) => {
        // A command that cannot be started (ENOENT, EACCES) never spawns. Node says ENOENT of the
        // command when it is the working directory that is missing.
        if (child.pid === undefined) {
          const why = existsSync(this.spec.cwd) ? error.message : `its working directory ${this.spec.cwd} does not exist (cwd)`;
          reject(new Error(`could not start ${this.spec.command}: ${why}`, { cause: error }));
        } else this.onerror?.(error);
      });
      child.once('exit', (code, signal) => {
        running.delete(child);
        this.exit = { code, signal, asked: this.closing !== undefined };
        // Whatever the child started is stopped with it.
        signalGroup(child, 'SIGKILL');
      });
      child.once('close', () => {
        this.ended();
        // Its stdio is closed: nothing more to count. What was dropped and not reported yet is now.
        this.stderrBudget.end();
        this.stdoutBudget.end();
      });
      child.stdin!.on('error', (error) => this.onerror?.(error));
      child.stdout!.on('data', (chunk: Buffer) => this.read(chunk));
      // A child that closed its stdout and keeps running can answer nothing more: its calls would
      // wait for callTimeout, and every later request too. It is stopped, and its calls fail now.
      child.stdout!.once('end', () => {
        setTimeout(() => {
          if (this.exit || this.closing) return;
          this.stopFor('closed its stdout', 'server closed its stdout while still running; stopping it');
        }, OUTPUT_CLOSED_GRACE).unref();
      });
      lines(child.stderr!, (line) => {
        if (line.trim() !== '') this.lastStderr = capForLog(line, LAST_STDERR_CHARS);
        if (this.stderrBudget.take()) this.log.info({ pid: child.pid, stderr: line }, 'server stderr');
      });
    });
  }

  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.child?.stdin;
    if (!stdin || stdin.destroyed || this.exit || this.closing) return Promise.reject(new Error('the server process is not running'));
    // What the child has not read waits in the gateway's memory: bounded, as what it writes is.
    if (stdin.writableLength > this.limits.maxMessageSize) {
      this.stoppedReading(stdin.writableLength);
      return Promise.reject(new Error('the server process stopped reading its stdin'));
    }
    return new Promise((resolve, reject) => {
      const flowing = stdin.write(serializeMessage(message), (error) => (error ? reject(error) : resolve()));
      if (!flowing && !this.stall) {
        // Its pipe is full: a child that reads none of it within callTimeout would answer none of
        // these calls in time, and every later call would wait out callTimeout behind them.
        this.stall = setTimeout(() => this.stoppedReading(stdin.writableLength), this.limits.stdinStallTimeout).unref();
        stdin.once('drain', () => {
          clearTimeout(this.stall);
          this.stall = undefined;
        });
      }
    });
  }

  private stoppedReading(waitingBytes: number): void {
    this.stopFor('stopped reading its stdin', 'server stopped reading its stdin; stopping it', { waitingBytes });
    // What waits for it is dropped now, not held until it exits.
    this.child?.stdin?.destroy();
  }

  /**
   * Stops a child that is still running and answers nothing: `why` for its calls' errors (after
   * `was`), `fields` for the log line.
   */
  stopHung(why: string, fields: Record<string, unknown>): void {
    this.stopFor(why, 'server answered no ping after a call timed out; stopping it as hung', fields);
  }

  /** Stops a child that is still running but can serve no more: its calls fail now, saying why. */
  private stopFor(why: string, message: string, fields: Record<string, unknown> = {}): void {
    if (this.stoppedFor !== undefined || this.exit || this.closing) return;
    this.stoppedFor = why;
    this.pending = [];
    this.pendingBytes = 0;
    clearTimeout(this.stall);
    this.log.warn({ pid: this.pid, ...fields }, message);
    this.ended();
    void this.close();
  }

  /** Closes stdin, then SIGTERM, then SIGKILL, to the whole group; resolves once the child is gone. */
  close(): Promise<void> {
    this.closing ??= this.stop();
    return this.closing;
  }

  private async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const within = (ms: number) => Promise.race([exited.then(() => true), delay(ms).then(() => false)]);
    if (child.stdin && !child.stdin.destroyed) child.stdin.end();
    if (await within(this.stopGrace)) return;
    signalGroup(child, 'SIGTERM');
    if (await within(this.stopGrace)) return;
    signalGroup(child, 'SIGKILL');
    await exited;
  }

  private read(chunk: Buffer): void {
    // A child stopped for what it did: the rest of what it writes is not read as messages.
    if (this.stoppedFor !== undefined) return;
    const max = this.limits.maxMessageSize;
    let start = 0;
    let newline = chunk.indexOf(0x0a);
    while (newline !== -1) {
      if (this.pendingBytes + newline - start > max) return this.tooLong();
      const piece = chunk.subarray(start, newline);
      const line = this.pending.length === 0 ? piece : Buffer.concat([...this.pending, piece]);
      this.pending = [];
      this.pendingBytes = 0;
      this.dispatch(line.toString('utf8').replace(/\r$/, ''));
      if (this.stoppedFor !== undefined) return;
      start = newline + 1;
      newline = chunk.indexOf(0x0a, start);
    }
    if (start < chunk.length) {
      this.pending.push(chunk.subarray(start));
      this.pendingBytes += chunk.length - start;
      if (this.pendingBytes > max) this.tooLong();
    }
  }

  private tooLong(): void {
    const max = this.limits.maxMessageSize;
    this.stopFor(`wrote a message over ${describeSize(max)} (maxMessageSize)`, 'server wrote a message over maxMessageSize; stopping it', {
      maxBytes: max,
    });
  }

  /** The connection is over (once): the child and its stdio are gone, or its stdout closed. */
  private ended(): void {
    if (this.closeTold) return;
    this.closeTold = true;
    this.flushPartialLine();
    this.onclose?.();
  }

  private flushPartialLine(): void {
    if (this.pending.length === 0) return;
    const line = Buffer.concat(this.pending).toString('utf8');
    this.pending = [];
    this.dispatch(line);
  }

  private dispatch(line: string): void {
    if (line.trim() === '') return;
    let message: JSONRPCMessage;
    try {
      message = deserializeMessage(line);
    } catch {
      // Servers that print banners or debug output on stdout still work; the line is logged, within
      // the budget.
      this.notJsonRpcLines++;
      const logged = this.stdoutBudget.take();
      if (logged) {
        this.log.warn({ pid: this.pid, stdout: capForLog(line, LOGGED_LINE_CHARS) }, 'server wrote a line on stdout that is not JSON-RPC');
      }
      // An answer that names its request but is malformed (a result and an error, no jsonrpc) fails
      // that request now, instead of leaving it to wait for callTimeout.
      const id = answeredId(line);
      if (id !== undefined) {
        this.onmessage?.({ jsonrpc: '2.0', id, error: { code: -32603, message: logged ? INVALID_ANSWER_LOGGED : INVALID_ANSWER_DROPPED } });
      }
      return;
    }
    this.onmessage?.(message);
  }
}

const INVALID_ANSWER = 'the server process answered this request with a message that is not valid JSON-RPC';
/** The longest last stderr line kept for the log line of a failed start. */
const LAST_STDERR_CHARS = 500;

const INVALID_ANSWER_LOGGED = `${INVALID_ANSWER} (it is in the gateway's log: server wrote a line on stdout that is not JSON-RPC)`;
const INVALID_ANSWER_DROPPED = `${INVALID_ANSWER} (not in the gateway's log: the server wrote more stdout lines that are not JSON-RPC than its log budget lets through, and this one was dropped)`;

/** The id of a line that looks like an answer (a JSON object with an id, a result or an error, no method). */
function answeredId(line: string): string | number | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || 'method' in value) return undefined;
  const { id } = value as { id?: unknown };
  if (!('result' in value) && !('error' in value)) return undefined;
  return typeof id === 'string' || (typeof id === 'number' && Number.isInteger(id)) ? id : undefined;
}

/**
 * Calls `onLine` for each line of `stream`, holding at most LOGGED_LINE_CHARS of a line that has
 * not ended yet: a longer line is logged once, when it ends, as its first characters and how many
 * were cut (`…[+8387608 chars]`), so a child that writes megabytes with no newline costs neither
 * memory nor a flood of log lines.
 */
function lines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let head = '';
  let cut = 0;
  const end = (tail: string) => {
    const room = LOGGED_LINE_CHARS - head.length;
    const line = head + tail.slice(0, Math.max(room, 0));
    const over = cut + Math.max(tail.length - room, 0);
    head = '';
    cut = 0;
    const text = over > 0 ? line : line.replace(/\r$/, '');
    if (text.trim() !== '') onLine(over > 0 ? `${text}…[+${over} chars]` : text);
  };
  stream.setEncoding('utf8');
  stream.on('data', (text: string) => {
    let start = 0;
    for (let newline = text.indexOf('\n'); newline !== -1; newline = text.indexOf('\n', start)) {
      end(text.slice(start, newline));
      start = newline + 1;
    }
    const rest = text.length - start;
    const room = LOGGED_LINE_CHARS - head.length;
    if (rest <= room) head += text.slice(start);
    else {
      head += text.slice(start, start + Math.max(room, 0));
      cut += rest - Math.max(room, 0);
    }
  });
  stream.on('end', () => end(''));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
