/**
 * The gateway's upstream HTTP cache: the `fetch` every server module gets as `ctx.fetch`.
 *
 * A shared cache (RFC 9111) in front of upstream APIs, the National Weather Service first, which
 * asks proxies to cache and rate-limits those that don't. Fresh for what `Cache-Control` says,
 * capped per URL pattern; concurrent identical requests coalesced into one upstream request; an
 * expired copy served when the upstream fails; 404s remembered briefly; bounded by entries and
 * bytes; a host that keeps failing left alone for a while (upstream-backoff.ts). Every response
 * says what happened in `x-gateway-cache` and how old the data is in `age`.
 */
import { LRUCache } from 'lru-cache';
import {
  freshnessLifetime,
  parseCacheControl,
  requestDirectives,
  upstreamAge,
  varyingHeaders,
  type RequestDirectives,
} from './cache-control.js';
import { CACHE_STATUS_HEADER, type CacheStatus, type FetchLike } from '../module-contract.js';
import type { Bytes, Milliseconds } from '../config/units.js';
import { StoredResponse, storedHeaders } from './stored-response.js';
import { createUpstreamBackoff, refusedToSend, type Admission, type Ticket, type UpstreamStatus } from './upstream-backoff.js';
import type { Telemetry, UpstreamCall } from '../telemetry/telemetry.js';

export type { Bytes, Milliseconds, UpstreamStatus };

