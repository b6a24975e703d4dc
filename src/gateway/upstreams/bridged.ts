/**
 * The upstream of a `command:` or `url:` route, and of a module written for the SDK 1.x: bridge
 * servers (bridge.ts) in front of upstream connections through the SDK's `Client`. Loaded only
 * when a route needs it (upstream.ts), so a gateway of 2.x modules starts without the client.
 */
import path from 'node:path';
import { InMemoryTransport } from '@modelcontextprotocol/client';
import type { Implementation, McpServer, ServerNotifier } from '@modelcontextprotocol/server';
import type { BackoffSettings } from '../backoff-schedule.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import { createBridgeServer, messageOf, type BridgeOptions } from './bridge.js';
import { refusedProtocolVersion, UpstreamConnection, type UpstreamDescription, type UpstreamTrace } from './connection.js';
import type { LoadedServer } from './modules.js';
import { ListenStreams } from './listen-reopening.js';
import { ConnectionPool, type ConnectionInit } from './pool.js';
import { remoteConnector } from './remote.js';
import { stdioConnector } from './stdio.js';
import { ToolIndex } from './tool-index.js';
import { upstreamsOwnError } from './unanswered-streams.js';

/** Loaded with the bridge, so that a gateway of 2.x modules alone never loads the SDK's client. */
export { ToolIndex };
import type { Isolation, OpenRequest, Upstream, UpstreamEnvironment, UpstreamKind, V1Server } from './upstream.js';

/** A `command:` or `url:` route's upstream, as its gateway.yaml entry declares it. */
export function createBridgedUpstream(loaded: LoadedServer, env: UpstreamEnvironment): Upstream {
  const { entry, name } = loaded;
  const backoff = backoffSettings(env);
  const listenStreams = new ListenStreams();
  const kind = entry.command !== undefined ? 'command' : 'url';
  // The CLIENT span of each request to the upstream, the connection's own handshake included.
  const trace: UpstreamTrace | undefined = env.telemetry
    ? (message, protocolVersion, startTime) =>
        env.telemetry!.bridged(message, {
          route: name,
          kind,
          protocolVersion,
          ...(entry.url ? { url: new URL(entry.url) } : {}),
          ...(startTime === undefined ? {} : { startTime }),
        })
    : undefined;
  const connector =
    entry.command !== undefined
      ? stdioConnector({
          route: name,
          command: { command: entry.command, args: entry.args, env: entry.env, cwd: path.resolve(env.configDir, entry.cwd ?? '.') },
          startTimeout: entry.startTimeout,
          callTimeout: entry.callTimeout,
          maxMessageSize: entry.maxMessageSize,
          backoff,
          listenStreams,
          logger: env.logger,
          ...(trace ? { trace } : {}),
        })
      : remoteConnector({
          route: name,
          url: new URL(entry.url!),
          headers: entry.headers,
          maxMessageSize: entry.maxMessageSize,
          connectTimeout: entry.callTimeout,
          backoff,
          listenStreams,
          logger: env.logger,
          ...(trace ? { trace } : {}),
        });
  return bridgedUpstream({
    route: name,
    connector,
    isolation: entry.isolation,
    maxConnections: entry.command !== undefined ? entry.maxProcesses : Number.POSITIVE_INFINITY,
    idleTimeout: env.idleTimeout,
    backoff: env.backoff,
    ...(env.now ? { now: env.now } : {}),
    callTimeout: entry.callTimeout,
    clientInfo: env.clientInfo,
    ...(trace ? { trace } : {}),
    listeners: env.listeners,
    listenStreams,
    logger: env.logger,
  });
}

export async function bridgeV1(
  made: V1Server,
  request: OpenRequest,
  env: Pick<UpstreamEnvironment, 'clientInfo' | 'logger' | 'backoff' | 'now'>,
  route: string,
  tools: ToolIndex,
): Promise<McpServer> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await made.connect(serverSide);
  const connection = await UpstreamConnection.open({
    transport: clientSide,
    capabilities: request.session?.capabilities ?? {},
    clientInfo: request.session?.clientInfo ?? env.clientInfo,
    // A 1.x server speaks 2025 only: no server/discover probe.
    negotiation: 'legacy',
    resumed: false,
    timeout: IN_PROCESS_TIMEOUT,
    backoff: backoffSettings(env),
    logger: env.logger,
    ownedBySession: request.session !== undefined,
  });
  const description = connection.describe();
  connection.attach({
    toolsChanged: () => tools.invalidate(),
    promptsChanged: () => undefined,
    resourcesChanged: () => undefined,
    resourceUpdated: () => undefined,
    log: () => undefined,
    relay: undefined,
  });
  if (request.era === 'modern' && description.capabilities.tools) await tools.ensure(connection);
  const server = createBridgeServer({
    description,
    era: request.era,
    tools,
    connection: async () => connection,
    callTimeout: IN_PROCESS_TIMEOUT,
    describeUpstream: `the SDK 1.x server of route "${route}"`,
    ownsConnection: true,
    initial: connection,
    ...(request.session?.getStream ? { getStream: request.session.getStream } : {}),
  });
  const previous = server.server.onclose;
  server.server.onclose = () => {
    void connection.close().then(() => made.close().catch(() => undefined));
    previous?.();
  };
  return server;
}

