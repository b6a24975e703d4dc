/**
 * The contract between the gateway and a server module.
 *
 * A server module is an ordinary ES module written against the SDK, v2 (`@modelcontextprotocol/server`). It exports
 * `createServer(ctx)`, which returns (or resolves to) a new `McpServer`, and optionally `optionsSchema`, a zod schema
 * that validates the `options` block of its `gateway.yaml` entry. The gateway calls `createServer`
 * once per 2025 session, once per request on a stateless route and once per 2026-07-28 request,
 * and never shares one `McpServer` between clients: build what a server needs at load (schemas,
 * wrapped in {@link cacheJsonSchema}) or once per `ctx` (clients), not in the factory.
 *
 * @example
 * ```ts
 * import { McpServer } from '@modelcontextprotocol/server';
 * import { z } from 'zod';
 * import { cacheJsonSchema, type ServerContext } from './module-contract.js';
 *
 * export const optionsSchema = z.object({ greeting: z.string().default('Hello') }).strict();
 *
 * const helloInput = cacheJsonSchema(z.object({ name: z.string() }));
 *
 * export function createServer(ctx: ServerContext<z.infer<typeof optionsSchema>>): McpServer {
 *   const server = new McpServer({ name: 'hello', version: '1.0.0' });
 *   server.registerTool('hello', { description: 'Greets', inputSchema: helloInput },
 *     async ({ name }) => ({ content: [{ type: 'text', text: `${ctx.options.greeting}, ${name}` }] }));
 *   return server;
 * }
 * ```
 */
import type { McpServer, RequestStateCodec, StandardSchemaWithJSON } from '@modelcontextprotocol/server';
import type { Logger } from 'pino';

/** The `fetch` a module gets: the WHATWG signature, so a module can be tested with plain `fetch`. */
export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

/**
 * Response headers the gateway's cached `fetch` adds, so a tool can tell its user how fresh the
 * data is. `x-gateway-cache` is one of {@link CacheStatus}; `age` is the standard seconds since the
 * upstream produced the response (RFC 9111 §5.1).
 */
export const CACHE_STATUS_HEADER = 'x-gateway-cache';

/**
 * - `hit`: served from the cache while fresh.
 * - `miss`: fetched from upstream now (possibly shared with concurrent identical requests).
 * - `revalidated`: the stored copy, which the upstream has just confirmed is current (a 304 to
 *   the cache's conditional request); `age` counts from that answer.
 * - `stale`: the upstream failed, or its host is backing off, and an expired copy was served
 *   instead; check `age`.
 * - `bypass`: not cacheable (non-GET, `Authorization`, `Cookie`, `no-store`, cache disabled).
 * - `backoff`: not sent: the upstream host failed repeatedly and the gateway is leaving it alone
 *   for a while, with no copy to serve. The response is a `503` with `Retry-After` (whole seconds
 *   until the host will be tried again) and an `application/problem+json` body; no request left
 *   the gateway, so retrying before `Retry-After` only gets the same answer. Cacheable or not,
 *   every request to that host gets it until a probe succeeds.
 */
export type CacheStatus = 'hit' | 'miss' | 'revalidated' | 'stale' | 'bypass' | 'backoff';