/** A freshness cap for the URLs whose pathname matches {@link CacheRule.path}. */
export interface CacheRule {
  /**
   * Glob on the URL pathname (percent-encoded, as in `new URL(url).pathname`), matched whole:
   * `*` matches within one segment (no `/`), `**` matches anything, including `/` and nothing.
   * Must start with `/`. The host is not considered.
   */
  readonly path: string;
  /** Longest time a response may be served as fresh, whatever the upstream says. */
  readonly maxAge: Milliseconds;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const MiB = 1024 * 1024;

/**
 * Caps for the NWS API: a point's grid mapping hardly ever changes; forecasts are regenerated
 * about hourly; alerts must not lag by more than a minute.
 */
export const DEFAULT_CACHE_RULES: readonly CacheRule[] = Object.freeze([
  Object.freeze({ path: '/points/**', maxAge: 24 * HOUR }),
  Object.freeze({ path: '/gridpoints/**', maxAge: 30 * MINUTE }),
  Object.freeze({ path: '/alerts/**', maxAge: 60 * SECOND }),
]);

export interface UpstreamCacheOptions {
  /**
   * The network: where requests the cache cannot answer go.
   * @default globalThis.fetch (looked up per request)
   */
  readonly fetch?: FetchLike;
  /**
   * The clock, in milliseconds. Only differences are used (freshness, `age`), never wall time, so
   * the default is monotonic: wall-clock steps (NTP, a resumed VM) cannot make copies fresh again
   * or stale early. Tests inject a clock and advance it instead of sleeping.
   * @default () => performance.now()
   */
  readonly now?: () => number;
  /**
   * `false` turns the cache into a pass-through: every request goes upstream and is answered with
   * `x-gateway-cache: bypass` (counted in {@link CacheStats.bypassed}); nothing is stored.
   * @default true
   */
  readonly enabled?: boolean;
  /**
   * Most responses kept; the least recently used goes first. Positive integer.
   * @default 1000
   */
  readonly maxEntries?: number;
  /**
   * Most bytes kept, counting each entry as its body plus an estimate for its URL and headers.
   * The least recently used entries go first. Positive integer.
   * @default 52_428_800 (50 MiB)
   */
  readonly maxBytes?: Bytes;
  /**
   * Largest body stored. Larger responses are still returned to every caller, just not kept; one
   * over this and over 1 MiB streams to one of the callers waiting on it, and the others ask the
   * upstream on their own (`bypass`), so no body is ever held whole past that. An entry must also
   * fit in {@link maxBytes}. Integer ≥ 0.
   * @default 5_242_880 (5 MiB)
   */
  readonly maxEntryBytes?: Bytes;
  /**
   * Freshness caps by URL pathname; the first rule whose glob matches applies, else
   * {@link defaultMaxAge}. Replaces the defaults: include {@link DEFAULT_CACHE_RULES} to extend them.
   * @default DEFAULT_CACHE_RULES
   */
  readonly rules?: readonly CacheRule[];
  /**
   * Freshness cap for URLs no rule matches. A response is fresh for the upstream's lifetime or
   * this, whichever is shorter; 0 means always ask upstream (copies still serve stale-if-error).
   * @default 300_000 (5 min)
   */
  readonly defaultMaxAge?: Milliseconds;
  /**
   * How long after a copy stops being fresh it may still be served (`x-gateway-cache: stale`) when
   * the upstream answers 5xx or 429, the request fails, or the caller's signal aborts while waiting.
   * Copies are dropped once past it. 0 disables. Not applied to `must-revalidate` responses.
   * @default 86_400_000 (24 h)
   */
  readonly staleIfError?: Milliseconds;
  /**
   * How long a 404 is served from the cache, regardless of its `Cache-Control` freshness and the
   * rules (it is still not stored with `no-store` or `private`). 0 disables.
   * @default 600_000 (10 min)
   */
  readonly notFoundTtl?: Milliseconds;
  /**
   * When to stop calling an upstream host (origin) that keeps failing: 5xx or 429 answers,
   * timeouts, failed connections (a call its caller cancelled does not count). After {@link BackoffOptions.afterFailures} of them in a
   * row, requests to the host are answered without calling it for an interval that starts at
   * {@link BackoffOptions.initial} and doubles with each failed probe up to {@link BackoffOptions.max};
   * the first request after the interval goes out as the probe, and any success resets the host.
   * Meanwhile a request gets its stale copy within {@link staleIfError} (`x-gateway-cache: stale`),
   * else a `503` with `Retry-After` and `x-gateway-cache: backoff` at once. Requests that bypass the
   * cache are held back the same way (they get the 503): the point is not to hammer the host.
   */
  readonly backoff?: BackoffOptions;
  /**
   * Told of every request and what the cache did with it (a span and the status page's numbers);
   * the trace context it gives is sent with the upstream request a call starts. Coalesced callers
   * share the first one's upstream request, and its context; cache keys never include it.
   * @default none
   */
  readonly telemetry?: Pick<Telemetry, 'upstream'>;
}

/** See {@link UpstreamCacheOptions.backoff}. */
export interface BackoffOptions {
  /**
   * Consecutive failures that start the backoff. One failure may be a blip that a retry fixes
   * (the weather module retries once); two in a row are an outage. A 429 or 503 with
   * `Retry-After` starts it at once, for what it asks if longer than the interval (up to
   * {@link max}). Positive integer.
   * @default 2
   */
  readonly afterFailures?: number;
  /**
   * The first interval; each failed probe doubles it. Positive, at most {@link max}.
   * @default 1000 (1 s)
   */
  readonly initial?: Milliseconds;
  /**
   * The longest interval, also the most a `Retry-After` can ask for.
   * @default 30_000 (30 s)
   */
  readonly max?: Milliseconds;
}

/** Counters since the cache was created, and its current size. */
export interface CacheStats {
  /** Requests answered from a fresh copy. */
  readonly hits: number;
  /** Requests that started an upstream request. */
  readonly misses: number;
  /** Requests that waited for another request's upstream request instead of starting one. */
  readonly coalesced: number;
  /**
   * Answers served from an expired copy (each caller counts), because the upstream failed or its
   * host is backing off.
   */
  readonly staleServed: number;
  /** Upstream requests that failed: 5xx, 429, network error, or abandoned by every caller. */
  readonly upstreamErrors: number;
  /**
   * Upstream requests that revalidated a stored copy: the cache's conditional request (`If-None-Match`,
   * `If-Modified-Since`) was answered 304. Each started as a miss (also counted in {@link misses}).
   */
  readonly revalidated: number;
  /**
   * Requests passed through uncached (non-GET, `Authorization`, `Cookie`, `Range`, `no-store`,
   * `enabled: false`, and those that waited on a body too large to share, see {@link UpstreamCacheOptions.maxEntryBytes}).
   */
  readonly bypassed: number;
  /**
   * Requests answered without calling the upstream because its host is backing off: with a stale
   * copy (also counted in {@link staleServed}) or a `503` (`x-gateway-cache: backoff`).
   */
  readonly backedOff: number;
  /**
   * Entries stored now, expired ones included until they are looked up or evicted (those with
   * validators until evicted: they can be revalidated).
   */
  readonly entries: number;
  /** Bytes stored now, as counted for {@link UpstreamCacheOptions.maxBytes}. */
  readonly bytes: Bytes;
}

export interface UpstreamCache {
  /** The cached `fetch`, to hand to server modules as `ctx.fetch`. */
  readonly fetch: FetchLike;
  /** A snapshot of the counters and size. */
  stats(): CacheStats;
  /** Each upstream host asked recently and whether it is backed off, by origin. */
  upstreams(): UpstreamStatus[];
  /** Drops every stored copy (counters are kept; requests in flight still complete). */
  clear(): void;
}

/**
 * Builds the upstream cache. Options are validated here: a bad one throws a `TypeError` or
 * `RangeError` naming it.
 *
 * Only `GET` requests without `Authorization`, `Cookie`, `Range` or `no-store` (`Cache-Control` header or
 * `init.cache`) are cached, keyed by URL, `Accept` and `init.redirect`; a response's `Vary` on other
 * request headers is honoured by not reusing it for different values. `no-store` and `private`
 * responses are never stored, `no-cache` ones always go upstream. Stored: 2xx (except 206) fresh for
 * min(upstream lifetime, rule cap) minus the upstream `Age`, 404 for `notFoundTtl`; never 5xx.
 * A request's `no-cache`, `max-age=0`, `Pragma: no-cache` (without `Cache-Control`) or
 * `init.cache` `no-cache` / `reload` goes upstream; `max-age` and `min-fresh` limit the copy it takes.
 *
 * A stale copy with an `ETag` or `Last-Modified` is revalidated (`If-None-Match`,
 * `If-Modified-Since`): a 304 refreshes its headers and freshness and serves its body
 * (`x-gateway-cache: revalidated`); any other answer replaces it.
 *
 * A caller's `signal` ends only that caller's wait: the shared upstream request goes on for the
 * other callers and is aborted when the last one has gone. A caller that gives up gets the stale
 * copy if there is one within `staleIfError`, else the signal's reason, as `fetch` would.
 *
 * A host that keeps failing is backed off (see {@link UpstreamCacheOptions.backoff}): its requests,
 * cached or not, are answered at once with the stale copy or a `503` carrying `Retry-After` and
 * `x-gateway-cache: backoff`, until a probe succeeds.
 *
 * @example
 * ```ts
 * const cache = createUpstreamCache({
 *   rules: [{ path: '/alerts/**', maxAge: 30_000 }, ...DEFAULT_CACHE_RULES],
 *   maxBytes: 20 * 1024 * 1024,
 * });
 * const response = await cache.fetch('https://api.weather.gov/points/39.7456,-97.0892', {
 *   headers: { Accept: 'application/geo+json', 'User-Agent': 'my-gateway (ops@example.com)' },
 *   signal: AbortSignal.timeout(10_000),
 * });
 * response.headers.get('x-gateway-cache'); // 'miss', then 'hit' for a day
 * response.headers.get('age'); // '0': seconds since NWS produced the data
 * cache.stats(); // { hits: 0, misses: 1, coalesced: 0, … entries: 1, bytes: 3810 }
 * ```
 */
export function createUpstreamCache(options: UpstreamCacheOptions = {}): UpstreamCache {
  const settings = resolveOptions(options);
  const { now } = settings;
  const counters = { hits: 0, misses: 0, coalesced: 0, staleServed: 0, upstreamErrors: 0, bypassed: 0, backedOff: 0, revalidated: 0 };
  const backoff = createUpstreamBackoff({ ...settings.backoff, now });
  const store = new LRUCache<string, Entry>({
    max: settings.maxEntries,
    maxSize: settings.maxBytes,
    sizeCalculation: (entry) => entry.size,
    perf: { now },
    // lru-cache otherwise reuses a clock reading for 1 ms behind a timer; 0 reads `now` every time.
    ttlResolution: 0,
  });
  const flights = new Map<string, Flight>();

  const ageOf = (snapshot: Snapshot): Milliseconds => snapshot.initialAge + Math.max(0, now() - snapshot.receivedAt);

  /**
   * The stored copy this request selects (its `Vary` matches), fresh or not: one that can still be
   * served stale, or one with validators, which can be revalidated however old it is.
   */
  function lookup(key: string, request: Headers): Entry | undefined {
    const entry = store.get(key);
    if (entry === undefined) return undefined;
    const matches = entry.vary.every(([name, value]) => request.get(name) === value);
    return matches && (entry.validators !== undefined || ageOf(entry) < entry.freshFor + entry.staleFor) ? entry : undefined;
  }

  /** Whether `entry` may answer this request without asking the origin (RFC 9111 §4.2, §5.2.1). */
  function servesFresh(entry: Entry, demand: Demand): boolean {
    const age = ageOf(entry);
    if (demand.noCache || demand.reload || age >= entry.freshFor) return false;
    if (demand.maxAge !== undefined && age > demand.maxAge * 1000) return false;
    return demand.minFresh === undefined || entry.freshFor - age >= demand.minFresh * 1000;
  }

  /**
   * An expired copy to serve because the upstream failed, within `staleIfError`. Never to a request
   * that demanded validation or a younger copy: that client said an unchecked copy will not do.
   */
  function staleCopy(key: string, request: Headers, demand: Demand): Entry | undefined {
    if (demand.noCache || demand.reload || demand.minFresh !== undefined) return undefined;
    const entry = lookup(key, request);
    if (entry === undefined) return undefined;
    const age = ageOf(entry);
    if (demand.maxAge !== undefined && age > demand.maxAge * 1000) return undefined;
    return age >= entry.freshFor && age < entry.freshFor + entry.staleFor ? entry : undefined;
  }

  /** Stores `snapshot` (an answer with these `headers`) under `key`, or drops the older copy if it may not be kept. */
  function keep(key: string, url: URL, request: Headers, headers: Headers, snapshot: Snapshot): void {
    // A 304, 429 or 403 says nothing about the stored copy: it stays, for stale-if-error.
    if (!isStorableStatus(snapshot.status)) return;
    const entry = toEntry(key, url, request, headers, snapshot);
    // Past this the copy is useless even as a stale one, so lru-cache drops it on the next look;
    // one with validators can still be revalidated, so it stays until the bounds evict it.
    const ttl = entry ? entry.freshFor + entry.staleFor - ageOf(entry) : 0;
    if (entry && (ttl > 0 || entry.validators) && entry.size <= settings.maxBytes) {
      store.set(key, entry, entry.validators ? { ttl: 0 } : { ttl: Math.ceil(ttl) });
    } else {
      // The current representation replaces an older copy even when it cannot be kept itself.
      store.delete(key);
    }
  }

  function toEntry(key: string, url: URL, request: Headers, headers: Headers, snapshot: Snapshot): Entry | undefined {
    const directives = parseCacheControl(headers.get('cache-control'));
    const vary = varyingHeaders(headers);
    const { status, body } = snapshot;
    if (directives.noStore || directives.private || vary === '*') return undefined;
    if (body.byteLength > settings.maxEntryBytes) return undefined;
    const freshFor = status === 404 ? settings.notFoundTtl : Math.min(freshnessLifetime(directives, headers), capFor(url));
    const headerBytes = snapshot.headers.reduce((sum, [name, value]) => sum + name.length + value.length + 4, 0);
    const etag = headers.get('etag') ?? undefined;
    const lastModified = headers.get('last-modified') ?? undefined;
    return {
      ...snapshot,
      freshFor,
      staleFor: directives.mustRevalidate ? 0 : settings.staleIfError,
      vary: vary.map((name) => [name, request.get(name)] as const),
      size: body.byteLength + headerBytes + key.length + ENTRY_OVERHEAD,
      ...((etag !== undefined || lastModified !== undefined) && { validators: { etag, lastModified } }),
    };
  }

  /**
   * A 304 to the cache's conditional request: the stored copy is still current. Its headers are
   * updated from the 304's (RFC 9111 §4.3.4, §3.2: all but those never stored), its age starts
   * again from the 304's, and it is stored again with the freshness that the result gives.
   */
  function refresh(key: string, url: URL, request: Headers, stored: Entry, response: Response): Snapshot {
    const headers = new Headers(stored.headers as Array<[string, string]>);
    for (const [name, value] of headerList(response.headers)) if (!UNSTORED_HEADERS.has(name)) headers.set(name, value);
    const snapshot: Snapshot = {
      status: stored.status,
      statusText: stored.statusText,
      headers: headerList(headers),
      body: stored.body,
      receivedAt: now(),
      initialAge: upstreamAge(response.headers),
    };
    keep(key, url, request, headers, snapshot);
    return snapshot;
  }

  function capFor(url: URL): Milliseconds {
    return settings.rules.find((rule) => rule.pattern.test(url.pathname))?.maxAge ?? settings.defaultMaxAge;
  }

  /** The one upstream request behind a flight. Resolves to an outcome for every waiter, never rejects. */
  async function load(
    key: string,
    url: URL,
    init: RequestInit | undefined,
    request: Headers,
    demand: Demand,
    /** The stored copy to revalidate: the request goes out conditional on its validators. */
    validating: Entry | undefined,
    signal: AbortSignal,
    /** From the host's backoff; none for a URL that has no host (not http or https). */
    ticket: Ticket | undefined,
    call: UpstreamCall | undefined,
  ): Promise<Outcome> {
    const failure = (otherwise: Outcome): Outcome => {
      counters.upstreamErrors++;
      const stale = staleCopy(key, request, demand);
      return stale ? { kind: 'stale', entry: stale } : otherwise;
    };
    let response: Response;
    let body: BoundedBody;
    try {
      response = await settings.fetch(url, { ...withValidators(withTraceContext(init, call), validating?.validators), signal });
      body = await readBounded(response, Math.max(settings.maxEntryBytes, MIN_SHARED_BODY));
    } catch (error) {
      if (ticket) backoff.settle(ticket, { error });
      // Never sent: the module hears its own mistake, not an upstream error hidden by a stale copy.
      if (refusedToSend(error)) return { kind: 'failed', error };
      return failure({ kind: 'failed', error });
    }
    if (ticket) backoff.settle(ticket, { response });
    if (body.kind === 'streaming') return large(key, request, demand, response, body.stream);
    if (validating && response.status === 304) {
      counters.revalidated++;
      return { kind: 'revalidated', snapshot: refresh(key, url, request, validating, response) };
    }
    const snapshot = toSnapshot(response, body.bytes, now());
    if (isFailure(response.status)) return failure({ kind: 'fetched', snapshot });
    keep(key, url, request, response.headers, snapshot);
    return { kind: 'fetched', snapshot };
  }

  /**
   * A body too large to hold whole: it is not stored (and replaces any older copy), and it goes
   * to one waiter as a stream; the others ask the upstream on their own, streaming too, so memory
   * stays bounded by one buffer per flight however large or endless the body is.
   */
  function large(key: string, request: Headers, demand: Demand, response: Response, stream: ReadableStream<Uint8Array>): Outcome {
    if (isFailure(response.status)) {
      counters.upstreamErrors++;
      const stale = staleCopy(key, request, demand);
      if (stale) {
        void stream.cancel().catch(() => {});
        return { kind: 'stale', entry: stale };
      }
    } else if (isStorableStatus(response.status)) {
      store.delete(key);
    }
    let claimed = false;
    // Waiters take their outcome in the microtasks after it settles; a stream none took (its
    // waiter gave up at that moment) would hold the connection open.
    setImmediate(() => {
      if (!claimed) void stream.cancel().catch(() => {});
    });
    const head = toSnapshot(response, new Uint8Array(0), now());
    return {
      kind: 'streaming',
      head,
      claim: () => {
        if (claimed) return undefined;
        claimed = true;
        return stream;
      },
    };
  }

  /*
   * Coalescing is a map of flights rather than lru-cache's fetch(): that stores whatever its loader
   * resolves, so it could not hand a 5xx, `no-store` or oversized answer to the callers waiting on
   * it without storing it; and it ties the shared load to the first caller's signal (that caller
   * aborting fails everyone; with ignoreFetchAbort nobody can stop waiting).
   *
   * Instead the upstream request gets its own AbortController and counts its waiters. A caller's
   * signal ends only its own wait; when the last waiter has gone, the upstream request is aborted
   * and forgotten, so it cannot hang on with nobody to answer, and the next caller starts afresh.
   * Waiters without a signal never leave, so they wait as long as plain `fetch` would: a timeout
   * is the caller's to set (the weather module passes AbortSignal.timeout), not the cache's.
   */
  function join(flightKey: string, flight: Flight, call: UpstreamCall | undefined): Flight {
    call?.joined();
    counters.coalesced++;
    flight.waiters++;
    return flight;
  }

  function start(flightKey: string, outcome: (signal: AbortSignal) => Promise<Outcome>): Flight {
    counters.misses++;
    const controller = new AbortController();
    const flight: Flight = { controller, waiters: 1, settled: false, outcome: outcome(controller.signal) };
    flights.set(flightKey, flight);
    void flight.outcome.then(() => {
      flight.settled = true;
      if (flights.get(flightKey) === flight) flights.delete(flightKey);
    });
    return flight;
  }

  function wait(flightKey: string, flight: Flight, signal?: AbortSignal | null): Promise<Outcome | Abandoned> {
    if (!signal) return flight.outcome;
    return new Promise((resolve) => {
      const onAbort = (): void => {
        flight.waiters--;
        if (flight.waiters === 0 && !flight.settled) {
          flight.controller.abort(signal.reason);
          if (flights.get(flightKey) === flight) flights.delete(flightKey);
        }
        resolve({ kind: 'abandoned', reason: signal.reason });
      };
      signal.addEventListener('abort', onAbort, { once: true });
      void flight.outcome.then((outcome) => {
        signal.removeEventListener('abort', onAbort);
        resolve(outcome);
      });
    });
  }

  /** The upstream's own answer, for a request the cache does not store; its host's backoff still holds. */
  async function bypass(input: string | URL, init: RequestInit | undefined, call: UpstreamCall | undefined): Promise<Response> {
    const origin = originOf(input);
    if (origin === undefined) {
      // Not an http(s) URL, or not a URL at all (which fetch rejects, as it always has): no host.
      counters.bypassed++;
      return passThrough(await settings.fetch(input, init));
    }
    init = withTraceContext(init, call);
    // An already aborted call never reaches the host, so it must not count against it.
    init?.signal?.throwIfAborted();
    const admission = backoff.admit(origin);
    if (admission.kind === 'refused') {
      counters.backedOff++;
      return backoffResponse(origin, admission);
    }
    counters.bypassed++;
    let response: Response;
    try {
      response = await settings.fetch(input, init);
    } catch (error) {
      backoff.settle(admission.ticket, { error });
      throw error;
    }
    backoff.settle(admission.ticket, { response });
    return passThrough(response);
  }

  async function observedFetch(input: string | URL, init?: RequestInit): Promise<Response> {
    if (!settings.telemetry) return cachedFetch(input, init, undefined);
    const call = settings.telemetry.upstream(init?.method ?? 'GET', input);
    try {
      const response = await cachedFetch(input, init, call);
      call.end(response);
      return response;
    } catch (error) {
      call.fail(error);
      throw error;
    }
  }

  async function cachedFetch(input: string | URL, init: RequestInit | undefined, call: UpstreamCall | undefined): Promise<Response> {
    const method = (init?.method ?? 'GET').toUpperCase();
    const request = new Headers(init?.headers);
    const demand = demandOf(request, init?.cache);
    // A request that names its caller (Authorization, a Cookie) may get an answer meant for that
    // caller alone, and upstreams rarely say so with Vary or private: it is never shared.
    const personal = request.has('authorization') || request.has('cookie');
    if (!settings.enabled || method !== 'GET' || demand.noStore || personal || request.has('range')) {
      return bypass(input, init, call);
    }
    init?.signal?.throwIfAborted();
    const url = new URL(input);
    url.hash = '';
    // The redirect mode changes what the same URL answers: the redirect itself (`manual`), an error
    // (`error`), or the target's answer (`follow`), so each mode has its own copies.
    const key = `${init?.redirect ?? 'follow'}\n${request.get('accept') ?? ''}\n${url.href}`;

    const entry = lookup(key, request);
    if (entry && servesFresh(entry, demand)) {
      counters.hits++;
      return rebuild(entry, 'hit', ageOf(entry));
    }
    // A caller that sent validators of its own wants the origin's answer to them, 304 included.
    const ownConditional = CONDITIONAL_HEADERS.some((name) => request.has(name));
    const validating = entry?.validators && !demand.reload && !ownConditional ? entry : undefined;

    // Only requests with the very same headers (and fetch `cache` mode) share an upstream request:
    // whatever the response turns out to vary on, every waiter asked for the same thing.
    const flightKey = `${key}\n${init?.cache ?? ''}\n${JSON.stringify(headerList(request))}`;
    const inFlight = flights.get(flightKey);
    let flight: Flight;
    if (inFlight) {
      // Joining a request already under way (the probe, perhaps) costs the host nothing.
      flight = join(flightKey, inFlight, call);
    } else {
      const origin = originOf(url);
      const admission: Admission | undefined = origin === undefined ? undefined : backoff.admit(origin);
      if (admission?.kind === 'refused') {
        counters.backedOff++;
        const stale = staleCopy(key, request, demand);
        if (!stale) return backoffResponse(origin!, admission);
        counters.staleServed++;
        return rebuild(stale, 'stale', ageOf(stale));
      }
      flight = start(flightKey, (signal) => load(key, url, init, request, demand, validating, signal, admission?.ticket, call));
    }
    const outcome = await wait(flightKey, flight, init?.signal);
    switch (outcome.kind) {
      case 'fetched':
        return rebuild(outcome.snapshot, 'miss', ageOf(outcome.snapshot));
      case 'revalidated':
        return rebuild(outcome.snapshot, 'revalidated', ageOf(outcome.snapshot));
      case 'stale':
        counters.staleServed++;
        return rebuild(outcome.entry, 'stale', ageOf(outcome.entry));
      case 'failed':
        throw outcome.error;
      case 'streaming': {
        const body = outcome.claim();
        if (!body) return bypass(input, init, call);
        // The flight has settled, so only this caller's signal can end the body it now owns.
        const stop = () => flight.controller.abort(init?.signal?.reason);
        init?.signal?.addEventListener('abort', stop, { once: true });
        const release = () => init?.signal?.removeEventListener('abort', stop);
        return streamed(outcome.head, body, ageOf(outcome.head), release);
      }
      case 'abandoned': {
        const stale = staleCopy(key, request, demand);
        if (!stale) throw outcome.reason;
        counters.staleServed++;
        return rebuild(stale, 'stale', ageOf(stale));
      }
    }
  }

  return {
    fetch: observedFetch,
    stats: () => ({ ...counters, entries: store.size, bytes: store.calculatedSize }),
    upstreams: () => backoff.hosts(),
    clear: () => store.clear(),
  };
}

/** `init` with the call's trace context headers added, for the request that leaves; the caller's headers are not changed. */
function withTraceContext(init: RequestInit | undefined, call: UpstreamCall | undefined): RequestInit | undefined {
  if (!call?.traceHeaders) return init;
  const headers = new Headers(init?.headers);
  for (const [name, value] of Object.entries(call.traceHeaders)) headers.set(name, value);
  return { ...init, headers };
}

/**
 * An answer that says the upstream cannot serve now: a 5xx, or a 429 (too many requests). Either
 * counts against its host in the backoff, and a stale copy, when there is one, is served instead.
 */
function isFailure(status: number): boolean {
  return status >= 500 || status === 429;
}

/** `init` with `If-None-Match` / `If-Modified-Since` from a stored copy's validators (RFC 9111 §4.3.1). */
function withValidators(init: RequestInit | undefined, validators: Validators | undefined): RequestInit | undefined {
  if (!validators) return init;
  const headers = new Headers(init?.headers);
  if (validators.etag !== undefined) headers.set('if-none-match', validators.etag);
  if (validators.lastModified !== undefined) headers.set('if-modified-since', validators.lastModified);
  return { ...init, headers };
}

/** What a request asks of the cache: its `Cache-Control` (or `Pragma`) and fetch's `cache` mode. */
interface Demand extends RequestDirectives {
  /** fetch's `cache: 'reload'`: ask the origin unconditionally, then store the answer. */
  readonly reload: boolean;
}

/**
 * `init.cache` as the Fetch standard means it for an HTTP cache: `no-store` and `no-cache` as the
 * directives, `reload` as above. `force-cache` and `only-if-cached` are treated as `default`.
 */
function demandOf(request: Headers, cache: RequestCache | undefined): Demand {
  const directives = requestDirectives(request);
  return {
    ...directives,
    noStore: directives.noStore || cache === 'no-store',
    noCache: directives.noCache || cache === 'no-cache',
    reload: cache === 'reload',
  };
}

// Headers that make a request conditional (RFC 9110 §13.1).
const CONDITIONAL_HEADERS = ['if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since', 'if-range'];

/** An upstream answer as bytes, so every caller can get its own Response (bodies are single-use). */
interface Snapshot {
  readonly status: number;
  readonly statusText: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Uint8Array<ArrayBuffer>;
  /** The clock (`now`) when it arrived. */
  readonly receivedAt: number;
  /** Its upstream `Age` when it arrived. */
  readonly initialAge: Milliseconds;
}

interface Entry extends Snapshot {
  /** Fresh while its age is below this. */
  readonly freshFor: Milliseconds;
  /** After that, usable for stale-if-error for this long more. */
  readonly staleFor: Milliseconds;
  /** The request header values it was selected by (its `Vary`), to match later requests against. */
  readonly vary: ReadonlyArray<readonly [string, string | null]>;
  readonly size: Bytes;
  /** Its `ETag` and `Last-Modified`, when it has either: it can be revalidated once stale. */
  readonly validators?: Validators;
}

interface Validators {
  readonly etag: string | undefined;
  readonly lastModified: string | undefined;
}

type Outcome =
  | { readonly kind: 'fetched'; readonly snapshot: Snapshot }
  /** A 304 to the cache's conditional request: the stored copy, its headers updated. */
  | { readonly kind: 'revalidated'; readonly snapshot: Snapshot }
  /** Too large to share as bytes: the first waiter to claim it gets the stream, the others none. */
  | { readonly kind: 'streaming'; readonly head: Snapshot; readonly claim: () => ReadableStream<Uint8Array> | undefined }
  | { readonly kind: 'stale'; readonly entry: Entry }
  | { readonly kind: 'failed'; readonly error: unknown };

/** This caller's signal aborted before the flight's outcome arrived. */
interface Abandoned {
  readonly kind: 'abandoned';
  readonly reason: unknown;
}

interface Flight {
  readonly outcome: Promise<Outcome>;
  readonly controller: AbortController;
  waiters: number;
  settled: boolean;
}

// 206 would need the Range in the key; 404s are kept for notFoundTtl; 5xx never.
function isStorableStatus(status: number): boolean {
  return (status >= 200 && status < 300 && status !== 206) || status === 404;
}

// A rough allowance for the entry object, its key in the LRU's maps and the header array.
const ENTRY_OVERHEAD: Bytes = 256;

// The stored body is the decoded bytes, so the framing headers no longer describe it; a cookie set
// for one client must not be replayed to every other.
const UNSTORED_HEADERS = new Set([
  'age',
  'connection',
  'content-encoding',
  'content-length',
  'keep-alive',
  'set-cookie',
  'transfer-encoding',
]);

/**
 * The most of a body a flight holds to hand every waiter its own copy (maxEntryBytes if larger);
 * past it the body streams to one caller.
 */
const MIN_SHARED_BODY: Bytes = 1024 * 1024;

type BoundedBody =
  | { readonly kind: 'whole'; readonly bytes: Uint8Array<ArrayBuffer> }
  /** The bytes read so far, then the rest as it arrives. */
  | { readonly kind: 'streaming'; readonly stream: ReadableStream<Uint8Array> };

/** Reads a body whole if it is at most `limit` bytes; else stops there and hands back a stream of all of it. */
async function readBounded(response: Response, limit: Bytes): Promise<BoundedBody> {
  if (!response.body) return { kind: 'whole', bytes: new Uint8Array(0) };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    length += value.byteLength;
    if (length > limit) {
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (const chunk of chunks.splice(0)) controller.enqueue(chunk);
        },
        async pull(controller) {
          const next = await reader.read();
          if (next.done) controller.close();
          else controller.enqueue(next.value);
        },
        cancel: (reason) => reader.cancel(reason),
      });
      return { kind: 'streaming', stream };
    }
  }
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { kind: 'whole', bytes };
}

