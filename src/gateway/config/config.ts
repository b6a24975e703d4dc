/**
 * gateway.yaml: one strict schema, defaults beside it, parsed by a pure function and frozen.
 * Every problem is reported at once as `file:line:col key.path: message`.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document } from 'yaml';
import { z } from 'zod';
import { authSchema, NO_AUTH, type AuthConfig } from '../auth/auth-config.js';
import { convertExpanded, describeTypes, expandVariables, type FieldTypes } from './expand.js';
import { duration, size, timerDuration } from './units.js';

/** Route names become URL segments: `/mcp/<name>`. */
const ROUTE_NAME = /^[a-z0-9][a-z0-9-]*$/;

const toolsSchema = z
  .object({
    /** Only these tools are listed and callable (exact names). */
    allow: z.array(z.string().min(1)).optional(),
    /** These tools are hidden and refused (exact names). */
    deny: z.array(z.string().min(1)).optional(),
  })
  .strict();

/** Exactly one of these says where a route's server lives (upstreams/upstream.ts). */
const UPSTREAM_KINDS = ['module', 'command', 'url'] as const;
type UpstreamKind = (typeof UPSTREAM_KINDS)[number];
/** Keys that only mean something for some kinds. */
const KIND_ONLY: Record<string, readonly UpstreamKind[]> = {
  options: ['module'],
  args: ['command'],
  env: ['command'],
  cwd: ['command'],
  maxProcesses: ['command'],
  maxMessageSize: ['command', 'url'],
  startTimeout: ['module', 'command'],
  headers: ['url'],
  isolation: ['command', 'url'],
};

/** An HTTP header name (RFC 9110 §5.1: a token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const serverKeys = z
  .object({
    /** A path relative to gateway.yaml (`./servers/weather`) or an npm package name. */
    module: z.string().min(1).optional(),
    /** A stdio MCP server: the program the gateway starts (`node`, `python`, `uvx`), no shell. */
    command: z.string().min(1).optional(),
    /** A remote MCP server (Streamable HTTP, or HTTP+SSE). */
    url: z
      .string()
      .refine(isHttpUrl, 'url must be an http:// or https:// URL')
      // fetch throws for such a URL, and its error, with the password, would reach clients and logs.
      .refine(
        (value) => !isHttpUrl(value) || (new URL(value).username === '' && new URL(value).password === ''),
        'url must not hold a user name or password (fetch refuses such URLs); send credentials in headers, e.g. headers: { Authorization: "Basic …" }',
      )
      .optional(),
    /** Passed to the module, validated by its `optionsSchema` when it exports one. */
    options: z.record(z.string(), z.unknown()).optional(),
    /** `command:` arguments, as a list (no shell parsing). */
    args: z.array(z.string()).optional(),
    /**
     * `command:` environment: added to a minimal base (PATH, HOME, TMPDIR, locale, NODE_*); the
     * child gets nothing else of the gateway's.
     */
    env: z.record(z.string(), z.string()).optional(),
    /** `command:` working folder, relative to gateway.yaml; default gateway.yaml's folder. */
    cwd: z.string().min(1).optional(),
    /** `url:` request headers (credentials for the remote server). */
    headers: z
      .record(
        z.string().regex(HEADER_NAME, "a header name is letters, digits and !#$%&'*+-.^_`|~ only (no spaces or colons)"),
        z.string().refine(isHeaderValue, 'a header value must not hold line breaks or control characters'),
      )
      .optional(),
    /**
     * Who shares an upstream (a child, a remote session): `session` (default), one per 2025
     * session, and per caller for 2026-07-28 requests; `principal`, one per caller; `shared`,
     * one per instance for servers that keep no per-client state.
     */
    isolation: z.enum(['session', 'principal', 'shared']).optional(),
    /** `command:` children running at once on this route and instance (about 50 MB each for Node servers). */
    maxProcesses: z.number().int().positive().optional(),
    /**
     * `command:` the largest JSON-RPC message (one stdout line) a child may write, and the most the
     * gateway holds for a child that does not read its stdin; past either, the child is stopped.
     * `url:` the largest JSON-RPC message the remote may send: a JSON body, or one event of an event
     * stream; past it, the body is cut and the calls waiting on it fail (upstream-fetch.ts).
     */
    maxMessageSize: size.refine((bytes) => bytes > 0, 'maxMessageSize must be more than 0').optional(),
    /**
     * `command:` a new child must answer its first request within this, and a running one the ping
     * it is sent after a call timed out (else it is stopped as hung). `module:` the module must
     * finish importing within this (else the start fails), and each createServer call must return
     * its server within it (else that request fails).
     */
    startTimeout: timerDuration('startTimeout')
      .refine((ms) => ms > 0, 'startTimeout must be more than 0')
      .optional(),
    /**
     * A request unanswered this long gets `upstream_timeout` (progress restarts the clock): one
     * forwarded to a command or url server, or one a module's server is handling.
     */
    callTimeout: timerDuration('callTimeout')
      .refine((ms) => ms > 0, 'callTimeout must be more than 0')
      .optional(),
    enabled: z.boolean().default(true),
    /** `stateful`: one McpServer per session. `stateless`: one per request, no session id. */
    sessions: z.enum(['stateful', 'stateless']).default('stateful'),
    tools: toolsSchema.optional(),
    /** Who may call this route; default: the top-level `auth`, else none. */
    auth: authSchema.optional(),
    /**
     * How long a 2026-07-28 client may reuse this route's lists and `server/discover` answer
     * (SEP-2549 `ttlMs`); 0, the default, asks it to fetch them again each time.
     */
    listTtl: duration.default(0),
  })
  .strict();

