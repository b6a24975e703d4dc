/**
 * A fake National Weather Service API on 127.0.0.1 serving the recordings in
 * `test/fixtures/nws/` (see `test/fixtures/SOURCES.md`), for the weather server's tests and the
 * gateway's end-to-end tests.
 *
 * Routes (GET; anything else is a 404 `NotFound` problem):
 * - `/points/41.967,-71.189` → points.json (grid BOX 70,82, Norton Center MA); any other
 *   `/points/{lat},{lon}` → 404 `InvalidPoint` problem (`application/problem+json`).
 * - `/gridpoints/BOX/70,82/forecast` → forecast.json; `…/forecast/hourly` → forecast_hourly.json.
 * - `/alerts/active?area=PA` → alerts_active.json (10 alerts); `area=MA` → alerts_active_MA.json
 *   (6); any other two-letter area → an empty FeatureCollection; a malformed `area` → 400.
 *
 * The recordings link to https://api.weather.gov, so a client pointed at the fake must not follow
 * those links. Answers carry `Content-Type: application/geo+json`, `Vary` and a `Cache-Control`
 * per route like the live API's ({@link DEFAULT_CACHE_CONTROL}).
 *
 * @example
 * ```ts
 * const nws = await startFakeNws();
 * process.env.NWS_BASE_URL = nws.url;            // or options.baseUrl in gateway.yaml
 * nws.failNext(1, 503);                           // the next request gets a 503
 * nws.failAll(503);                               // an outage: every request gets a 503 …
 * nws.recover();                                  // … until now
 * // … drive the gateway …
 * assert.equal(nws.requests.at(-1)?.path, '/gridpoints/BOX/70,82/forecast');
 * await nws.close();
 * ```
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The routes whose `Cache-Control` can be set. */
export type FakeNwsRoute = 'points' | 'forecast' | 'forecastHourly' | 'alerts';

/**
 * A synthetic answer, for failures the recordings do not show: a 429 with `Retry-After`, an HTML
 * error page, a forecast without periods. `Content-Type` defaults to `application/geo+json`,
 * `Cache-Control` to `no-store`.
 */