function toSnapshot(response: Response, body: Uint8Array<ArrayBuffer>, receivedAt: number): Snapshot {
  const headers = headerList(response.headers).filter(([name]) => !UNSTORED_HEADERS.has(name));
  const { status, statusText } = response;
  return { status, statusText, headers, body, receivedAt, initialAge: upstreamAge(response.headers) };
}

/** Name–value pairs, names lower-case and sorted (the `lib` here has no DOM.Iterable). */
function headerList(headers: Headers): Array<[string, string]> {
  const list: Array<[string, string]> = [];
  headers.forEach((value, name) => list.push([name, value]));
  return list;
}

/** A held answer as a Response of its own (stored-response.ts: it reads the held bytes, each reader a copy). */
function rebuild(snapshot: Snapshot, status: CacheStatus, age: Milliseconds): Response {
  const body = NULL_BODY_STATUSES.has(snapshot.status) ? null : snapshot.body;
  const headers = storedHeaders(snapshot.headers, { [CACHE_STATUS_HEADER]: status, age: String(Math.floor(age / 1000)) }, body);
  return new StoredResponse(body, { status: snapshot.status, statusText: snapshot.statusText, headers });
}

const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

/** A miss whose body streams from the upstream to this one caller; `release` runs once it ends. */
function streamed(head: Snapshot, body: ReadableStream<Uint8Array>, age: Milliseconds, release: () => void): Response {
  const headers = new Headers(head.headers as Array<[string, string]>);
  headers.set(CACHE_STATUS_HEADER, 'miss' satisfies CacheStatus);
  headers.set('age', String(Math.floor(age / 1000)));
  // The pipe settles when the body ends, fails or the reader cancels it (which cancels upstream).
  const relay = new TransformStream<Uint8Array, Uint8Array>();
  void body.pipeTo(relay.writable).then(release, release);
  return new Response(relay.readable, { status: head.status, statusText: head.statusText, headers });
}