/** The route's `cache.backoff` on its clock, as backoff-schedule.ts takes it. */
function backoffSettings(env: Pick<UpstreamEnvironment, 'backoff' | 'now'>): BackoffSettings {
  return { ...env.backoff, now: env.now ?? (() => performance.now()) };
}

/** An in-process server's calls take as long as they take, as a 2.x module's do (a day at most). */
const IN_PROCESS_TIMEOUT = 24 * 3_600_000;

/** How a bridged route reaches its upstream. */
export interface Connector {
  readonly kind: Exclude<UpstreamKind, 'module'>;
  /** `the server process of route "x"` / `the remote server of route "x"`. */
  readonly describe: string;
  open(init: ConnectionInit): Promise<UpstreamConnection>;
  /** The connection's state to seal in a session id, for a connection a session owns. */
  seal?(connection: UpstreamConnection): string | undefined;
  /** The state `seal` gave did not fit in the session's id: no id reaches the connection's session once it closes. */
  unseal?(connection: UpstreamConnection): void;
  /** Ends upstream the session `seal` made (Upstream.endSession). */
  end?(state: string): void;
}

interface BridgedUpstreamOptions {
  readonly route: string;
  readonly connector: Connector;
  readonly isolation: Isolation;
  readonly maxConnections: number;
  /** A shared or per-caller connection nobody holds is stopped after this long. */
  readonly idleTimeout: number;
  readonly backoff: { readonly afterFailures: number; readonly initial: number; readonly max: number };
  readonly now?: () => number;
  readonly callTimeout: number;
  readonly clientInfo: Implementation;
  readonly trace?: BridgeOptions['trace'];
  /** The route's 2026-07-28 listeners: all of them, or one owner's (UpstreamEnvironment.listeners). */
  readonly listeners: (owner?: string) => ServerNotifier;
  /** What the route's connections' listen streams upstream come to (the connector counts them there). */
  readonly listenStreams: ListenStreams;
  readonly logger: Logger;
}

