/**
 * Where a route's server lives, behind one interface the protocol layer uses for all three kinds:
 * `module:` (a factory in process), `command:` (a stdio child) and `url:` (a remote server). The
 * route asks for a new server per 2025 session and per 2026-07-28 request, and closes it when
 * the session or the request ends; what that costs upstream (a child, a connection) is decided
 * by the route's `isolation` (bridged.ts).
 */
import { McpServer, type ClientCapabilities, type Implementation, type ServerNotifier } from '@modelcontextprotocol/server';
import type { Logger } from '../logger.js';
import type { ServerContext, ServerModule } from '../module-contract.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import type { ListenStreamsStatus } from './listen-reopening.js';
import { settlesWithin, type LoadedServer } from './modules.js';
import type { PoolStatus } from './pool.js';
import type { ToolIndex } from './tool-index.js';

export type UpstreamKind = 'module' | 'command' | 'url';
export type Isolation = 'session' | 'principal' | 'shared';

export interface OpenRequest {
  readonly era: 'legacy' | 'modern';
  readonly context: ServerContext<unknown>;
  /** Who is asking: the principal, or the client address on an open route (never logged raw). */
  readonly owner: string;
  /**
   * The gateway's own bookkeeping (the status page's tool listing), not a client's: on a route at
   * `maxProcesses` it fails with processes_full rather than stop a session's idle process.
   */
  readonly background?: boolean;
  /** A 2025 session: what its client declared at initialize, and upstream state sealed in its id. */
  readonly session?: {
    readonly capabilities: ClientCapabilities;
    readonly clientInfo: Implementation;
    readonly resume?: string;
    /** Whether its client has a GET stream open: what its upstream asks between calls goes there. */
    readonly getStream?: SessionStream;
  };
}

/**
 * A 2025 session's GET stream, as the route sees it: the only way to reach the client between its
 * calls (the SDK's transport drops a request it has no stream for, without a word).
 */
export interface SessionStream {
  readonly open: boolean;
  /** Calls `listener` each time a GET stream opens; returns the function that stops that. */
  onOpen(listener: () => void): () => void;
}

export interface OpenedServer {
  readonly server: McpServer;
  /** Upstream state to seal in the new session's id (a remote's own session), if any. */
  readonly seal?: string;
  /** Called when `seal` did not fit in the session's id: the upstream state is then reachable by no id once the session ends. */
  readonly unsealed?: () => void;
}

export interface UpstreamStatus extends PoolStatus {
  readonly kind: Exclude<UpstreamKind, 'module'>;
  readonly isolation: Isolation;
  /** What the upstream said it is, once it has connected. */
  readonly serverInfo?: Implementation;
  readonly protocolVersion?: string;
  /**
   * The `subscriptions/listen` streams the route's connections keep open on a 2026-07-28 upstream
   * (for list changes, and for the resources its listeners and 2025 sessions watch), and how
   * often the upstream ended one and the gateway opened it again (listen-reopening.ts). All 0 for
   * a 2025 upstream, which takes no such streams.
   */
  readonly listenStreams: ListenStreamsStatus;
}

export interface Upstream {
  readonly kind: UpstreamKind;
  /** A new, unconnected server for one session or one request. */
  open(request: OpenRequest): Promise<OpenedServer>;
  status(): UpstreamStatus | undefined;
  /**
   * Subscribes upstream to the resources a 2026-07-28 listener from `owner` asked to hear of, on
   * the connection that caller's requests use (command and url routes; a module tells its
   * listeners itself). Resolves once the upstream has them, with the function that lets them go;
   * `lost` is called if that connection goes away first (its subscriptions went with it). Rejects
   * with the upstream's JSON-RPC error when it refuses one, `subscriptions_full` past the cap.
   */
  watchResources?(owner: string, uris: readonly string[], lost: () => void): Promise<() => void>;
  /**
   * Tells the upstream that a 2025 session its client DELETEd is over, from the state sealed in
   * the session's id (a url route's remote session). Best effort, in the background: never throws,
   * and the client's answer does not wait for it.
   */
  endSession?(state: string): void;
  /** Stops whatever is running upstream (children, connections): the gateway is stopping. */
  close(): Promise<void>;
}

export interface UpstreamEnvironment {
  readonly configDir: string;
  readonly clientInfo: Implementation;
  /** Shared and per-caller connections nobody holds are stopped after this long. */
  readonly idleTimeout: number;
  /** `cache.backoff`: how a failing upstream is left alone. */
  readonly backoff: { readonly afterFailures: number; readonly initial: number; readonly max: number };
  /** Monotonic clock in ms for the backoff; default `performance.now`. */
  readonly now?: () => number;
  /**
   * The route's 2026-07-28 listeners on this instance: all of them, or only `owner`'s (told of
   * changes on the connection that caller's requests use).
   */
  readonly listeners: (owner?: string) => ServerNotifier;
  /** Telemetry: a CLIENT span for each request forwarded to a command or url server (or an SDK 1.x module). */
  readonly telemetry?: Pick<Telemetry, 'bridged' | 'carryContext'>;
  /** The route's logger. */
  readonly logger: Logger;
}