/** The upstream's own response, streaming, with the cache headers added (fetch's are immutable). */
function passThrough(response: Response): Response {
  const headers = new Headers(response.headers);
  headers.set(CACHE_STATUS_HEADER, 'bypass' satisfies CacheStatus);
  headers.set('age', String(Math.floor(upstreamAge(response.headers) / 1000)));
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

/**
 * What a request gets when its host is backing off and there is no copy to serve: a 503 any
 * module understands, with `Retry-After` saying when the host will be tried again. A synthesized
 * answer rather than a thrown error, so a module needs no special knowledge to handle it; the
 * body is an RFC 9457 problem naming only the origin.
 */
function backoffResponse(origin: string, refused: Extract<Admission, { kind: 'refused' }>): Response {
  const { retryAfterSeconds, consecutiveFailures, lastError, probing } = refused;
  const last = lastError ? ` (last: ${lastError})` : '';
  const when = probing
    ? `backing off: one request is trying it now; retry in ${retryAfterSeconds} s.`
    : `backing off and will try it again in ${retryAfterSeconds} s.`;
  const body = JSON.stringify({
    type: 'about:blank',
    title: 'Service Unavailable',
    status: 503,
    detail: `${origin} failed ${consecutiveFailures} times in a row${last}; the gateway is ${when}`,
  });
  return new Response(body, {
    status: 503,
    statusText: 'Service Unavailable',
    headers: {
      'content-type': 'application/problem+json',
      'cache-control': 'no-store',
      'retry-after': String(retryAfterSeconds),
      [CACHE_STATUS_HEADER]: 'backoff' satisfies CacheStatus,
      age: '0',
    },
  });
}

/** The origin a request goes to, or undefined when `input` is not an http(s) URL. */
function originOf(input: string | URL): string | undefined {
  try {
    const url = new URL(input);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : undefined;
  } catch {
    return undefined;
  }
}

interface Settings {
  readonly fetch: FetchLike;
  readonly now: () => number;
  readonly enabled: boolean;
  readonly maxEntries: number;
  readonly maxBytes: Bytes;
  readonly maxEntryBytes: Bytes;
  readonly rules: ReadonlyArray<{ readonly pattern: RegExp; readonly maxAge: Milliseconds }>;
  readonly defaultMaxAge: Milliseconds;
  readonly staleIfError: Milliseconds;
  readonly notFoundTtl: Milliseconds;
  readonly backoff: Required<BackoffOptions>;
  readonly telemetry: Pick<Telemetry, 'upstream'> | undefined;
}

function resolveOptions(options: UpstreamCacheOptions): Settings {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`createUpstreamCache: options must be an object, got ${describe(options)}`);
  }
  const rules = options.rules ?? DEFAULT_CACHE_RULES;
  if (!Array.isArray(rules)) throw invalidType('rules', 'an array of { path, maxAge }', rules);
  return {
    fetch: fn(options.fetch, 'fetch') ?? ((input, init) => globalThis.fetch(input, init)),
    now: fn(options.now, 'now') ?? (() => performance.now()),
    enabled: bool(options.enabled, 'enabled') ?? true,
    maxEntries: count(options.maxEntries, 'maxEntries', 1, 'a positive integer') ?? 1000,
    maxBytes: count(options.maxBytes, 'maxBytes', 1, 'a positive integer (bytes)') ?? 50 * MiB,
    maxEntryBytes: count(options.maxEntryBytes, 'maxEntryBytes', 0, 'an integer ≥ 0 (bytes)') ?? 5 * MiB,
    rules: rules.map((rule: unknown, index) => compileRule(rule, `rules[${index}]`)),
    defaultMaxAge: duration(options.defaultMaxAge, 'defaultMaxAge') ?? 5 * MINUTE,
    staleIfError: duration(options.staleIfError, 'staleIfError') ?? 24 * HOUR,
    notFoundTtl: duration(options.notFoundTtl, 'notFoundTtl') ?? 10 * MINUTE,
    backoff: resolveBackoff(options.backoff ?? {}),
    telemetry: options.telemetry,
  };
}