/** A `command:` or `url:` route: bridge servers in front of pooled upstream connections. */
function bridgedUpstream(options: BridgedUpstreamOptions): Upstream {
  const { connector, isolation, logger: log } = options;
  let sessions = 0;
  /** The last description a fresh connection gave: resumed ones skip the handshake. */
  let described: UpstreamDescription | undefined;
  const tools = new ToolIndex(log);
  const pool = new ConnectionPool({
    max: options.maxConnections,
    idleTimeout: options.idleTimeout,
    backoff: options.backoff,
    admitRequests: connector.kind === 'url',
    ...(options.now ? { now: options.now } : {}),
    log,
    describeUpstream: connector.describe,
    open: async (key, init) => {
      const connection = await openConnection(init);
      if (init.resume === undefined) {
        described = connection.describe();
        wireListeners(connection, listenersOf(key));
      }
      return connection;
    },
  });

  /** Every request to the upstream asks the route's backoff and tells it what it came to (pool.ts). */
  const backoff = { pass: () => pool.pass() };

  /** The upstream refused the 2025 handshake's version: it speaks 2026-07-28 only. */
  let modernOnly = false;
  /** A 2025 session's own connection speaks 2025 upstream, unless the upstream refuses that era. */
  async function openConnection(init: ConnectionInit): Promise<UpstreamConnection> {
    if (!init.legacy || modernOnly) return connector.open({ ...init, legacy: false });
    try {
      return await connector.open(init);
    } catch (error) {
      if (!refusedProtocolVersion(error)) throw error;
      modernOnly = true;
      log.info('the upstream refused the 2025 handshake; 2025 sessions reach it in its own era');
      return connector.open({ ...init, legacy: false });
    }
  }

  /**
   * List changes on a connection 2026-07-28 requests use reach the listeners its changes concern,
   * and so do its resource updates (the SDK tells an update only to the streams that asked for its
   * URI); a changed tool list is listed again whoever uses the connection.
   */
  function wireListeners(connection: UpstreamConnection, listeners: ServerNotifier | undefined): void {
    connection.attach({
      toolsChanged: () => {
        tools.invalidate();
        listeners?.toolsChanged();
      },
      promptsChanged: () => listeners?.promptsChanged(),
      resourcesChanged: () => listeners?.resourcesChanged(),
      resourceUpdated: (uri) => listeners?.resourceUpdated(uri),
      log: () => undefined,
      relay: undefined,
    });
  }

  /** The key of the connection a caller's requests share: all but a 2025 session's own (the route's one with `shared`). */
  const modernKey = (owner: string) => (isolation === 'shared' ? SHARED : `${PRINCIPAL}${owner}`);

  /**
   * Whose 2026-07-28 listeners a connection's changes concern: everyone's on the route's one
   * connection, one caller's on that caller's (a change there may be of its own doing, or of state
   * its process keeps for it), no one's on a 2025 session's own, which no listener's requests use.
   */
  function listenersOf(key: string): ServerNotifier | undefined {
    if (key === SHARED) return options.listeners();
    if (key.startsWith(PRINCIPAL)) return options.listeners(key.slice(PRINCIPAL.length));
    return undefined;
  }

  async function describe(connection: UpstreamConnection, init: ConnectionInit): Promise<UpstreamDescription> {
    if (init.resume === undefined) return connection.describe();
    if (described) return described;
    // A session resumed on an instance that has not met the upstream yet: ask it once.
    // Declaring nothing: a server that asks its client something once initialized has no one to ask.
    const probe = await openConnection({ ...init, resume: undefined, capabilities: {} });
    described = probe.describe();
    await probe.close();
    return described;
  }

  return {
    kind: connector.kind,
    async open(request) {
      const own = request.session !== undefined && isolation === 'session';
      const key = own ? `session:${++sessions}` : modernKey(request.owner);
      const init: ConnectionInit = {
        legacy: own,
        capabilities: own ? request.session!.capabilities : {},
        clientInfo: own ? request.session!.clientInfo : options.clientInfo,
        resume: own ? request.session!.resume : undefined,
      };
      const lease = pool.lease(key, init, { makesRoom: request.background !== true });
      let connection: UpstreamConnection;
      let description: UpstreamDescription;
      try {
        connection = await lease.connection();
        description = await describe(connection, init);
        // A 2026-07-28 request's server is built before its request is read: its tools must be known.
        if (request.era === 'modern' && description.capabilities.tools) await tools.ensure(connection, backoff);
      } catch (error) {
        lease.release();
        throw asGatewayError(error, connector.describe);
      }
      const server = createBridgeServer({
        description,
        era: request.era,
        tools,
        connection: () => lease.connection(),
        callTimeout: options.callTimeout,
        describeUpstream: connector.describe,
        ownsConnection: own,
        ...(own ? { initial: connection } : {}),
        ...(request.session?.getStream ? { getStream: request.session.getStream } : {}),
        log,
        ...(options.trace ? { trace: options.trace } : {}),
        onFailure: (method, error) => log.warn({ method, err: messageOf(error) }, 'upstream request failed'),
        backoff,
        busy: lease.busy,
        ...(connector.kind === 'url'
          ? {
              renew: lease.renew,
              onRenewed: () => log.info('the remote server forgot its session; the gateway opened a new one'),
              retryUnreachable: true,
            }
          : {}),
      });
      const previous = server.server.onclose;
      server.server.onclose = () => {
        lease.release();
        previous?.();
      };
      const seal = own ? connector.seal?.(connection) : undefined;
      return { server, ...(seal === undefined ? {} : { seal, unsealed: () => connector.unseal?.(connection) }) };
    },
    async watchResources(owner, uris, lost) {
      // The stream holds its caller's connection, as a call in flight does: not stopped when idle
      // or to make room while it is open.
      const lease = pool.lease(modernKey(owner), { legacy: false, capabilities: {}, clientInfo: options.clientInfo, resume: undefined });
      const idle = lease.busy();
      const letGo = () => {
        idle();
        lease.release();
      };
      let connection: UpstreamConnection;
      try {
        connection = await lease.connection();
      } catch (error) {
        letGo();
        throw asGatewayError(error, connector.describe);
      }
      // A server that takes no subscriptions: the SDK leaves them out of the acknowledgement too.
      if (!connection.describe().capabilities.resources?.subscribe) {
        letGo();
        return () => undefined;
      }
      let release: () => Promise<void>;
      try {
        release = await connection.resources.hold(uris);
      } catch (error) {
        letGo();
        throw upstreamsOwnError(error) ? error : asGatewayError(error, connector.describe);
      }
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        void release();
        letGo();
      };
      void connection.closed.then(() => {
        if (ended) return;
        end();
        lost();
      });
      return end;
    },
    status() {
      return {
        kind: connector.kind,
        isolation,
        ...pool.status(),
        listenStreams: options.listenStreams.status(),
        ...(described ? { serverInfo: described.serverInfo, protocolVersion: described.protocolVersion } : {}),
      };
    },
    ...(connector.end ? { endSession: connector.end.bind(connector) } : {}),
    close: () => pool.close(),
  };
}

/** Pool keys: the route's one connection, and a caller's (a 2025 session's own is `session:<n>`). */
const SHARED = 'shared';
const PRINCIPAL = 'principal:';

/** Errors before any stream is open become the gateway's HTTP errors. */
function asGatewayError(error: unknown, describe: string): Error {
  if (error instanceof GatewayError) return error;
  const data = (error as { data?: { code?: unknown } }).data;
  if (data?.code === 'processes_full' || data?.code === 'upstream_unavailable') {
    return new GatewayError(data.code, (error as Error).message);
  }
  return new GatewayError('upstream_unavailable', `${describe} is unavailable: ${messageOf(error)}`);
}
