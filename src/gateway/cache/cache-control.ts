/**
 * The parts of HTTP caching (RFC 9111) a shared cache needs from a response's headers: may it be
 * stored, how long is it fresh, how old was it when it arrived, and which request headers select
 * it. Pure functions; the upstream cache decides what to do with the answers.
 */
import type { Milliseconds } from '../config/units.js';

/** The `Cache-Control` response directives a shared cache acts on (RFC 9111 §5.2.2). */
export interface ResponseDirectives {
  /** `no-store`: no cache may store any part of the response. */
  readonly noStore: boolean;
  /** `private` (with or without field names): meant for one user; a shared cache must not store it. */
  readonly private: boolean;
  /** `no-cache` (with or without field names): may be stored, never reused without revalidation. */
  readonly noCache: boolean;
  /** `must-revalidate` or `proxy-revalidate`: once stale, must not be served (so no stale-if-error). */
  readonly mustRevalidate: boolean;
  /** `s-maxage` in seconds: the lifetime for shared caches; wins over `max-age`. NaN if malformed. */
  readonly sMaxAge?: number;
  /** `max-age` in seconds. NaN if malformed. */
  readonly maxAge?: number;
}

// A directive name, optionally `=` and a token or a quoted string (RFC 9110 §5.6).
const DIRECTIVE = /([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?:\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*)))?/g;

/**
 * Parses a `Cache-Control` header value. Unknown directives are ignored; of repeated ones the first
 * counts (RFC 9111 §4.2.1 allows it).
 *
 * @example
 * ```ts
 * parseCacheControl('public, max-age=3600, s-maxage=600') // { sMaxAge: 600, maxAge: 3600, noStore: false, … }
 * ```
 */
export function parseCacheControl(value: string | null): ResponseDirectives {
  const seen = directiveMap(value);
  return {
    noStore: seen.has('no-store'),
    private: seen.has('private'),
    noCache: seen.has('no-cache'),
    mustRevalidate: seen.has('must-revalidate') || seen.has('proxy-revalidate'),
    ...(seen.has('s-maxage') && { sMaxAge: deltaSeconds(seen.get('s-maxage')) }),
    ...(seen.has('max-age') && { maxAge: deltaSeconds(seen.get('max-age')) }),
  };
}

/**
 * How long the upstream says the response is fresh, counted from when it was produced:
 * `s-maxage`, else `max-age`, else `Expires` − `Date`, else 0. `no-cache` and malformed values
 * give 0 (RFC 9111 §5.3: an invalid `Expires` means "already expired"). An `Expires` without a
 * `Date` also gives 0: this cache's clock is monotonic, not wall time, and origin servers are
 * required to send `Date` anyway (RFC 9110 §6.6.1).
 */
export function freshnessLifetime(directives: ResponseDirectives, headers: Headers): Milliseconds {
  if (directives.noCache) return 0;
  const seconds = directives.sMaxAge ?? directives.maxAge;
  if (seconds !== undefined) return Number.isNaN(seconds) ? 0 : seconds * 1000;
  const expires = Date.parse(headers.get('expires') ?? '');
  const date = Date.parse(headers.get('date') ?? '');
  if (Number.isNaN(expires) || Number.isNaN(date)) return 0;
  return Math.max(0, expires - date);
}

/** The upstream's `Age` (time its own caches already held the response); 0 when absent or malformed. */
export function upstreamAge(headers: Headers): Milliseconds {
  const first = headers.get('age')?.split(',')[0]?.trim();
  const seconds = deltaSeconds(first);
  return Number.isNaN(seconds) ? 0 : seconds * 1000;
}

/**
 * The request header names a response varies on (lower-case), or `'*'` when it varies on
 * something no request header can express, so it can never be reused (RFC 9111 §4.1).
 */
export function varyingHeaders(headers: Headers): string[] | '*' {
  const names = (headers.get('vary') ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '');
  return names.includes('*') ? '*' : [...new Set(names)];
}

/** Directive names (lower-case) to their values; of repeated ones the first counts (RFC 9111 §4.2.1 allows it). */
function directiveMap(value: string | null): Map<string, string | undefined> {
  const seen = new Map<string, string | undefined>();
  for (const match of (value ?? '').matchAll(DIRECTIVE)) {
    const name = match[1]!.toLowerCase();
    if (!seen.has(name)) seen.set(name, match[2] ?? match[3]);
  }
  return seen;
}

// RFC 9111 §1.2.2: delta-seconds are digits only; values past 2^31 are capped there.
function deltaSeconds(value: string | undefined): number {
  if (value === undefined || !/^\d+$/.test(value)) return Number.NaN;
  return Math.min(Number(value), 2 ** 31);
}

/** The `Cache-Control` request directives this cache acts on (RFC 9111 §5.2.1), with `Pragma` read as §5.4 says. */
export interface RequestDirectives {
  /** `no-store`: the cache must neither answer from nor store anything for this request. */
  readonly noStore: boolean;
  /**
   * `no-cache`, `max-age=0`, or `Pragma: no-cache` without a `Cache-Control` header: no stored
   * response may be used without validating it with the origin first.
   */
  readonly noCache: boolean;
  /** `max-age` in seconds: the oldest stored response the client accepts. */
  readonly maxAge?: number;
  /** `min-fresh` in seconds: how much freshness a stored response must have left. */
  readonly minFresh?: number;
}

/**
 * Reads a request's directives from its headers. A malformed `max-age` or `min-fresh` counts as
 * `no-cache` (the client asked for something this cache cannot check, so it asks the origin).
 *
 * @example
 * ```ts
 * requestDirectives(new Headers({ pragma: 'no-cache' })) // { noStore: false, noCache: true }
 * requestDirectives(new Headers({ pragma: 'no-cache', 'cache-control': 'max-age=60' })) // { …, noCache: false, maxAge: 60 }
 * ```
 */
export function requestDirectives(headers: Headers): RequestDirectives {
  const value = headers.get('cache-control');
  if (value === null) {
    // HTTP/1.0 clients say it with Pragma; Cache-Control, when present, is the one that counts.
    const pragma = (headers.get('pragma') ?? '').split(',').some((part) => part.trim().toLowerCase() === 'no-cache');
    return { noStore: false, noCache: pragma };
  }
  const seen = directiveMap(value);
  const maxAge = seen.has('max-age') ? deltaSeconds(seen.get('max-age')) : undefined;
  const minFresh = seen.has('min-fresh') ? deltaSeconds(seen.get('min-fresh')) : undefined;
  const unusable = maxAge === 0 || Number.isNaN(maxAge) || Number.isNaN(minFresh);
  return {
    noStore: seen.has('no-store'),
    noCache: seen.has('no-cache') || unusable,
    ...(maxAge !== undefined && !Number.isNaN(maxAge) && { maxAge }),
    ...(minFresh !== undefined && !Number.isNaN(minFresh) && { minFresh }),
  };
}