const serverSchema = serverKeys
  .superRefine(
    (server, ctx) => {
      const kinds = UPSTREAM_KINDS.filter((kind) => server[kind] !== undefined);
      if (kinds.length !== 1) {
        ctx.addIssue({
          code: 'custom',
          path: kinds.length > 1 ? [kinds[1]!] : [],
          message:
            kinds.length === 0
              ? 'a server needs one of module (in process), command (a stdio program) or url (a remote server)'
              : `a server has exactly one of module, command or url; this one has ${kinds.join(' and ')}`,
        });
        return;
      }
      for (const [key, allowed] of Object.entries(KIND_ONLY)) {
        if (server[key as keyof typeof server] !== undefined && !allowed.includes(kinds[0]!)) {
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: `${key} applies to ${allowed.join(' and ')} servers only, not to a ${kinds[0]} server`,
          });
        }
      }
      // Checked even when another key of the server is wrong: every problem is reported at once.
    },
    { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
  )
  .transform((server) => ({
    ...server,
    options: server.options ?? {},
    args: server.args ?? [],
    env: server.env ?? {},
    headers: server.headers ?? {},
    isolation: server.isolation ?? 'session',
    maxProcesses: server.maxProcesses ?? 20,
    maxMessageSize: server.maxMessageSize ?? 64 * 1_048_576,
    startTimeout: server.startTimeout ?? 30_000,
    callTimeout: server.callTimeout ?? 60_000,
    kind: UPSTREAM_KINDS.find((kind) => server[kind] !== undefined)!,
  }));

/** An absolute http:// or https:// URL (gateway.yaml's `url:`, telemetry endpoints). */
export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

