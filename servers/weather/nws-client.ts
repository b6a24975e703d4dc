/**
 * The one place that talks HTTP to NWS: headers NWS asks for, a timeout, one retry on 5xx or a
 * network error, RFC 7807 problems read, bodies checked against a schema, and the gateway cache's
 * stale and backoff markers surfaced. Outcomes are values ({@link NwsResult}); nothing here throws.
 */
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { ZodType } from 'zod';
import { CACHE_STATUS_HEADER, type CacheStatus, type FetchLike } from '../../src/gateway/module-contract.js';
import { problemSchema, type Problem } from './nws-schemas.js';

type Milliseconds = number;

/** Set when the gateway's cache answered with an expired copy because NWS failed. */
export interface Staleness {
  /** Seconds since NWS produced the copy (the `age` header), when the cache said. */
  readonly ageSeconds?: number;
}

/** Why a request produced no usable data; `path` is the request path on the NWS base. */
export type NwsFailure =
  | { readonly kind: 'timeout'; readonly path: string; readonly timeoutMs: Milliseconds }
  | { readonly kind: 'unreachable'; readonly path: string; readonly cause: string }
  | { readonly kind: 'unavailable'; readonly path: string; readonly status: number; readonly problem?: Problem }
  /**
   * The gateway's cache did not send the request: NWS failed repeatedly and the cache is leaving it
   * alone until it tries again in `retryAfterSeconds`.
   */
  | { readonly kind: 'backingOff'; readonly path: string; readonly retryAfterSeconds: number }
  | {
      readonly kind: 'rejected';
      readonly path: string;
      readonly status: number;
      readonly problem?: Problem;
      /** How long NWS asked to wait (its `Retry-After`), when it said; NWS sends it with a 429. */
      readonly retryAfterSeconds?: number;
    }
  | { readonly kind: 'redirected'; readonly path: string; readonly status: number }
  /** The body was longer than {@link NwsClientOptions.maxResponseBytes}; reading stopped there. */
  | { readonly kind: 'tooLarge'; readonly path: string; readonly limitBytes: number }
  | { readonly kind: 'malformed'; readonly path: string; readonly reason: string };

export type NwsResult<T> =
  { readonly ok: true; readonly data: T; readonly stale?: Staleness } | { readonly ok: false; readonly failure: NwsFailure };

export interface NwsClientOptions {
  /** The gateway's cached fetch (or plain `fetch` in tests). */
  readonly fetch: FetchLike;
  /** NWS API root, e.g. `https://api.weather.gov`; a path prefix is kept. */
  readonly baseUrl: string;
  readonly userAgent: string;
  /** Per attempt, body included. */
  readonly timeoutMs: Milliseconds;
  /** Pause before the single retry. */
  readonly retryDelayMs: Milliseconds;
  /**
   * Most bytes of a body read (as `fetch` hands them over, content decoding done). The gateway's
   * cache streams bodies too large for it, and plain `fetch` bounds nothing, so this client stops
   * a huge or endless body itself.
   * @default 8 MiB
   */
  readonly maxResponseBytes?: number;
  readonly logger: Logger;
  /** Injected for tests; defaults to a `setTimeout` promise. */
  readonly sleep?: (ms: Milliseconds) => Promise<void>;
}

export interface NwsClient {
  /** GETs `path` (relative to the base, starting with `/`) and checks the JSON body against `schema`. */
  get<T>(path: string, schema: ZodType<T>): Promise<NwsResult<T>>;
  /**
   * The path of `url` on the configured base, or `undefined` when `url` is elsewhere (another host,
   * scheme, port or path prefix) or not a URL. Lets callers follow links from upstream data
   * without ever sending a request to a host taken from that data.
   */
  pathOnBase(url: string): string | undefined;
}

/**
 * @example
 * ```ts
 * const nws = createNwsClient({ fetch, baseUrl: 'https://api.weather.gov', userAgent: 'me (me@example.com)',
 *   timeoutMs: 10_000, retryDelayMs: 250, logger });
 * const result = await nws.get('/points/41.967,-71.189', pointSchema);
 * if (result.ok) console.log(result.data.properties.gridId);
 * ```
 */