/** The upstream a route's gateway.yaml entry declares. */
export function createUpstream(loaded: LoadedServer, env: UpstreamEnvironment): Upstream {
  if (loaded.module) return moduleUpstream(loaded.module, env, loaded.name, loaded.entry.startTimeout);
  // Every request is forwarded: its CLIENT span is a child of the request's, after awaits.
  env.telemetry?.carryContext();
  // The bridge (and the SDK's client) load with the first server a command or url route opens.
  const { entry } = loaded;
  const kind = entry.command !== undefined ? 'command' : 'url';
  let bridged: Promise<Upstream> | undefined;
  let ready: Upstream | undefined;
  const load = () => (bridged ??= import('./bridged.js').then(({ createBridgedUpstream }) => (ready = createBridgedUpstream(loaded, env))));
  return {
    kind,
    open: async (request) => (await load()).open(request),
    status: () =>
      ready?.status() ?? {
        kind,
        isolation: entry.isolation,
        open: 0,
        max: kind === 'command' ? entry.maxProcesses : Number.POSITIVE_INFINITY,
        started: 0,
        restarts: 0,
        backoff: { state: 'ok', consecutiveFailures: 0 },
        listenStreams: { open: 0, waiting: 0, ended: 0, reopened: 0 },
      },
    watchResources: async (owner, uris, lost) => (await load()).watchResources!(owner, uris, lost),
    endSession: (state) => void load().then((upstream) => upstream.endSession?.(state)),
    close: async () => {
      if (bridged) await (await bridged).close();
    },
  };
}

/**
 * A `module:` route: the module's own factory, nothing upstream. A module whose factory returns a
 * server of the SDK 1.x (`@modelcontextprotocol/sdk`) is served the same way, through the bridge:
 * its server is connected to an SDK client over an in-memory link, one per session or request,
 * as a 2.x server would be.
 */
function moduleUpstream(
  module: ServerModule,
  env: Pick<UpstreamEnvironment, 'clientInfo' | 'logger' | 'telemetry' | 'backoff' | 'now'>,
  route: string,
  /** `startTimeout`: how long a createServer call may take to return its server. */
  startTimeout: number,
): Upstream {
  /** The bridge for a 1.x module (and the SDK's client with it), loaded on its first server (bridged.ts). */
  let bridged: Promise<typeof import('./bridged.js')> | undefined;
  let tools: ToolIndex | undefined;
  /**
   * Every server the factory has made: one it hands back again would be shared between clients
   * (one client's answers leaking to another: GHSA-345p-7cg4-v4c7). The SDK refuses only a server
   * still connected; one closed after a 2026-07-28 request or a session would be reused silently.
   */
  const handed = new WeakSet<object>();
  return {
    kind: 'module',
    async open(request) {
      // Awaited: the SDK's own factories (createMcpHandler) may be async too. One that never
      // settles would hold the request (and a 2025 session's place) forever.
      const making = await settlesWithin(module.createServer(request.context as ServerContext), startTimeout);
      if (!making.settled) {
        throw new Error(`the createServer of route "${route}" did not return a server within ${startTimeout / 1000} s (startTimeout)`);
      }
      const made: unknown = making.value;
      if (!isSdkServer(made) && !isV1Server(made)) {
        throw new Error(`the createServer of route "${route}" returned something that is not an MCP server`);
      }
      if (handed.has(made)) {
        throw new Error(
          `the createServer of route "${route}" returned a server it had returned before: return a new McpServer from every call ` +
            '(the gateway never shares one between clients)',
        );
      }
      handed.add(made);
      if (isSdkServer(made)) return { server: made };
      // Its requests are forwarded through the bridge, as a command route's are.
      env.telemetry?.carryContext();
      bridged ??= import('./bridged.js');
      const { bridgeV1, ToolIndex } = await bridged;
      tools ??= new ToolIndex(env.logger);
      return { server: await bridgeV1(made, request, env, route, tools) };
    },
    status: () => undefined,
    close: async () => undefined,
  };
}

/** What the gateway needs of an SDK 1.x `McpServer` (or its low-level `Server`). */
export interface V1Server {
  connect(transport: unknown): Promise<void>;
  close(): Promise<void>;
}

function isSdkServer(value: unknown): value is McpServer {
  return value instanceof McpServer;
}

function isV1Server(value: unknown): value is V1Server {
  const candidate = value as Partial<V1Server> | null;
  return typeof candidate?.connect === 'function' && typeof candidate.close === 'function';
}