const sessionsSchema = z
  .object({
    /** A session unused this long is closed. */
    idleTimeout: timerDuration('idleTimeout')
      .refine((ms) => ms > 0, 'idleTimeout must be more than 0')
      .default(30 * 60_000),
    /** At most this many sessions per route; the least recently used idle one is closed beyond it. */
    maxPerRoute: z.number().int().positive().default(5000),
    /**
     * At most this many sessions per caller on a route (the principal, or the client address on an
     * open route); default a tenth of maxPerRoute.
     */
    maxPerPrincipal: z.number().int().positive().optional(),
    /** Absolute lifetime of a session id, however active. */
    maxAge: duration.refine((ms) => ms > 0, 'maxAge must be more than 0').default(24 * 3_600_000),
    /** SSE comment frames this often keep idle streams open through proxies (Azure cuts at ~4 min). */
    keepAlive: duration
      .refine(
        (ms) => ms > 0 && ms <= 60_000,
        'keepAlive must be more than 0 and at most 60s (Azure cuts idle connections at about 4 minutes)',
      )
      .default(15_000),
  })
  .strict()
  .superRefine((sessions, ctx) => {
    if (sessions.maxPerPrincipal !== undefined && sessions.maxPerPrincipal > sessions.maxPerRoute) {
      ctx.addIssue({ code: 'custom', path: ['maxPerPrincipal'], message: 'maxPerPrincipal must not exceed maxPerRoute' });
    }
  })
  .transform(({ maxPerPrincipal, ...sessions }) => ({
    ...sessions,
    maxPerPrincipal: maxPerPrincipal ?? Math.max(1, Math.ceil(sessions.maxPerRoute / 10)),
  }));

const cacheRuleSchema = z
  .object({
    /** Glob on the URL path: `*` within one segment, `**` across segments. */
    path: z
      .string()
      .refine(
        (path) => path.startsWith('/') && !/\*{3}|[?#\s]/.test(path),
        'path is a pathname glob starting with "/", with only * (one segment) and ** (any) as wildcards: no ***, ?, # or spaces',
      ),
    /** Freshness never exceeds this, whatever the upstream says. */
    maxAge: duration,
  })
  .strict();

const backoffSchema = z
  .object({
    /** Consecutive failures (5xx, 429, timeouts, connection errors) before a host is left alone. */
    afterFailures: z.number().int().positive().default(2),
    /** The first interval; each failed probe doubles it. */
    initial: timerDuration('initial')
      .refine((ms) => ms > 0, 'initial must be more than 0')
      .default(1000),
    /** The longest interval, and the most a Retry-After can ask for. */
    max: timerDuration('max').default(30_000),
  })
  .strict()
  .refine((backoff) => backoff.max >= backoff.initial, { message: 'max must be at least initial', path: ['max'] });

const cacheSchema = z
  .object({
    enabled: z.boolean().default(true),
    maxEntries: z.number().int().positive().default(1000),
    maxBytes: size
      .refine((bytes) => bytes > 0, 'maxBytes must be more than 0 (to turn the cache off, set enabled: false)')
      .default(50 * 1_048_576),
    maxEntryBytes: size.default(5 * 1_048_576),
    /** First match wins; omitted = the NWS defaults (points 24 h, forecasts 30 min, alerts 60 s). */
    rules: z.array(cacheRuleSchema).optional(),
    defaultMaxAge: duration.default(5 * 60_000),
    staleIfError: duration.default(24 * 3_600_000),
    notFoundTtl: duration.default(10 * 60_000),
    /** An upstream host, or a command or url route's server, that keeps failing is not called for a while (backoff-schedule.ts). */
    backoff: backoffSchema.default(() => backoffSchema.parse({})),
  })
  .strict();

export const configSchema = z
  .object({
    servers: z
      .record(z.string().regex(ROUTE_NAME, 'route names are lowercase letters, digits and "-"'), serverSchema)
      .refine((servers) => Object.keys(servers).length > 0, 'declare at least one server'),
    sessions: sessionsSchema.default(() => sessionsSchema.parse({})),
    cache: cacheSchema.default(() => cacheSchema.parse({})),
    /** Host names accepted besides localhost and WEBSITE_HOSTNAME (DNS rebinding protection). */
    allowedHosts: z
      .array(
        z.string().superRefine((value, ctx) => {
          if (!isHostName(value)) {
            ctx.addIssue({
              code: 'custom',
              message: `${JSON.stringify(value)} is not a host name: write the name alone, without scheme, port, path or wildcard (e.g. gw.example.com; the port is never compared)`,
            });
          }
        }),
      )
      .default([]),
    /**
     * Browser origins (`https://app.example.com`) accepted on /mcp/<name> besides loopback and the
     * gateway's own, with CORS; the single value `*` accepts any (public routes without auth only).
     */
    allowedOrigins: z
      .array(
        z
          .string()
          .superRefine((value, ctx) => {
            if (value !== '*' && !isOrigin(value)) {
              ctx.addIssue({
                code: 'custom',
                message: `${JSON.stringify(value)} is not an origin: scheme, host and optional port, no path (e.g. https://app.example.com), or the single value "*"`,
              });
            }
          })
          .transform((value) => (value === '*' ? value : new URL(value).origin)),
      )
      .refine((origins) => !origins.includes('*') || origins.length === 1, {
        message: '"*" (any origin) must be the only value of allowedOrigins',
      })
      .default([]),
    /** Request bodies over this are refused with 413 before they are parsed. */
    maxBodySize: size.refine((bytes) => bytes > 0, 'maxBodySize must be more than 0').default(4 * 1_048_576),
    /** A request whose headers and body have not all arrived this long after it began gets 408. */
    requestTimeout: duration.refine((ms) => ms >= 1000, 'requestTimeout must be at least 1s').default(30_000),
    /** After SIGTERM, calls in flight may finish for this long before they are answered with an error. */
    shutdownGrace: timerDuration('shutdownGrace').default(10_000),
    /** The `auth` of every server that has none of its own. */
    auth: authSchema.default(NO_AUTH),
    /**
     * The origin clients reach the gateway at (`https://mcp.example.com`), for the OAuth resource
     * metadata and the status page. Default: taken from each request (Host, or X-Forwarded-Host
     * and X-Forwarded-Proto behind the Functions host).
     */
    publicUrl: z
      .string()
      .refine(isOrigin, 'publicUrl must be an origin: scheme, host and optional port, no path (e.g. https://mcp.example.com)')
      .transform((url) => new URL(url).origin)
      .optional(),
  })
  .strict();

/** An HTTP header value fetch sends: no control character but tab (RFC 9110 §5.5). */
function isHeaderValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if ((code < 0x20 && code !== 0x09) || code === 0x7f) return false;
  }
  return true;
}

