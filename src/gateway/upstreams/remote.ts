/**
 * A `url:` route's connector: the SDK's Streamable HTTP client transport, or its SSE transport
 * for servers that only speak the 2024 HTTP+SSE protocol (tried when Streamable HTTP is refused
 * with a 4xx, as the SDK's own examples do, and kept for the route once it worked).
 *
 * A 2025 session's own upstream session travels sealed inside the gateway's session id (its id
 * and protocol version), so the instance that resumes the session reaches the same upstream
 * session without a handshake. When the upstream has forgotten it (404), the bridge opens a new
 * one and says so in the log.
 *
 * Every upstream session the gateway opens is ended (DELETE, as the SDK's terminateSession() does)
 * once nothing uses it: the sealed one when the client deletes its session (`end`), and one that no
 * gateway session id can reach again (a renewed one, a caller's shared connection) when the gateway
 * closes its connection. A sealed one outlives its connection: the id resumes it, on any instance.
 *
 * Both transports fetch through upstream-fetch.ts, which gives each request an abort signal of its
 * own: the SDK passes one signal to all of a connection's requests, and Node's fetch would leave a
 * listener on it per request; and through message-limit.ts, which bounds each message the remote
 * sends to the route's maxMessageSize and tells the transport which of its requests a cut answer
 * was for (unanswered-streams.ts fails those at once).
 */
import { SSEClientTransport, SdkError, StreamableHTTPClientTransport, type FetchLike } from '@modelcontextprotocol/client';
import type { BackoffSettings } from '../backoff-schedule.js';
import type { Logger } from '../logger.js';
import type { ListenStreams } from './listen-reopening.js';
import { refusedProtocolVersion, UpstreamConnection, UpstreamStartFailure, type UpstreamTrace } from './connection.js';
import type { Connector } from './bridged.js';
import type { ConnectionInit } from './pool.js';
import { withMessageLimit, type Overflow } from './message-limit.js';
import { secretsOf, upstreamFetch, withRedactedErrors } from './upstream-fetch.js';
import { AnsweringSSEClientTransport, AnsweringStreamableHTTPClientTransport } from './unanswered-streams.js';
import { messageOf } from './bridge.js';

export interface RemoteConnectorOptions {
  readonly route: string;
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  /** How long the remote server has to answer the connection's own requests: the route's callTimeout (bridged.ts). */
  readonly connectTimeout: number;
  /** The route's `maxMessageSize`: the most one message from the remote may be (message-limit.ts). */
  readonly maxMessageSize: number;
  /** The route's `cache.backoff` and clock (ConnectOptions.backoff). */
  readonly backoff: BackoffSettings;
  /** The route's counts of its listen streams upstream (ConnectOptions.listenStreams). */
  readonly listenStreams: ListenStreams;
  readonly logger: Logger;
  /** The CLIENT span of the connection's handshake (ConnectOptions.trace); telemetry on. */
  readonly trace?: UpstreamTrace;
}

interface Sealed {
  /** The upstream's session id. */
  readonly s: string;
  /** The protocol version negotiated with it. */
  readonly v: string | undefined;
}