function resolveBackoff(backoff: BackoffOptions): Settings['backoff'] {
  if (typeof backoff !== 'object' || backoff === null) throw invalidType('backoff', 'an object { afterFailures, initial, max }', backoff);
  const afterFailures = count(backoff.afterFailures, 'backoff.afterFailures', 1, 'a positive integer') ?? 2;
  const initial = duration(backoff.initial, 'backoff.initial') ?? SECOND;
  const max = duration(backoff.max, 'backoff.max') ?? 30 * SECOND;
  if (initial === 0) throw invalidRange('backoff.initial', 'more than 0 ms', initial);
  if (max < initial) throw invalidRange('backoff.max', `at least backoff.initial (${initial} ms)`, max);
  return { afterFailures, initial, max };
}

function compileRule(rule: unknown, name: string): { pattern: RegExp; maxAge: Milliseconds } {
  if (typeof rule !== 'object' || rule === null) throw invalidType(name, 'an object { path, maxAge }', rule);
  const { path, maxAge } = rule as Partial<CacheRule>;
  if (typeof path !== 'string') throw invalidType(`${name}.path`, 'a glob string', path);
  if (!path.startsWith('/') || /\*{3}|[?#\s]/.test(path)) {
    throw new RangeError(
      `createUpstreamCache: option "${name}.path" must be a pathname glob starting with "/" using only * and ** ` +
        `(no ***, ?, # or spaces), got ${describe(path)}`,
    );
  }
  return { pattern: globToRegExp(path), maxAge: duration(maxAge, `${name}.maxAge`) ?? required(`${name}.maxAge`) };
}

function globToRegExp(glob: string): RegExp {
  const source = glob
    .split(/(\*\*|\*)/)
    .map((part) => (part === '**' ? '.*' : part === '*' ? '[^/]*' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`);
}

function fn<T>(value: T | undefined, name: string): T | undefined {
  if (value !== undefined && typeof value !== 'function') throw invalidType(name, 'a function', value);
  return value;
}

function bool(value: boolean | undefined, name: string): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') throw invalidType(name, 'a boolean', value);
  return value;
}

function count(value: number | undefined, name: string, min: number, expected: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number') throw invalidType(name, expected, value);
  if (!Number.isSafeInteger(value) || value < min) throw invalidRange(name, expected, value);
  return value;
}

function duration(value: number | undefined, name: string): Milliseconds | undefined {
  const expected = 'a finite number of milliseconds ≥ 0';
  if (value === undefined) return undefined;
  if (typeof value !== 'number') throw invalidType(name, expected, value);
  if (!Number.isFinite(value) || value < 0) throw invalidRange(name, expected, value);
  return value;
}

function required(name: string): never {
  throw new TypeError(`createUpstreamCache: option "${name}" is required`);
}

function invalidType(name: string, expected: string, got: unknown): TypeError {
  return new TypeError(`createUpstreamCache: option "${name}" must be ${expected}, got ${describe(got)}`);
}

function invalidRange(name: string, expected: string, got: unknown): RangeError {
  return new RangeError(`createUpstreamCache: option "${name}" must be ${expected}, got ${describe(got)}`);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  return value === null || typeof value !== 'object' ? String(value) : 'an object';
}