export function createNwsClient(options: NwsClientOptions): NwsClient {
  const base = new URL(options.baseUrl);
  const prefix = base.pathname.replace(/\/+$/, '');
  const root = base.origin + prefix;
  const sleep = options.sleep ?? ((ms: Milliseconds) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const headers = {
    // Without it NWS's CDN has served days-old forecasts (weather-gov/api#112).
    Accept: 'application/geo+json',
    'User-Agent': options.userAgent,
  };

  async function attempt(path: string): Promise<Attempt> {
    const signal = AbortSignal.timeout(options.timeoutMs);
    try {
      // The race makes the timeout hold even if a fetch ignores `signal`; the grace lets the
      // gateway cache answer an abort with its stale copy, which is better than an error.
      return await abortable(signal, ABORT_GRACE_MS, async () => {
        // A redirect could name any host; NWS only redirects requests this client never sends.
        const response = await options.fetch(root + path, { headers, signal, redirect: 'manual' });
        const body = await readText(response, maxBytes);
        if (body === undefined) return { kind: 'failed', failure: { kind: 'tooLarge', path, limitBytes: maxBytes } };
        return { kind: 'response', response, body };
      });
    } catch (error) {
      if (signal.aborted) return { kind: 'failed', failure: { kind: 'timeout', path, timeoutMs: options.timeoutMs } };
      return { kind: 'failed', failure: { kind: 'unreachable', path, cause: describeNetworkError(error) } };
    }
  }

  async function get<T>(path: string, schema: ZodType<T>): Promise<NwsResult<T>> {
    let outcome = await attempt(path);
    if (isRetryable(outcome)) {
      options.logger.debug({ path, ...summary(outcome) }, 'NWS request failed; retrying once');
      await sleep(options.retryDelayMs);
      outcome = await attempt(path);
    }
    const result = interpret(root + path, path, outcome, schema);
    if (!result.ok) options.logger.warn({ upstream: 'nws', ...result.failure }, 'NWS request failed');
    return result;
  }

  function pathOnBase(url: string): string | undefined {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return undefined;
    }
    if (parsed.origin !== base.origin || parsed.username || parsed.password) return undefined;
    if (prefix && !parsed.pathname.startsWith(prefix + '/')) return undefined;
    return parsed.pathname.slice(prefix.length) + parsed.search;
  }

  return { get, pathOnBase };
}

type Attempt =
  | { readonly kind: 'response'; readonly response: Response; readonly body: string }
  | { readonly kind: 'failed'; readonly failure: NwsFailure };

function isRetryable(outcome: Attempt): boolean {
  if (outcome.kind === 'failed') return outcome.failure.kind === 'unreachable';
  // A backoff answer never reached NWS, and asking again before Retry-After gets the same answer.
  return outcome.response.status >= 500 && !isBackoff(outcome.response);
}

function isBackoff(response: Response): boolean {
  return response.headers.get(CACHE_STATUS_HEADER)?.trim().toLowerCase() === ('backoff' satisfies CacheStatus);
}

function summary(outcome: Attempt): Record<string, unknown> {
  return outcome.kind === 'failed' ? { ...outcome.failure } : { status: outcome.response.status };
}

/**
 * The last body checked per URL, with what it parsed to. Answers the gateway's cache serves come
 * back as the same bytes many times, and parsing and checking a forecast again costs more than the
 * rest of a tool call. Shared by every session's client, bounded by the bodies' total length (8 Mi
 * characters; the parsed data takes a few times that); the data is frozen, so no caller can change
 * what another one gets.
 */
const checked = new LRUCache<string, { body: string; schema: ZodType<unknown>; data: unknown }>({
  maxSize: 8 * 1024 * 1024,
  sizeCalculation: (entry) => Math.max(1, entry.body.length),
});