/** A host name as a Host header names it without its port: `gw.example.com`, `10.0.0.4`, `[::1]`. */
function isHostName(value: string): boolean {
  if (value.trim() !== value || value === '' || value.includes('*')) return false;
  try {
    return new URL(`http://${value}`).hostname === value.toLowerCase();
  } catch {
    return false;
  }
}

function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (
      (url.protocol === 'https:' || url.protocol === 'http:') &&
      (url.pathname === '/' || url.pathname === '') &&
      !url.search &&
      !url.hash &&
      !url.username
    );
  } catch {
    return false;
  }
}

export type GatewayConfigData = z.infer<typeof configSchema>;
export type ServerEntry = GatewayConfigData['servers'][string];
export type SessionsConfig = GatewayConfigData['sessions'];
export type CacheConfig = GatewayConfigData['cache'];
export type { AuthConfig };

/** What a server requires of its callers: its own `auth`, else the top-level default (else none). */
export function authOf(config: Pick<GatewayConfigData, 'auth'>, server: Pick<ServerEntry, 'auth'>): AuthConfig {
  return server.auth ?? config.auth;
}

/** The parsed configuration plus where it came from (module paths are relative to `dir`). */
export interface GatewayConfig extends GatewayConfigData {
  readonly file: string;
  readonly dir: string;
  /** Where a key path is in the file, for problems found later (a module's options). */
  readonly locate: (keyPath: readonly PropertyKey[]) => { line: number; col: number };
}

