/**
 * A `command:` route's connector: each connection is a new child process (child-process.ts),
 * ready once it has answered `server/discover` or `initialize`.
 */
import { ProtocolError, SdkError, SdkErrorCode } from '@modelcontextprotocol/client';
import type { BackoffSettings } from '../backoff-schedule.js';
import type { Logger } from '../logger.js';
import type { ListenStreams } from './listen-reopening.js';
import { ChildProcessTransport, type ChildCommand, type ChildExit } from './child-process.js';
import { refusedProtocolVersion, UpstreamConnection, UpstreamOpenError, UpstreamStartFailure, type UpstreamTrace } from './connection.js';
import type { Connector } from './bridged.js';

export interface StdioConnectorOptions {
  readonly route: string;
  readonly command: ChildCommand;
  /** How long a new child has to answer its first request. */
  readonly startTimeout: number;
  /** The route's `callTimeout`: a child that reads nothing of its stdin for this long is stopped. */
  readonly callTimeout: number;
  /** The route's `maxMessageSize`: the longest stdout line, and the most held for its stdin. */
  readonly maxMessageSize: number;
  /** The route's `cache.backoff` and clock (ConnectOptions.backoff). */
  readonly backoff: BackoffSettings;
  /** The route's counts of its listen streams upstream (ConnectOptions.listenStreams). */
  readonly listenStreams: ListenStreams;
  readonly logger: Logger;
  /** The CLIENT span of the connection's handshake (ConnectOptions.trace); telemetry on. */
  readonly trace?: UpstreamTrace;
}

export function stdioConnector(options: StdioConnectorOptions): Connector {
  const describe = `the server process of route "${options.route}"`;
  const log = options.logger.child({ upstream: 'command' });
  return {
    kind: 'command',
    describe,
    async open(init) {
      const transport = new ChildProcessTransport(options.command, log, {
        maxMessageSize: options.maxMessageSize,
        stdinStallTimeout: options.callTimeout,
      });
      try {
        return await UpstreamConnection.open({
          transport,
          capabilities: init.capabilities,
          clientInfo: init.clientInfo!,
          negotiation: init.legacy ? 'legacy' : 'auto',
          ownedBySession: init.legacy,
          resumed: false,
          timeout: options.startTimeout,
          timeoutSetting: 'startTimeout',
          backoff: options.backoff,
          listenStreams: options.listenStreams,
          logger: log,
          ...(options.trace ? { trace: options.trace } : {}),
          pid: () => transport.pid,
          describeEnd: () => describeEnd(transport),
          // A child that answers not even a ping once a call timed out is hung: as long as a new one has to answer.
          liveness: {
            timeout: options.startTimeout,
            stop: () =>
              transport.stopHung(
                `was stopped as hung (it answered no ping within ${options.startTimeout / 1000} s (startTimeout) after a call timed out)`,
                { pingTimeoutMs: options.startTimeout },
              ),
          },
        });
      } catch (error) {
        // How it failed, not how it was stopped after (the client closes it on a failed connect).
        const seen = transport.exit?.asked ? undefined : transport.exit;
        const timedOut = error instanceof SdkError && error.code === SdkErrorCode.RequestTimeout;
        // A child that did not answer in time is stopped in the background: its caller has waited
        // startTimeout already, not that and the stop's grace too (nothing below needs its exit).
        const closed = transport.close();
        if (timedOut) void closed.catch(() => undefined);
        else await closed;
        // A child gone before its exit was seen (the first write to it failed: EPIPE) says why by
        // its own exit code once it is reaped; one that ends with 0 or by the gateway's signal,
        // only once told to stop, does not, unless its stdin had already broken: then it ended on
        // its own, and 0 is its own exit too (a server that quits after answering initialize).
        const late = transport.exit;
        const brokePipe = isBrokenPipe(error);
        const exit = seen ?? (!timedOut && late && late.signal === null && (late.code !== 0 || brokePipe) ? late : undefined);
        // It started and answered, refusing the era it was offered: the route asks again in the
        // server's own (bridged.ts), and logs that, so this is no failure to start.
        if (refusedProtocolVersion(error)) throw error;
        const why = transport.stoppedFor
          ? describeEnd(transport)
          : exit
            ? describeExit(exit)
            : timedOut
              ? `did not answer its first request within ${options.startTimeout / 1000} s (startTimeout)${notJsonRpc(transport.notJsonRpcLines)}`
              : brokePipe
                ? 'closed its stdin before it was initialized'
                : error instanceof ProtocolError
                  ? // It runs, and said no: its own words, not a failure to start.
                    `answered its first request with an error (${error.code}: ${error.message.split('\n')[0]})`
                  : `did not start (${(error instanceof Error ? error.message : String(error)).split('\n')[0]})`;
        log.warn(
          { command: options.command.command, why, ...(transport.lastStderr === undefined ? {} : { lastStderr: transport.lastStderr }) },
          'server process failed to start',
        );
        const message = `${options.command.command} ${why}`;
        if (exit || transport.stoppedFor) throw new UpstreamOpenError(message, why, { cause: error });
        throw new UpstreamStartFailure(message, { cause: error });
      }
    },
  };
}

/** What a child that never answered wrote instead, when it wrote lines that are not JSON-RPC on its stdout. */
function notJsonRpc(lines: number): string {
  if (lines === 0) return '';
  return `; it wrote ${lines} line${lines === 1 ? '' : 's'} on its stdout that ${lines === 1 ? 'is' : 'are'} not JSON-RPC (see the log): is the command an MCP stdio server, and does it log to stderr?`;
}

/** A write to a child whose stdin is closed: Node's EPIPE, as it comes or as the cause of the SDK's error. */
function isBrokenPipe(error: unknown): boolean {
  for (let e = error; e instanceof Error; e = e.cause) if ((e as NodeJS.ErrnoException).code === 'EPIPE') return true;
  return false;
}

/**
 * How a child's connection ended: why the gateway stopped it on its own (it closed its stdout while
 * running, wrote a message over maxMessageSize, stopped reading its stdin), or how it exited.
 */
function describeEnd(transport: ChildProcessTransport): string {
  return transport.stoppedFor ?? describeExit(transport.exit);
}

function describeExit(exit: ChildExit | undefined): string {
  if (!exit) return 'closed its stdout';
  if (exit.signal) return `was stopped by ${exit.signal}`;
  return `exited with code ${exit.code}`;
}