export function remoteConnector(options: RemoteConnectorOptions): Connector {
  const describe = `the remote server of route "${options.route}"`;
  const log = options.logger.child({ upstream: 'url' });
  const requestInit = { headers: { ...options.headers } };
  const secrets = secretsOf(options.url, options.headers);
  /**
   * The fetch of a transport (or of the gateway's own requests, with no `transport`): each answer
   * bounded to maxMessageSize, the requests of one cut failed at once on `transport`; and what the
   * remote says in an error answer, which reaches clients, logs and the status page, without the
   * route's secrets (read after the bound, so that an endless error page is cut too).
   */
  function fetchFor(transport?: () => { failTooLarge(overflow: Overflow): void }): FetchLike {
    const limited = withMessageLimit(upstreamFetch, options.maxMessageSize, (overflow) => {
      log.warn(
        {
          maxBytes: options.maxMessageSize,
          method: overflow.method,
          body: overflow.eventStream ? 'event stream' : 'message',
          declared: overflow.declared,
          requests: overflow.requestIds.length,
        },
        'the remote server sent a message over maxMessageSize; its answer was cut there',
      );
      transport?.().failTooLarge(overflow);
    });
    const redacted = withRedactedErrors(limited, secrets);
    // A redirect is never followed by fetch itself: the route's headers (its credentials) would go
    // wherever the remote points. The SDK's transports follow one within the URL's origin, hop by
    // hop, and hand any other back as an error (redirectPolicy 'same-origin', their default); a
    // request of the gateway's own (the DELETE below) gets the 3xx as its answer.
    return (url, init) => redacted(url, { redirect: 'manual', ...init });
  }
  const fetch = fetchFor();
  /** Streamable HTTP refused once: this upstream is an SSE server. */
  let sseOnly = false;
  const transports = new WeakMap<UpstreamConnection, StreamableHTTPClientTransport>();
  /** Transports whose upstream session id a gateway session id carries: resumed from one, or sealed in one. */
  const sealedIn = new WeakSet<StreamableHTTPClientTransport>();

  /** Ends upstream a session of a connection being closed, unless a gateway session id can still reach it. */
  function endUnreachable(transport: StreamableHTTPClientTransport): void {
    if (sealedIn.has(transport) || transport.sessionId === undefined) return;
    endRemoteSession({ s: transport.sessionId, v: transport.protocolVersion }, 'no longer used');
  }

  /**
   * What the SDK's own terminateSession() sends (MCP: a client SHOULD DELETE a session it no
   * longer needs), without a transport and a handshake to send it from, in the background. A 405
   * means the server does not let clients end sessions; it forgets the session itself in time.
   */
  function endRemoteSession(sealed: Sealed, why: string): void {
    const headers: Record<string, string> = { ...options.headers, 'mcp-session-id': sealed.s };
    if (sealed.v) headers['mcp-protocol-version'] = sealed.v;
    fetch(options.url, { method: 'DELETE', headers, signal: AbortSignal.timeout(options.connectTimeout) })
      .then(async (response) => {
        await response.body?.cancel();
        log.debug({ status: response.status, why }, 'a remote session was ended');
      })
      .catch((error: unknown) => log.debug({ err: messageOf(error), why }, 'a remote session could not be ended'));
  }

  async function connect(
    init: Parameters<Connector['open']>[0],
    transport: StreamableHTTPClientTransport | SSEClientTransport,
    resumed: boolean,
  ) {
    return UpstreamConnection.open({
      transport,
      capabilities: init.capabilities,
      clientInfo: init.clientInfo!,
      negotiation: init.legacy ? 'legacy' : 'auto',
      ownedBySession: init.legacy,
      resumed,
      timeout: options.connectTimeout,
      timeoutSetting: 'callTimeout',
      backoff: options.backoff,
      listenStreams: options.listenStreams,
      logger: log,
      ...(options.trace ? { trace: options.trace } : {}),
      describeEnd: () => 'closed the connection',
      ...(transport instanceof StreamableHTTPClientTransport ? { onClose: () => endUnreachable(transport) } : {}),
    });
  }

  /** A connection to the remote: in Streamable HTTP, else (once that was refused) in HTTP+SSE. */
  async function openConnection(init: ConnectionInit): Promise<UpstreamConnection> {
    const sealed = parseSealed(init.resume);
    /** Why Streamable HTTP was refused just now, if it was: told with the HTTP+SSE failure. */
    let refused: unknown;
    if (!sseOnly) {
      const transport: AnsweringStreamableHTTPClientTransport = new AnsweringStreamableHTTPClientTransport(options.url, {
        requestInit,
        // Called only once the transport sends, so `transport` is there by then.
        fetch: fetchFor(() => transport),
        ...(sealed ? { sessionId: sealed.s } : {}),
      });
      if (sealed?.v) transport.setProtocolVersion(sealed.v);
      if (sealed) sealedIn.add(transport);
      try {
        const connection = await connect(init, transport, sealed !== undefined);
        transports.set(connection, transport);
        return connection;
      } catch (error) {
        await transport.close().catch(() => undefined);
        // A 2026-07-28-only server refusing the 2025 version speaks Streamable HTTP all the same.
        if (!refusedStreamableHttp(error) || refusedProtocolVersion(error)) throw error;
        refused = error;
      }
    }
    const transport: AnsweringSSEClientTransport = new AnsweringSSEClientTransport(options.url, {
      requestInit,
      fetch: fetchFor(() => transport),
    });
    let connection: UpstreamConnection;
    try {
      connection = await connect(init, transport, false);
    } catch (error) {
      await transport.close().catch(() => undefined);
      // Remembered only once HTTP+SSE worked: a server that answers neither (a wrong path, a
      // proxy's 404 during a deploy) is asked in Streamable HTTP again next time.
      sseOnly = false;
      if (refused === undefined) throw error;
      throw bothRefused(refused, error);
    }
    if (!sseOnly) {
      log.info({ status: (refused as SdkError).data }, 'the remote server refused Streamable HTTP; using HTTP+SSE');
      sseOnly = true;
    }
    return connection;
  }

  return {
    kind: 'url',
    describe,
    async open(init) {
      try {
        return await openConnection(init);
      } catch (error) {
        // It answered, refusing the era it was offered: the route asks again in the other (bridged.ts).
        if (refusedProtocolVersion(error)) throw error;
        const why = remoteFailure(error);
        log.warn({ why }, 'remote server could not be connected to');
        throw new UpstreamStartFailure(why, { cause: error });
      }
    },
    seal(connection) {
      const transport = transports.get(connection);
      if (transport?.sessionId === undefined) return undefined;
      const sealed: Sealed = { s: transport.sessionId, v: connection.client.getNegotiatedProtocolVersion() };
      sealedIn.add(transport);
      return JSON.stringify(sealed);
    },
    unseal(connection) {
      // Too long for the gateway's id: once its connection closes, nothing reaches this session.
      const transport = transports.get(connection);
      if (transport) sealedIn.delete(transport);
    },
    end(state) {
      const sealed = parseSealed(state);
      if (sealed) endRemoteSession(sealed, 'its session was deleted');
    },
  };
}

