import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { Client, InMemoryTransport } from '@modelcontextprotocol/client';
import type { CallToolResult } from '@modelcontextprotocol/client';
import { pino } from 'pino';
import type { FetchLike } from '../../src/gateway/module-contract.js';
import { formatDuration } from '../../servers/weather/freshness.js';
import { createServer } from '../../servers/weather/index.js';
import { createNwsClient } from '../../servers/weather/nws-client.js';
import { createOptionsSchema, DEFAULT_USER_AGENT } from '../../servers/weather/options.js';
import { nwsFixturePath, startFakeNws, type FakeNws } from '../helpers/fake-nws.js';
import { UNIT_CONTEXT } from '../helpers/module-context.js';

interface Session {
  client: Client;
  /** Every URL the server handed to `fetch`. */
  fetched: string[];
  /** JSON log lines at warn and above. */
  logs: Array<{ level: number; msg: string; [key: string]: unknown }>;
  close(): Promise<void>;
}

async function connect(nws: FakeNws, options: Record<string, unknown> = {}, fetch: FetchLike = globalThis.fetch): Promise<Session> {
  const parsed = createOptionsSchema({}).parse({ baseUrl: nws.url, retryDelayMs: 1, timeoutMs: 2000, ...options });
  const fetched: string[] = [];
  const logs: Session['logs'] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const recordingFetch: FetchLike = (input, init) => {
    fetched.push(String(input));
    return fetch(input, init);
  };
  const server = createServer({ route: 'weather', options: parsed, fetch: recordingFetch, logger, ...UNIT_CONTEXT });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'weather-upstream-test', version: '0.0.0' });
  await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
  return { client, fetched, logs, close: async () => void (await client.close(), await server.close()) };
}

function textOf(result: CallToolResult): string {
  return result.content.map((part) => (part.type === 'text' ? part.text : '')).join('\n');
}

const NORTON = { latitude: 41.967, longitude: -71.189 };