export interface FakeNwsAnswer {
  readonly status: number;
  readonly body: string;
  readonly contentType?: string;
  /** Extra response headers, e.g. `{ 'Retry-After': '120' }`. */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * What {@link FakeNws.failNext} makes the next requests get:
 * - a number: that HTTP status with an NWS-style problem body,
 * - `'malformed'`: 200 with a truncated JSON body,
 * - `'hang'`: no answer at all (until the client gives up or the fake closes),
 * - `'reset'`: the connection is destroyed without an answer,
 * - `'endless'`: 200 with a JSON body that never ends (until the client stops reading and closes),
 * - a {@link FakeNwsAnswer}: exactly that answer.
 */
export type FakeNwsFailure = number | 'malformed' | 'hang' | 'reset' | 'endless' | FakeNwsAnswer;

/** One request as the fake received it. */
export interface FakeNwsRequest {
  readonly method: string;
  /** Path without the query, e.g. `/points/41.967,-71.189`. */
  readonly path: string;
  /** Query string with its `?`, or `''`. */
  readonly search: string;
  /** Header names are lower case (Node's `IncomingHttpHeaders`). */
  readonly headers: IncomingHttpHeaders;
}

export interface FakeNwsOptions {
  /** Delay before every answer, in ms. Default 0. */
  readonly latencyMs?: number;
  /** `Cache-Control` per route, replacing {@link DEFAULT_CACHE_CONTROL} entries. */
  readonly cacheControl?: Partial<Record<FakeNwsRoute, string>>;
  /**
   * Send validators with every 200 (a strong `ETag` from the body's hash and a fixed
   * `Last-Modified`; the recordings carry no headers, so these are made up) and answer a
   * conditional GET that matches them (`If-None-Match`, else `If-Modified-Since`) with a 304
   * carrying the route's `Cache-Control` and no body. Default false.
   */
  readonly validators?: boolean;
}

export interface FakeNws {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Every request received, oldest first. Clear it with `requests.length = 0`. */
  readonly requests: FakeNwsRequest[];
  /** Answers that ended before their body was complete because the client went away (e.g. `'endless'` ones). */
  readonly abandoned: number;
  /** Changes the delay before every later answer, in ms. */
  setLatency(ms: number): void;
  /** Changes a route's `Cache-Control` for later answers. */
  setCacheControl(route: FakeNwsRoute, value: string): void;
  /**
   * The next `count` requests fail as `failure` says; later ones are served normally. With
   * `pathPrefix`, only requests whose path starts with it count (e.g. `'/gridpoints/'` fails the
   * forecast but not the `/points` lookup before it). Calls queue up in order.
   */
  failNext(count: number, failure: FakeNwsFailure, pathPrefix?: string): void;
  /**
   * An outage: every later request (with `pathPrefix`, those whose path starts with it) fails as
   * `failure` says until {@link recover}. Replaces an earlier outage; wins over {@link failNext}.
   */
  failAll(failure: FakeNwsFailure, pathPrefix?: string): void;
  /** Ends the outage and drops the failures {@link failNext} still has queued. */
  recover(): void;
  /** Stops the server, cutting open connections (hanging requests included). */
  close(): Promise<void>;
}

/**
 * `Cache-Control` the fake sends by default, modelled on the live API: points change rarely,
 * forecasts count down to their next update with a one-hour shared max-age, alerts are short.
 */
export const DEFAULT_CACHE_CONTROL: Readonly<Record<FakeNwsRoute, string>> = Object.freeze({
  points: 'public, max-age=86400, s-maxage=86400',
  forecast: 'public, max-age=600, s-maxage=3600',
  forecastHourly: 'public, max-age=600, s-maxage=3600',
  alerts: 'public, max-age=30, s-maxage=30',
});

/** The point the recordings are for. */
export const RECORDED_POINT = '41.967,-71.189';

/**
 * The project root: the nearest directory above this file holding `package.json`. Works from
 * `test/helpers/` (tsx) and from `dist/test/helpers/` (compiled) alike.
 */
export function projectRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

/** Absolute path of a file in `test/fixtures/nws/`. */
export function nwsFixturePath(name: string): string {
  return join(projectRoot(), 'test', 'fixtures', 'nws', name);
}

/** Reads and parses one NWS fixture, e.g. `readNwsFixture('forecast.json')`. */
export function readNwsFixture(name: string): unknown {
  return JSON.parse(readFileSync(nwsFixturePath(name), 'utf8'));
}

const GEO_JSON = 'application/geo+json';
const PROBLEM_JSON = 'application/problem+json';

/** Starts the fake on an ephemeral loopback port. */
export async function startFakeNws(options: FakeNwsOptions = {}): Promise<FakeNws> {
  const fixture = (name: string) => readFileSync(nwsFixturePath(name));
  const bodies = {
    points: fixture('points.json'),
    forecast: fixture('forecast.json'),
    forecastHourly: fixture('forecast_hourly.json'),
    alerts: new Map([
      ['PA', fixture('alerts_active.json')],
      ['MA', fixture('alerts_active_MA.json')],
    ]),
    invalidPoint: readNwsFixture('problem_invalid_point.json') as Record<string, unknown>,
  };
  const cacheControl: Record<FakeNwsRoute, string> = { ...DEFAULT_CACHE_CONTROL, ...options.cacheControl };
  let latencyMs = options.latencyMs ?? 0;
  const failures: Array<{ failure: FakeNwsFailure; pathPrefix: string }> = [];
  let outage: { failure: FakeNwsFailure; pathPrefix: string } | undefined;
  const requests: FakeNwsRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let abandoned = 0;

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake-nws');
    requests.push({ method: req.method ?? '', path: url.pathname, search: url.search, headers: req.headers });
    res.on('close', () => {
      if (!res.writableFinished) abandoned++;
    });
    let failure: FakeNwsFailure | undefined;
    if (outage && url.pathname.startsWith(outage.pathPrefix)) {
      failure = outage.failure;
    } else {
      const index = failures.findIndex((entry) => url.pathname.startsWith(entry.pathPrefix));
      if (index >= 0) failure = failures.splice(index, 1)[0]?.failure;
    }
    const answer = () => {
      if (failure !== undefined) return fail(res, failure);
      if (req.method !== 'GET' && req.method !== 'HEAD') return problem(res, 405, 'MethodNotAllowed', 'Method Not Allowed', '');
      route(url, res);
    };
    if (latencyMs <= 0) return answer();
    const timer = setTimeout(() => {
      timers.delete(timer);
      answer();
    }, latencyMs);
    timers.add(timer);
  });

  function route(url: URL, res: ServerResponse): void {
    const path = url.pathname;
    const point = /^\/points\/([^/]+)$/.exec(path);
    if (point) {
      const requested = decodeURIComponent(point[1] ?? '');
      if (requested === RECORDED_POINT) return ok(res, bodies.points, cacheControl.points);
      const body = { ...bodies.invalidPoint, detail: `Unable to provide data for requested point ${requested}` };
      return send(res, 404, PROBLEM_JSON, JSON.stringify(body), 'public, max-age=3600');
    }
    if (path === '/gridpoints/BOX/70,82/forecast') return ok(res, bodies.forecast, cacheControl.forecast);
    if (path === '/gridpoints/BOX/70,82/forecast/hourly') {
      return ok(res, bodies.forecastHourly, cacheControl.forecastHourly);
    }
    if (path === '/alerts/active') {
      const area = url.searchParams.get('area') ?? '';
      if (!/^[A-Z]{2}$/.test(area)) {
        return problem(res, 400, 'BadRequest', 'Bad Request', `Parameter "area" is invalid: ${JSON.stringify(area)}`);
      }
      const body = bodies.alerts.get(area) ?? emptyAlerts(area);
      return ok(res, body, cacheControl.alerts);
    }
    problem(res, 404, 'NotFound', 'Not Found', `'${path}' is not a valid resource path`);
  }

  /** A 200 with the recorded body, or a 304 to a conditional request its validators match. */
  function ok(res: ServerResponse, body: string | Buffer, cacheControl: string): void {
    if (!options.validators) return send(res, 200, GEO_JSON, body, cacheControl);
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    const validators = { ETag: etag, 'Last-Modified': RECORDED_LAST_MODIFIED };
    const { headers } = res.req;
    const ifNoneMatch = headers['if-none-match'];
    const since = Date.parse(headers['if-modified-since'] ?? '');
    const notModified =
      ifNoneMatch !== undefined
        ? ifNoneMatch.split(',').some((tag) => tag.trim() === etag)
        : !Number.isNaN(since) && Date.parse(RECORDED_LAST_MODIFIED) <= since;
    if (!notModified) return send(res, 200, GEO_JSON, body, cacheControl, validators);
    res.writeHead(304, { 'Cache-Control': cacheControl, Vary: VARY, ...validators });
    res.end();
  }

  function fail(res: ServerResponse, failure: FakeNwsFailure): void {
    if (failure === 'hang') return;
    if (failure === 'endless') {
      res.writeHead(200, { 'Content-Type': GEO_JSON, 'Cache-Control': 'no-store' });
      res.write('{"type": "Feature", "properties": {"periods": [');
      const chunk = '{"number": 1, "name": "Tonight"},'.repeat(2048);
      const more = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', more);
      };
      return more();
    }
    if (failure === 'reset') {
      res.socket?.destroy();
      return;
    }
    if (failure === 'malformed') {
      return send(res, 200, GEO_JSON, '{"type": "Feature", "properties": {"periods": [', 'no-store');
    }
    if (typeof failure === 'object') {
      return send(res, failure.status, failure.contentType ?? GEO_JSON, failure.body, 'no-store', failure.headers);
    }
    problem(res, failure, 'UnexpectedProblem', 'Unexpected Problem', 'An unexpected problem has occurred.');
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get abandoned() {
      return abandoned;
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    setCacheControl(route, value) {
      cacheControl[route] = value;
    },
    failNext(count, failure, pathPrefix = '') {
      for (let i = 0; i < count; i++) failures.push({ failure, pathPrefix });
    },
    failAll(failure, pathPrefix = '') {
      outage = { failure, pathPrefix };
    },
    recover() {
      outage = undefined;
      failures.length = 0;
    },
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}