/**
 * Why a connection to the remote failed, for its clients and the log: the HTTP status it answered
 * (with what to check for the usual ones), else the network's reason (`fetch failed (ECONNREFUSED)`).
 */
function remoteFailure(error: unknown): string {
  const status = error instanceof SdkError ? (error.data as { status?: unknown } | undefined)?.status : undefined;
  if (typeof status !== 'number') return messageOf(error);
  // (A 404 or 405 is told as a refusal of both transports: the server may speak only HTTP+SSE.)
  const hint = status === 401 || status === 403 ? ": check the credentials in the route's headers" : '';
  const said = messageOf(error).replace(/^Error POSTing to endpoint(?: \(HTTP \d+\))?:\s*/, '');
  return `answered HTTP ${status}${hint}${said === '' ? '' : ` (${said})`}`;
}

function parseSealed(text: string | undefined): Sealed | undefined {
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as Partial<Sealed>;
    return typeof value.s === 'string' ? { s: value.s, v: typeof value.v === 'string' ? value.v : undefined } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A 4xx to the first POST that says the server may not speak Streamable HTTP: not auth (401, 403),
 * and not a 408 or 429, which a server of any transport sends when it is busy.
 */
function refusedStreamableHttp(error: unknown): boolean {
  const status = error instanceof SdkError ? (error.data as { status?: unknown } | undefined)?.status : undefined;
  return typeof status === 'number' && status >= 400 && status < 500 && ![401, 403, 408, 429].includes(status);
}

/** Streamable HTTP refused, then HTTP+SSE: caused by the first refusal, whose HTTP status the backoff's lastError shows. */
function bothRefused(refused: unknown, error: unknown): Error {
  return new Error(`Streamable HTTP was refused (${messageOf(refused)}), and so was HTTP+SSE (${messageOf(error)})`, { cause: refused });
}