describe('weather server upstream handling', () => {
  let nws: FakeNws;
  let session: Session;
  const forecast = async (s: Session = session) => (await s.client.callTool({ name: 'get_forecast', arguments: NORTON })) as CallToolResult;
  const paths = () => nws.requests.map((request) => request.path);

  before(async () => {
    nws = await startFakeNws();
  });
  after(async () => {
    await nws.close();
  });
  beforeEach(async () => {
    nws.requests.length = 0;
    nws.setLatency(0);
    session = await connect(nws);
  });
  afterEach(async () => {
    await session.close();
  });

  it('sends Accept: application/geo+json and the configured User-Agent', async () => {
    const custom = await connect(nws, { userAgent: 'weather-test/1.0 (ops@example.com)' });
    try {
      await forecast(custom);
      await custom.client.callTool({ name: 'get_alerts', arguments: { state: 'PA' } });
    } finally {
      await custom.close();
    }
    assert.equal(nws.requests.length, 3);
    for (const request of nws.requests) {
      assert.equal(request.method, 'GET');
      assert.equal(request.headers.accept, 'application/geo+json');
      assert.equal(request.headers['user-agent'], 'weather-test/1.0 (ops@example.com)');
    }
    await forecast();
    assert.equal(nws.requests.at(-1)?.headers['user-agent'], DEFAULT_USER_AGENT);
  });

  it('never sends a request to a host named in upstream data', async () => {
    await forecast();
    await session.client.callTool({ name: 'get_hourly_forecast', arguments: NORTON });
    assert.equal(session.fetched.length, 4);
    for (const url of session.fetched) assert.ok(url.startsWith(nws.url + '/'), url);
  });

  it('retries once after a 503 and succeeds', async () => {
    nws.failNext(1, 503);
    const result = await forecast();
    assert.equal(result.isError, undefined, textOf(result));
    assert.deepEqual(paths(), ['/points/41.967,-71.189', '/points/41.967,-71.189', '/gridpoints/BOX/70,82/forecast']);
    assert.equal(session.logs.length, 0, 'a recovered failure is not a warning');
  });

  it('retries once after a connection reset and succeeds', async () => {
    nws.failNext(1, 'reset');
    const result = await forecast();
    assert.equal(result.isError, undefined, textOf(result));
    assert.equal(nws.requests.length, 3);
  });

  it('reports NWS unavailable after a 503 twice, and logs a warning', async () => {
    nws.failNext(2, 503);
    const result = await forecast();
    assert.equal(result.isError, true);
    assert.equal(textOf(result), 'NWS is unavailable (503) and could not provide the forecast for 41.967,-71.189; try again shortly.');
    assert.deepEqual(paths(), ['/points/41.967,-71.189', '/points/41.967,-71.189']);
    assert.equal(session.logs.length, 1);
    assert.equal(session.logs[0]?.msg, 'NWS request failed');
    assert.equal(session.logs[0]?.status, 503);
    assert.equal(session.logs[0]?.path, '/points/41.967,-71.189');
  });

  it('reports a failure of the second request (the forecast) too', async () => {
    nws.failNext(2, 502, '/gridpoints/');
    const result = await forecast();
    assert.equal(result.isError, true);
    assert.match(textOf(result), /^NWS is unavailable \(502\)/);
    assert.deepEqual(paths(), ['/points/41.967,-71.189', '/gridpoints/BOX/70,82/forecast', '/gridpoints/BOX/70,82/forecast']);
  });

  const backoffAnswer = (retryAfter: string) =>
    new Response('{"title": "Service Unavailable", "status": 503}', {
      status: 503,
      headers: { 'content-type': 'application/problem+json', 'x-gateway-cache': 'backoff', 'retry-after': retryAfter },
    });

  it('says when the gateway will try NWS again while its cache backs off, without spending the retry', async () => {
    const backingOff = await connect(nws, {}, async () => backoffAnswer('8'));
    try {
      const result = await forecast(backingOff);
      assert.equal(result.isError, true);
      assert.equal(
        textOf(result),
        'NWS is unavailable (backing off after repeated failures) and could not provide the forecast for 41.967,-71.189; ' +
          'the gateway will try it again in 8 s.',
      );
      assert.equal(backingOff.fetched.length, 1);
      assert.deepEqual(
        backingOff.logs.map((log) => [log.msg, log.kind, log.retryAfterSeconds]),
        [['NWS request failed', 'backingOff', 8]],
      );
    } finally {
      await backingOff.close();
    }
  });

  it('reports the backoff when the retry after a 503 gets it', async () => {
    const answers = [new Response('{}', { status: 503 }), backoffAnswer('90')];
    const failing = await connect(nws, {}, async () => answers.shift()!);
    try {
      const result = (await failing.client.callTool({ name: 'get_alerts', arguments: { state: 'PA' } })) as CallToolResult;
      assert.equal(
        textOf(result),
        'NWS is unavailable (backing off after repeated failures) and could not provide active alerts for PA; ' +
          'the gateway will try it again in 1 min.',
      );
      assert.equal(failing.fetched.length, 2);
    } finally {
      await failing.close();
    }
  });

  it('does not retry a 4xx', async () => {
    nws.failNext(1, 429);
    const result = await forecast();
    assert.equal(result.isError, true);
    assert.match(textOf(result), /NWS is limiting how often it is asked \(429\)/);
    assert.equal(nws.requests.length, 1);
  });

  it('gives up after timeoutMs and says so', async () => {
    const quick = await connect(nws, { timeoutMs: 200 });
    try {
      nws.failNext(1, 'hang');
      const started = performance.now();
      const result = await forecast(quick);
      const elapsed = performance.now() - started;
      assert.equal(result.isError, true);
      assert.equal(textOf(result), 'NWS did not answer within 0.2 s when asked for the forecast for 41.967,-71.189; try again shortly.');
      assert.ok(elapsed >= 150 && elapsed < 1500, `took ${elapsed} ms`);
      assert.equal(nws.requests.length, 1, 'a timeout is not retried');
    } finally {
      await quick.close();
    }
  });

  it('times out on a slow answer as well as a missing one', async () => {
    const quick = await connect(nws, { timeoutMs: 200 });
    try {
      nws.setLatency(400);
      const result = (await quick.client.callTool({ name: 'get_alerts', arguments: { state: 'PA' } })) as CallToolResult;
      assert.equal(result.isError, true);
      assert.match(textOf(result), /^NWS did not answer within 0\.2 s when asked for active alerts for PA/);
    } finally {
      nws.setLatency(0);
      await quick.close();
    }
  });

  it('uses the stale copy a caching fetch answers a timeout with', async () => {
    // What the gateway cache does when the caller's signal aborts and it holds an expired copy.
    const cacheLike: FetchLike = (input, init) =>
      new Promise((resolve) => {
        const body = String(input).includes('/points/') ? 'points.json' : 'forecast.json';
        init?.signal?.addEventListener('abort', () =>
          resolve(new Response(readFileSync(nwsFixturePath(body)), { headers: { 'x-gateway-cache': 'stale', age: '600' } })),
        );
      });
    const cached = await connect(nws, { timeoutMs: 50 }, cacheLike);
    try {
      const result = await forecast(cached);
      assert.equal(result.isError, undefined, textOf(result));
      assert.equal((result.structuredContent as { stale?: { ageSeconds?: number } }).stale?.ageSeconds, 600);
      assert.match(textOf(result), /^NWS is not answering; this forecast is from a copy 10 min old/);
    } finally {
      await cached.close();
    }
  });

  it('reports a malformed body without retrying', async () => {
    nws.failNext(1, 'malformed');
    const result = await forecast();
    assert.equal(result.isError, true);
    assert.equal(textOf(result), 'NWS returned a malformed response for the forecast for 41.967,-71.189 (the body is not JSON).');
    assert.equal(nws.requests.length, 1);
  });

  it('reports JSON of the wrong shape as malformed', async () => {
    const wrongShape: FetchLike = async () =>
      new Response(JSON.stringify({ features: [{ properties: { event: 42 } }] }), {
        headers: { 'content-type': 'application/geo+json' },
      });
    const odd = await connect(nws, {}, wrongShape);
    try {
      const result = (await odd.client.callTool({ name: 'get_alerts', arguments: { state: 'PA' } })) as CallToolResult;
      assert.equal(result.isError, true);
      assert.match(textOf(result), /^NWS returned a malformed response for active alerts for PA \(.+ at features\.0\.properties\.event\)/);
    } finally {
      await odd.close();
    }
  });

  it('says when the data came from a stale cached copy, and how old it is', async () => {
    const markedStale: FetchLike = async (input, init) => {
      const response = await globalThis.fetch(input, init);
      if (!String(input).includes('/points/')) return response;
      const headers = new Headers(response.headers);
      headers.set('x-gateway-cache', 'stale');
      headers.set('age', '7500');
      return new Response(response.body, { status: response.status, headers });
    };
    const stale = await connect(nws, {}, markedStale);
    try {
      const result = await forecast(stale);
      assert.equal(result.isError, undefined, textOf(result));
      const notice = 'NWS is not answering; this forecast is from a copy 2 h 5 min old and may be out of date.';
      assert.ok(textOf(result).startsWith(notice + '\n\nForecast for Norton Center, MA'), textOf(result));
      assert.deepEqual((result.structuredContent as { stale?: unknown }).stale, { ageSeconds: 7500, notice });
    } finally {
      await stale.close();
    }
    const fresh = await forecast();
    assert.equal((fresh.structuredContent as { stale?: unknown }).stale, undefined);
    assert.doesNotMatch(textOf(fresh), /out of date/);
  });

  it('marks stale alerts too, also when the age is unknown', async () => {
    const markedStale: FetchLike = async (input, init) => {
      const response = await globalThis.fetch(input, init);
      const headers = new Headers(response.headers);
      headers.set('x-gateway-cache', 'stale');
      return new Response(response.body, { status: response.status, headers });
    };
    const stale = await connect(nws, {}, markedStale);
    try {
      const result = (await stale.client.callTool({ name: 'get_alerts', arguments: { state: 'MA' } })) as CallToolResult;
      assert.deepEqual((result.structuredContent as { stale?: unknown }).stale, {
        notice: 'NWS is not answering; this list of alerts is from an earlier copy of unknown age and may be out of date.',
      });
    } finally {
      await stale.close();
    }
  });
});