/** What the gateway hands to `createServer`. */
export interface ServerContext<Options = Record<string, unknown>> {
  /** The route name: the server is served at `/mcp/<route>`. */
  readonly route: string;
  /** The entry's `options`, validated (and defaulted) by the module's `optionsSchema` when it has one. */
  readonly options: Options;
  /**
   * The gateway's upstream `fetch`: shared HTTP cache, coalescing, stale-if-error and backoff from
   * failing hosts in front of the network. A host that is backing off answers `503` with
   * `Retry-After` and `x-gateway-cache: backoff` (see {@link CacheStatus}).
   */
  readonly fetch: FetchLike;
  /** A pino logger bound to the route; write structured fields, never secrets. */
  readonly logger: Logger;
  /**
   * The protocol era this server will serve: `legacy` (a 2025 session, or one request on a
   * stateless route) or `modern` (one 2026-07-28 request). Most modules need not look: the SDK
   * serves the same tools to both.
   */
  readonly era: 'legacy' | 'modern';
  /**
   * Tells the route's clients that a list changed, in both eras: the 2026-07-28 clients listening
   * on this instance (`subscriptions/listen`) and every 2025 session this instance holds. Call it
   * wherever the change happens; a server built for one request has nobody to tell by itself.
   * `resourceUpdated` reaches 2026-07-28 listeners only: a 2025 session's server sends its own
   * (`server.server.sendResourceUpdated`), as it keeps that session's subscriptions.
   */
  readonly notify: ChangeNotifier;
  /**
   * Seals and checks the `requestState` of 2026-07-28 `input_required` results: an HMAC codec
   * whose key is derived from the deployment's session secret, so the next round verifies on any
   * instance. Pass it to the server (`new McpServer(info, { requestState: { verify:
   * ctx.requestState.verify } })`) and seal with `await ctx.requestState.mint(payload)`.
   */
  readonly requestState: RequestStateCodec;
}

/** The changes {@link ServerContext.notify} announces. */
export interface ChangeNotifier {
  toolsChanged(): void;
  promptsChanged(): void;
  resourcesChanged(): void;
  resourceUpdated(uri: string): void;
}

/** The shape of a server module as the gateway imports it. */
export interface ServerModule<Options = Record<string, unknown>> {
  /** A new server on every call (never one it returned before); it may be async. */
  createServer(ctx: ServerContext<Options>): McpServer | Promise<McpServer>;
  /** A zod schema (anything with `safeParse`) for the entry's `options`. */
  optionsSchema?: { safeParse(input: unknown): { success: boolean; data?: unknown; error?: unknown } };
}

/** What the SDK passes to `~standard.jsonSchema.input` / `.output` (the JSON Schema dialect). */
type JsonSchemaOptions = Parameters<StandardSchemaWithJSON['~standard']['jsonSchema']['input']>[0];

/**
 * A tool's schema (zod, or any Standard Schema with `~standard.jsonSchema`) whose JSON Schema is
 * made once per process instead of once per `McpServer`. Wrap the schemas a module builds at load.
 *
 * Why: the gateway builds a server per 2026-07-28 request (and per 2025 session), and the SDK
 * converts a tool's schemas to JSON Schema on each server it is registered with: its input schema
 * for every `tools/call` (to find SEP-2243 `x-mcp-header` parameters) and both schemas for every
 * `tools/list`. zod converts anew on every call, so a schema hoisted out of the factory alone
 * still pays the conversion on every request (SDK issue #2838). Validation is the schema's own,
 * unchanged; the JSON Schema is a frozen copy, as it is shared by every server and every answer.
 *
 * @example
 * ```ts
 * const rollInput = cacheJsonSchema(z.object({ count: z.number().int().min(1).max(10) }));
 * // in createServer: server.registerTool('roll', { inputSchema: rollInput }, async ({ count }) => …);
 * ```
 */
export function cacheJsonSchema<Input, Output>(schema: StandardSchemaWithJSON<Input, Output>): StandardSchemaWithJSON<Input, Output> {
  const standard = schema['~standard'];
  // Nothing to convert once (a zod before 4.2, a library without it): the SDK converts it its own
  // way, or says what is missing, as it would without the wrapper.
  if (typeof standard?.jsonSchema?.input !== 'function' || typeof standard.jsonSchema.output !== 'function') return schema;
  const converted = new Map<string, Record<string, unknown>>();
  const once =
    (io: 'input' | 'output') =>
    (options: JsonSchemaOptions): Record<string, unknown> => {
      // Options for the library itself are the caller's own request: not shared.
      if (options.libraryOptions !== undefined) return standard.jsonSchema[io](options);
      const key = `${io} ${options.target}`;
      let json = converted.get(key);
      // A copy is frozen: a library may keep what it returns (its own cache, a default, metadata).
      if (!json) converted.set(key, (json = deepFreeze(structuredClone(standard.jsonSchema[io](options)))));
      return json;
    };
  return { '~standard': { ...standard, jsonSchema: { input: once('input'), output: once('output') } } };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}