/** One problem, located in the file. */
export interface ConfigProblem {
  line: number;
  col: number;
  keyPath: string;
  message: string;
}

/** Thrown when gateway.yaml is invalid; `message` lists every problem, one per line. */
export class ConfigError extends Error {
  readonly code = 'invalid_config';
  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
  ) {
    super(
      `invalid gateway configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  ${formatProblem(file, p)}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

export function formatProblem(file: string, p: ConfigProblem): string {
  return `${file}:${p.line}:${p.col}${p.keyPath ? ` ${p.keyPath}` : ''}: ${p.message}`;
}

/** The project root: the folder holding the gateway's package.json (dist/ or sources alike). */
export const PROJECT_ROOT = findProjectRoot(path.dirname(fileURLToPath(import.meta.url)));

function findProjectRoot(start: string): string {
  // Sources (src/gateway) and build output (dist/src/gateway) alike: the nearest package.json.
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return start;
  }
}

/** `GATEWAY_CONFIG` when set (relative to the working directory), else `<project root>/gateway.yaml`. */
export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.GATEWAY_CONFIG ? path.resolve(env.GATEWAY_CONFIG) : path.join(PROJECT_ROOT, 'gateway.yaml');
}

/**
 * Reads and parses a gateway.yaml file. Throws {@link ConfigError} listing every problem.
 *
 * @example
 * const config = await loadConfig(defaultConfigPath());
 */
export async function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Promise<GatewayConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : String(error);
    throw new ConfigError(file, [{ line: 1, col: 1, keyPath: '', message: reason }]);
  }
  return parseConfig(text, file, env);
}

/**
 * Parses gateway.yaml text: YAML syntax, `${VAR}` / `${VAR:-default}` expansion from `env`, then
 * the schema. Pure: reads nothing but its arguments.
 */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = {}): GatewayConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number | undefined) => lineCounter.linePos(offset ?? 0);

  const problems: ConfigProblem[] = doc.errors
    .filter((error) => error.code !== 'DUPLICATE_KEY')
    .map((error) => ({
      ...at(error.pos[0]),
      keyPath: '',
      message: error.message.split('\n')[0]!,
    }));
  // A syntax error makes positions after it meaningless: report it alone.
  if (problems.length > 0) throw new ConfigError(file, problems);
  // A key written twice is no syntax error: reported by its path, with every other problem.
  problems.push(...duplicateKeys(doc, at));

  const expanded = expandEnvironment(doc, env, at);
  problems.push(...expanded.problems);
  // A value left empty by a variable problem, or not of its field's type, is reported once, as the variable.
  const alreadyReported = new Set([...expanded.problems.map((p) => p.keyPath), ...expanded.reported]);
  let data: unknown;
  try {
    data = doc.toJS() ?? {};
  } catch (error) {
    // The yaml library refuses to expand aliases past a limit (a "billion laughs" file).
    problems.push({ line: 1, col: 1, keyPath: '', message: `cannot be read: ${(error as Error).message}` });
    throw new ConfigError(file, problems);
  }
  const result = configSchema.safeParse(data);
  if (!result.success) {
    const schemaProblems = result.error.issues.flatMap((issue) => locateIssue(doc, issue, at));
    problems.push(...schemaProblems.filter((p) => !alreadyReported.has(p.keyPath)));
  }
  if (problems.length > 0 || !result.success) {
    problems.sort((a, b) => a.line - b.line || a.col - b.col);
    throw new ConfigError(file, problems);
  }
  const locate = (keyPath: readonly PropertyKey[]) => locateNode(doc, keyPath.map(String), at);
  return deepFreeze({ ...result.data, file, dir: path.dirname(path.resolve(file)), locate });
}

type Locate = (offset: number | undefined) => { line: number; col: number };

/**
 * Each key written again in the same map, at the second one: YAML keeps one of them (the gateway
 * would silently read only one route, or one value), so neither is taken as meant.
 */
function duplicateKeys(doc: Document, at: Locate): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  visit(doc, {
    Map(_key, map, nodePath) {
      const keyPath = keyPathOf(nodePath);
      const first = new Map<string, number | undefined>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        const name = String(pair.key.value);
        const offset = pair.key.range?.[0];
        if (!first.has(name)) {
          first.set(name, offset);
          continue;
        }
        problems.push({
          ...at(offset),
          keyPath: keyPath === '' ? name : `${keyPath}.${name}`,
          message: `"${name}" is written twice in this map (first at line ${at(first.get(name)).line}): keep one`,
        });
      }
    },
  });
  return problems;
}

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string scalar (expand.ts has the rules), then
 * gives each expanded value its field's type: `maxProcesses: ${N:-4}` is the number 4, while an
 * all-digit secret in `env:` stays a string. `reported` holds the key paths of values already
 * reported, so the schema does not report them again.
 */
function expandEnvironment(doc: Document, env: NodeJS.ProcessEnv, at: Locate): { problems: ConfigProblem[]; reported: string[] } {
  const problems: ConfigProblem[] = [];
  const reported: string[] = [];
  visit(doc, {
    Scalar(key, node, nodePath) {
      if (typeof node.value !== 'string' || !node.value.includes('$')) return;
      const written = node.value;
      const expansion = expandVariables(written, env);
      if (!expansion.ok) {
        problems.push({
          ...at(node.range?.[0]),
          keyPath: keyPathOf(nodePath),
          message:
            expansion.problem === 'unset'
              ? `environment variable ${expansion.name} is not set (write \${${expansion.name}:-default} to give a default)`
              : expansion.message,
        });
        node.value = '';
        reported.push(dataPathOf(nodePath, node).join('.'));
        return;
      }
      node.value = expansion.value;
      if (key === 'key' || expansion.references.length === 0) return;
      const dataPath = dataPathOf(nodePath, node);
      // A module's options are its own to read (strings stay strings): no need for the schema's view.
      if (dataPath[0] === 'servers' && dataPath[2] === 'options') return;
      const types = fieldTypes(configInputSchema(), dataPath);
      const value = convertExpanded(expansion.value, types);
      if (value !== undefined) {
        node.value = value;
        return;
      }
      problems.push({
        ...at(node.range?.[0]),
        keyPath: keyPathOf(nodePath),
        message: `${written} expanded to ${JSON.stringify(expansion.value)}, which is not ${describeTypes(types as ReadonlySet<string>)}`,
      });
      reported.push(dataPath.join('.'));
    },
  });
  return { problems, reported };
}

/** The key path of a value with sequence indexes too (`auth.keys.0`), as the schema's issues have it. */
function dataPathOf(nodePath: readonly unknown[], node: unknown): string[] {
  const keys: string[] = [];
  nodePath.forEach((parent, i) => {
    if (isPair(parent)) keys.push(isScalar(parent.key) ? String(parent.key.value) : String(parent.key));
    else if (isSeq(parent)) keys.push(String(parent.items.indexOf((nodePath[i + 1] ?? node) as never)));
  });
  return keys;
}

/**
 * The schema as JSON Schema of what it accepts (zod's own view of its input types), walked to
 * learn which types a field takes.
 */
function configInputSchema(): JsonSchema {
  // Made when a file first has a value to convert (about 10 ms): most have none, and a start should not pay for it.
  return (inputSchema ??= z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema);
}
let inputSchema: JsonSchema | undefined;

interface JsonSchema {
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  prefixItems?: JsonSchema[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
}

/** The types the field at `keyPath` takes; `any` where the schema does not say (a module's options). */
function fieldTypes(root: JsonSchema, keyPath: readonly string[]): FieldTypes {
  let schemas = [root];
  for (const key of keyPath) {
    schemas = schemas.flatMap(branches).flatMap((schema) => {
      const child =
        schema.properties?.[key] ??
        (/^\d+$/.test(key) ? (schema.prefixItems?.[Number(key)] ?? schema.items) : undefined) ??
        (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
      return child ? [child] : [];
    });
  }
  const types = new Set<string>();
  for (const schema of schemas.flatMap(branches)) {
    const listed =
      schema.type !== undefined
        ? [schema.type].flat()
        : schema.const !== undefined
          ? [typeof schema.const]
          : schema.enum?.map((value) => typeof value);
    if (listed === undefined) return 'any';
    for (const type of listed) types.add(type === 'integer' ? 'number' : type);
  }
  return schemas.length === 0 ? 'any' : types;
}

function branches(schema: JsonSchema): JsonSchema[] {
  const alternatives = [...(schema.anyOf ?? []), ...(schema.oneOf ?? []), ...(schema.allOf ?? [])];
  return alternatives.length === 0 ? [schema] : alternatives.flatMap(branches);
}

function keyPathOf(nodePath: readonly unknown[]): string {
  return nodePath
    .filter((n): n is { key: unknown } => typeof n === 'object' && n !== null && 'key' in n)
    .map((pair) => (isScalar(pair.key) ? String(pair.key.value) : String(pair.key)))
    .join('.');
}

function locateIssue(doc: Document, issue: z.core.$ZodIssue, at: Locate): ConfigProblem[] {
  const keyPath = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({
      ...at(keyNodeRange(doc, keyPath, key)),
      keyPath: [...keyPath, key].join('.'),
      message: `unknown key "${key}"${suggestion(issue.path)}`,
    }));
  }
  if (issue.code === 'invalid_key') {
    const key = keyPath.at(-1)!;
    const detail = issue.issues[0]?.message ?? issue.message;
    return [
      { ...at(keyNodeRange(doc, keyPath.slice(0, -1), key)), keyPath: keyPath.join('.'), message: `invalid name "${key}": ${detail}` },
    ];
  }
  return [{ ...locateNode(doc, keyPath, at), keyPath: keyPath.join('.'), message: describeIssue(issue, doc.hasIn(keyPath)) }];
}

/** A missing key has no node of its own: point at the nearest parent that exists. */
function locateNode(doc: Document, keyPath: string[], at: Locate): { line: number; col: number } {
  let known = keyPath;
  while (known.length > 0 && !doc.hasIn(known)) known = known.slice(0, -1);
  if (known.length > 0 && known.length < keyPath.length) {
    // The key is missing from a map: point at that map's own key (`time:`), where it belongs.
    const keyOffset = keyNodeRange(doc, known.slice(0, -1), known.at(-1)!);
    if (keyOffset !== undefined) return at(keyOffset);
  }
  const node = known.length > 0 ? doc.getIn(known, true) : doc.contents;
  return at((node as { range?: number[] } | null)?.range?.[0]);
}

function keyNodeRange(doc: Document, parentPath: string[], key: string): number | undefined {
  const parent = parentPath.length > 0 ? doc.getIn(parentPath, true) : doc.contents;
  const items = (parent as { items?: Array<{ key: { value?: unknown; range?: number[] } }> } | null)?.items ?? [];
  return items.find((pair) => pair.key?.value === key)?.key.range?.[0];
}

function describeIssue(issue: z.core.$ZodIssue, present: boolean): string {
  if (!present && issue.code === 'invalid_type') return `is required (${issue.expected})`;
  return issue.message;
}

function suggestion(parentPath: readonly PropertyKey[]): string {
  if (parentPath.length === 0) return `: top-level keys are ${Object.keys(configSchema.shape).join(', ')}`;
  if (parentPath.length === 2 && parentPath[0] === 'servers') return `: server keys are ${Object.keys(serverKeys.shape).join(', ')}`;
  if (parentPath.at(-1) === 'auth') return ': see "auth" in the gateway.yaml reference (kind none, apiKey or oauth)';
  return '';
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