describe('weather NWS client', () => {
  const logger = pino({ level: 'silent' });
  const neverCalled: FetchLike = () => Promise.reject(new Error('not expected'));

  it('follows upstream links only on the configured base', () => {
    const nws = createNwsClient({
      fetch: neverCalled,
      baseUrl: 'https://api.weather.gov',
      userAgent: 'x',
      timeoutMs: 1,
      retryDelayMs: 0,
      logger,
    });
    assert.equal(nws.pathOnBase('https://api.weather.gov/gridpoints/BOX/70,82/forecast'), '/gridpoints/BOX/70,82/forecast');
    assert.equal(nws.pathOnBase('http://api.weather.gov/gridpoints/BOX/70,82/forecast'), undefined);
    assert.equal(nws.pathOnBase('https://api.weather.gov.evil.example/gridpoints/BOX/70,82/forecast'), undefined);
    assert.equal(nws.pathOnBase('https://user@api.weather.gov/x'), undefined);
    assert.equal(nws.pathOnBase('not a url'), undefined);

    const mirrored = createNwsClient({
      fetch: neverCalled,
      baseUrl: 'https://mirror.example/nws/',
      userAgent: 'x',
      timeoutMs: 1,
      retryDelayMs: 0,
      logger,
    });
    assert.equal(mirrored.pathOnBase('https://mirror.example/nws/gridpoints/BOX/1,2/forecast'), '/gridpoints/BOX/1,2/forecast');
    assert.equal(mirrored.pathOnBase('https://mirror.example/other/gridpoints/BOX/1,2/forecast'), undefined);
  });

  it('returns a backoff answer as a backingOff failure at once, without sleeping or retrying', async () => {
    const sleeps: number[] = [];
    let calls = 0;
    const fetch: FetchLike = async () => {
      calls++;
      return new Response('', { status: 503, headers: { 'x-gateway-cache': 'backoff', 'retry-after': '4' } });
    };
    const { alertCollectionSchema } = await import('../../servers/weather/nws-schemas.js');
    const nws = createNwsClient({
      fetch,
      baseUrl: 'https://api.weather.gov',
      userAgent: 'x',
      timeoutMs: 1000,
      retryDelayMs: 250,
      logger,
      sleep: async (ms) => void sleeps.push(ms),
    });
    const result = await nws.get('/alerts/active?area=PA', alertCollectionSchema);
    assert.deepEqual(result, { ok: false, failure: { kind: 'backingOff', path: '/alerts/active?area=PA', retryAfterSeconds: 4 } });
    assert.deepEqual([calls, sleeps], [1, []]);
  });

  it('joins paths onto a base with a path prefix', async () => {
    const urls: string[] = [];
    const fetch: FetchLike = async (input) => {
      urls.push(String(input));
      return new Response('{"features": []}');
    };
    const { alertCollectionSchema } = await import('../../servers/weather/nws-schemas.js');
    const nws = createNwsClient({
      fetch,
      baseUrl: 'https://mirror.example/nws/',
      userAgent: 'x',
      timeoutMs: 1000,
      retryDelayMs: 0,
      logger,
    });
    const result = await nws.get('/alerts/active?area=PA', alertCollectionSchema);
    assert.equal(result.ok, true);
    assert.deepEqual(urls, ['https://mirror.example/nws/alerts/active?area=PA']);
  });

  const ALERT =
    '{"properties": {"event": "Flood Watch", "areaDesc": "Bristol", "severity": "Moderate", "urgency": "Future", "certainty": "Possible", "status": "Actual"}}';

  it('checks a body once: the same bytes again reuse the frozen data, other bytes or a bad body are checked anew', async () => {
    const bodies = [`{"features": [${ALERT}]}`, `{"features": [${ALERT}]}`, '{"features": []}', '{"features": "not a list"}'];
    const fetch: FetchLike = async () => new Response(bodies.shift());
    const { alertCollectionSchema } = await import('../../servers/weather/nws-schemas.js');
    const options = { fetch, baseUrl: 'https://memo.example', userAgent: 'x', timeoutMs: 1000, retryDelayMs: 0, logger };
    // Two clients, as two sessions have: the memo is shared.
    const [a, b] = [createNwsClient(options), createNwsClient(options)];

    const first = await a.get('/alerts/active?area=MA', alertCollectionSchema);
    const again = await b.get('/alerts/active?area=MA', alertCollectionSchema);
    assert.ok(first.ok && again.ok);
    assert.equal(again.data, first.data, 'the same bytes give the same checked data');
    assert.ok(Object.isFrozen(first.data) && Object.isFrozen(first.data.features[0]));
    assert.throws(() => (first.data.features as unknown[]).push({}), TypeError);

    const changed = await a.get('/alerts/active?area=MA', alertCollectionSchema);
    assert.ok(changed.ok);
    assert.equal(changed.data.features.length, 0);

    const bad = await a.get('/alerts/active?area=MA', alertCollectionSchema);
    assert.equal(bad.ok, false);
    assert.equal(!bad.ok && bad.failure.kind, 'malformed');
  });

  it('formats ages in at most two units', () => {
    assert.equal(formatDuration(45), '45 s');
    assert.equal(formatDuration(600), '10 min');
    assert.equal(formatDuration(7500), '2 h 5 min');
    assert.equal(formatDuration(7200), '2 h');
    assert.equal(formatDuration(2 * 86400 + 3 * 3600 + 59), '2 d 3 h');
  });
});