/** What {@link FakeNwsOptions.validators} sends as `Last-Modified`: when the recordings were made. */
export const RECORDED_LAST_MODIFIED = 'Wed, 15 Jul 2026 20:00:37 GMT';

const VARY = 'Accept,Feature-Flags,Accept-Language';

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string | Buffer,
  cacheControl: string,
  headers: Readonly<Record<string, string>> = {},
): void {
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': cacheControl,
    Vary: VARY,
    ...headers,
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function problem(res: ServerResponse, status: number, type: string, title: string, detail: string): void {
  send(res, status, PROBLEM_JSON, problemBody(status, type, title, detail), 'no-store');
}

/** An NWS problem+json body, for a {@link FakeNwsAnswer}: e.g. `problemBody(429, 'RateLimit', 'Rate Limit', '')`. */
export function problemBody(status: number, type: string, title: string, detail: string): string {
  const correlationId = Math.random().toString(16).slice(2, 10);
  return JSON.stringify({
    correlationId,
    title,
    type: `https://api.weather.gov/problems/${type}`,
    status,
    detail,
    instance: `https://api.weather.gov/requests/${correlationId}`,
  });
}

function emptyAlerts(area: string): string {
  return JSON.stringify({
    '@context': { '@version': '1.1' },
    type: 'FeatureCollection',
    features: [],
    title: `Current watches, warnings, and advisories for ${area}`,
    updated: new Date().toISOString().replace(/\.\d{3}Z$/, '+00:00'),
  });
}