function checkBody<T>(url: string, body: string, schema: ZodType<T>): { ok: true; data: T } | { ok: false; reason: string } {
  const memo = checked.get(url);
  if (memo && memo.schema === schema && memo.body === body) return { ok: true, data: memo.data as T };
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'the body is not JSON' };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    return { ok: false, reason: `${issue?.message ?? 'unexpected shape'}${where}` };
  }
  const data = deepFreeze(parsed.data);
  checked.set(url, { body, schema, data });
  return { ok: true, data };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function interpret<T>(url: string, path: string, outcome: Attempt, schema: ZodType<T>): NwsResult<T> {
  if (outcome.kind === 'failed') return { ok: false, failure: outcome.failure };
  const { response, body } = outcome;
  const status = response.status;
  if (isBackoff(response)) return { ok: false, failure: { kind: 'backingOff', path, retryAfterSeconds: retryAfterOf(response) } };
  if (status >= 500) return { ok: false, failure: { kind: 'unavailable', path, status, ...problemOf(body) } };
  if (status >= 400) {
    const wait = upstreamRetryAfter(response);
    return {
      ok: false,
      failure: { kind: 'rejected', path, status, ...problemOf(body), ...(wait === undefined ? {} : { retryAfterSeconds: wait }) },
    };
  }
  if (status >= 300) return { ok: false, failure: { kind: 'redirected', path, status } };

  const checkedBody = checkBody(url, body, schema);
  if (!checkedBody.ok) return { ok: false, failure: { kind: 'malformed', path, reason: checkedBody.reason } };
  const stale = stalenessOf(response.headers);
  return stale ? { ok: true, data: checkedBody.data, stale } : { ok: true, data: checkedBody.data };
}

function problemOf(body: string): { problem?: Problem } {
  try {
    const parsed = problemSchema.safeParse(JSON.parse(body));
    return parsed.success ? { problem: parsed.data } : {};
  } catch {
    return {};
  }
}

// The cache always sends whole seconds; anything else still means "soon".
function retryAfterOf(response: Response): number {
  const seconds = Number.parseInt(response.headers.get('retry-after') ?? '', 10);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : 1;
}

/**
 * NWS's own `Retry-After`: delay-seconds, or an HTTP date, read against the answer's `Date` (the
 * sender's clock, so no clock of ours is needed). `undefined` when absent or unreadable.
 */
function upstreamRetryAfter(response: Response): number | undefined {
  const value = response.headers.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value);
  const at = Date.parse(value);
  const sent = Date.parse(response.headers.get('date') ?? '');
  return Number.isFinite(at) && Number.isFinite(sent) ? Math.max(0, Math.round((at - sent) / 1000)) : undefined;
}

function stalenessOf(headers: Headers): Staleness | undefined {
  if (headers.get(CACHE_STATUS_HEADER)?.trim().toLowerCase() !== 'stale') return undefined;
  const age = Number.parseInt(headers.get('age') ?? '', 10);
  return Number.isFinite(age) && age >= 0 ? { ageSeconds: age } : {};
}

function describeNetworkError(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as Error & { cause?: unknown }).cause;
    if (cause && typeof cause === 'object' && 'code' in cause && typeof cause.code === 'string') return cause.code;
    return error.message;
  }
  return String(error);
}

const DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

/**
 * The body as text if it is at most `limit` bytes, else undefined, having read no more than that:
 * a `Content-Length` over it is refused unread, and a body that grows past it (chunked, or lying
 * about its length) is cancelled, which closes the connection, at the chunk that crosses it.
 *
 * A body whose length is declared and not content-encoded, as the gateway cache's answers are,
 * cannot be longer than it says (fetch reads no more than `Content-Length`), so one within the
 * limit is read whole with `text()`: for the cache's held bytes that skips the stream altogether.
 */
async function readText(response: Response, limit: number): Promise<string | undefined> {
  const contentLength = response.headers.get('content-length')?.trim();
  const declared = contentLength !== undefined && /^\d+$/.test(contentLength) ? Number(contentLength) : Number.NaN;
  // Before `body` is touched: the cache's answers make their stream only when it is asked for.
  if (declared <= limit && !isEncoded(response.headers)) return response.text();
  if (!response.body) return '';
  if (declared > limit) {
    await response.body.cancel().catch(() => {});
    return undefined;
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    length += value.byteLength;
    if (length > limit) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    text += decoder.decode(value, { stream: true });
  }
}

function isEncoded(headers: Headers): boolean {
  const encoding = headers.get('content-encoding')?.trim().toLowerCase();
  return encoding !== undefined && encoding !== '' && encoding !== 'identity';
}

/** How long an aborted `fetch` may still settle (e.g. with a stale copy) before it counts as a timeout. */
const ABORT_GRACE_MS: Milliseconds = 100;

/** `run()`, or the signal's reason once it has aborted and `graceMs` more have passed. */
function abortable<T>(signal: AbortSignal, graceMs: Milliseconds, run: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      timer = setTimeout(() => reject(signal.reason), graceMs);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    run()
      .then(resolve, reject)
      .finally(() => {
        signal.removeEventListener('abort', onAbort);
        clearTimeout(timer);
      });
  });
}
