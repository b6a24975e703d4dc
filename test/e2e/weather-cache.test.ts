/**
 * The weather server through the gateway's upstream cache, against the fake NWS: coalescing,
 * freshness on an injected clock, stale-if-error flagged in the tool result, the 404 memory,
 * revalidation of stale copies against a fake that sends validators.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectClient, shippedModule, startInProcessGateway, textOf, type InProcessGateway } from '../helpers/gateway.js';
import { readNwsFixture, startFakeNws, type FakeNws } from '../helpers/fake-nws.js';

const POINT = { latitude: 41.967, longitude: -71.189 };

let nws: FakeNws;
let gw: InProcessGateway;
let now = 1_000_000;

before(async () => {
  nws = await startFakeNws();
  gw = await startInProcessGateway(
    `servers:\n  weather:\n    module: ${shippedModule('weather')}\n    options:\n      baseUrl: ${nws.url}\n      userAgent: "gateway-test (test@example.com)"\n      retryDelayMs: 1\n`,
    { now: () => now },
  );
});
after(async () => {
  await gw.close();
  await nws.close();
});

const count = (path: string) => nws.requests.filter((r) => r.path === path).length;
const countOn = (fake: FakeNws, path: string) => fake.requests.filter((r) => r.path === path).length;

describe('weather through the upstream cache', () => {
  it('turns 100 concurrent identical get_forecast calls into one points and one forecast request', async () => {
    nws.requests.length = 0;
    nws.setLatency(50);
    const clients = await Promise.all(Array.from({ length: 10 }, () => connectClient(`${gw.url}/mcp/weather`)));
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => clients[i % 10]!.client.callTool({ name: 'get_forecast', arguments: POINT })),
    );
    nws.setLatency(0);
    for (const result of results) {
      assert.equal(result.isError, undefined);
      assert.equal((result.structuredContent as { location: { city: string } }).location.city, 'Norton Center');
    }
    assert.equal(count('/points/41.967,-71.189'), 1);
    assert.equal(count('/gridpoints/BOX/70,82/forecast'), 1);
    const { cache } = await gw.gateway.status('http://x');
    assert.ok(cache.coalesced >= 99 * 2 - cache.hits, 'the rest joined the in-flight requests or hit the cache');
    await Promise.all(clients.map(({ client }) => client.close()));
  });

  it('sends the configured User-Agent and Accept: application/geo+json upstream', () => {
    const request = nws.requests.find((r) => r.path.startsWith('/points/'))!;
    assert.equal(request.headers['user-agent'], 'gateway-test (test@example.com)');
    assert.equal(request.headers.accept, 'application/geo+json');
  });

  it('serves from the cache while fresh and refetches once max-age has passed', async () => {
    const { client } = await connectClient(`${gw.url}/mcp/weather`);
    nws.requests.length = 0;
    await client.callTool({ name: 'get_forecast', arguments: POINT });
    assert.equal(nws.requests.length, 0, 'both answers still fresh');
    now += 31 * 60_000; // past the forecast rule's 30 min cap; points stay fresh for 24 h
    await client.callTool({ name: 'get_forecast', arguments: POINT });
    assert.deepEqual(
      nws.requests.map((r) => r.path),
      ['/gridpoints/BOX/70,82/forecast'],
    );
    await client.close();
  });

  it('serves a stale copy during an outage and says how old it is', async () => {
    now += 2 * 3_600_000 + 5 * 60_000; // before connecting: sessions idle out after 30 min
    const { client } = await connectClient(`${gw.url}/mcp/weather`);
    nws.failNext(2, 503, '/gridpoints/');
    const result = await client.callTool({ name: 'get_forecast', arguments: POINT });
    assert.equal(result.isError, undefined);
    assert.match(textOf(result), /NWS is not answering; this forecast is from a copy 2 h 5 min old and may be out of date/);
    const status = await gw.gateway.status('http://x');
    assert.ok(status.cache.staleServed >= 1);
    assert.ok(status.cache.upstreamErrors >= 1);
    await client.close();
  });

  it('remembers an InvalidPoint 404 so a looping client does not hammer NWS', async () => {
    const { client } = await connectClient(`${gw.url}/mcp/weather`);
    nws.requests.length = 0;
    for (let i = 0; i < 5; i++) {
      const result = await client.callTool({ name: 'get_forecast', arguments: { latitude: 51.5074, longitude: -0.1278 } });
      assert.equal(result.isError, true);
      assert.match(textOf(result), /only US locations are covered/);
    }
    assert.equal(nws.requests.length, 1);
    await client.close();
  });

  it('shows the cache counters on the status page', async () => {
    const page = await (await fetch(`${gw.url}/`)).text();
    assert.match(page, /Upstream cache/);
    assert.match(page, /\d+ hits, \d+ misses, \d+ coalesced, \d+ stale served, \d+ upstream errors/);
  });
});

describe('weather through the upstream cache, against an NWS that sends validators', () => {
  let validating: FakeNws;
  let gateway: InProcessGateway;
  let clock = 1_000_000;

  before(async () => {
    validating = await startFakeNws({ validators: true });
    gateway = await startInProcessGateway(
      `servers:\n  weather:\n    module: ${shippedModule('weather')}\n    options:\n      baseUrl: ${validating.url}\n      retryDelayMs: 1\n`,
      { now: () => clock },
    );
  });
  after(async () => {
    await gateway.close();
    await validating.close();
  });

  it('revalidates the expired forecast with If-None-Match and serves the stored copy on 304', async () => {
    const { client } = await connectClient(`${gateway.url}/mcp/weather`);
    const first = await client.callTool({ name: 'get_forecast', arguments: POINT });
    const etag = validating.requests.find((r) => r.path === '/gridpoints/BOX/70,82/forecast')?.headers;
    assert.equal(etag?.['if-none-match'], undefined, 'the first request is not conditional');
    validating.requests.length = 0;
    clock += 31 * 60_000; // past the forecast rule's 30 min cap

    const second = await client.callTool({ name: 'get_forecast', arguments: POINT });
    assert.equal(second.isError, undefined);
    assert.deepEqual(second.structuredContent, first.structuredContent);
    assert.doesNotMatch(textOf(second), /may be out of date/, 'a revalidated copy is current, not stale');
    assert.deepEqual(
      validating.requests.map((r) => [r.path, /^"[\w-]+"$/.test(String(r.headers['if-none-match']))]),
      [['/gridpoints/BOX/70,82/forecast', true]],
    );
    const { cache } = await gateway.gateway.status('http://x');
    assert.equal(cache.revalidated, 1);
    const page = await (await fetch(`${gateway.url}/`)).text();
    assert.match(page, /1 revalidated/);

    validating.requests.length = 0;
    await client.callTool({ name: 'get_forecast', arguments: POINT });
    assert.equal(validating.requests.length, 0, 'the 304 made the copy fresh again');
    await client.close();
  });
});

describe('weather through the upstream cache: the forecast shown is made once per cached body', () => {
  let fake: FakeNws;
  let gateway: InProcessGateway;
  let clock = 1_000_000;
  const FORECAST = '/gridpoints/BOX/70,82/forecast';

  before(async () => {
    fake = await startFakeNws();
    gateway = await startInProcessGateway(
      `servers:\n  weather:\n    module: ${shippedModule('weather')}\n    options:\n      baseUrl: ${fake.url}\n      retryDelayMs: 1\n`,
      { now: () => clock },
    );
  });
  after(async () => {
    await gateway.close();
    await fake.close();
  });

  /** The recorded forecast with the first period's temperature (and so its text) changed, as NWS's next update would. */
  const updatedForecast = (temperature: number): string => {
    const forecast = readNwsFixture('forecast.json') as { properties: { generatedAt: string; periods: Array<Record<string, unknown>> } };
    forecast.properties.generatedAt = '2026-07-15T19:00:00+00:00';
    const first = forecast.properties.periods[0]!;
    first.temperature = temperature;
    first.detailedForecast = `Smoke. Partly sunny, with a high near ${temperature}.`;
    return JSON.stringify(forecast);
  };
  const serveOnce = (body: string) =>
    fake.failNext(1, { status: 200, body, headers: { 'Cache-Control': 'public, max-age=3600' } }, FORECAST);
  /** The whole result as it goes to the client: equal strings are byte-identical answers. */
  const wire = (result: unknown) => JSON.stringify(result);

  it('answers the same bytes from a cached body as it made from it the first time, and new ones for a new body', async () => {
    const { client } = await connectClient(`${gateway.url}/mcp/weather`);
    const call = () => client.callTool({ name: 'get_forecast', arguments: POINT });
    // A body no earlier call has seen: the first answer is made from it, not taken from a memo.
    serveOnce(updatedForecast(91));
    const made = await call();
    const kept = await call();
    assert.equal(countOn(fake, FORECAST), 1, 'the second call was a cache hit');
    assert.match(textOf(made), /This Afternoon: 91°F, wind NW 9 mph\.\nSmoke\. Partly sunny, with a high near 91\./);
    assert.equal(wire(kept), wire(made));
    await client.close();

    clock += 61 * 60_000; // past the forecast's max-age: the next call asks NWS, which has moved on
    const next = await connectClient(`${gateway.url}/mcp/weather`);
    serveOnce(updatedForecast(93));
    const renewed = await next.client.callTool({ name: 'get_forecast', arguments: POINT });
    assert.equal(countOn(fake, FORECAST), 2);
    assert.match(textOf(renewed), /This Afternoon: 93°F/);
    assert.doesNotMatch(textOf(renewed), /91°F/);
    assert.notEqual(wire(renewed), wire(made));
    assert.equal((renewed.structuredContent as { periods: Array<{ temperature: number }> }).periods[0]!.temperature, 93);
    assert.equal(wire(await next.client.callTool({ name: 'get_forecast', arguments: POINT })), wire(renewed));
    await next.client.close();
  });

  it('makes a stale copy afresh, saying it is stale, and the same body shows as before once NWS is back', async () => {
    const { client } = await connectClient(`${gateway.url}/mcp/weather`);
    const call = () => client.callTool({ name: 'get_forecast', arguments: POINT });
    const current = await call();
    await client.close();

    clock += 3 * 3_600_000; // the copy is 3 h past its max-age, and its first periods are over
    const later = await connectClient(`${gateway.url}/mcp/weather`);
    fake.failAll(503, FORECAST);
    const stale = await later.client.callTool({ name: 'get_forecast', arguments: POINT });
    const again = await later.client.callTool({ name: 'get_forecast', arguments: POINT });
    fake.recover();
    assert.match(textOf(stale), /NWS is not answering; this forecast is from a copy \d+ h( \d+ min)? old and may be out of date/);
    assert.doesNotMatch(textOf(stale), /This Afternoon: 93°F/, 'the periods over by the copy’s age are left out');
    assert.match(textOf(again), /may be out of date/);

    // NWS answers, once the cache's backoff lets it be asked, the body the stale copy holds: the
    // same bytes as before the outage.
    clock += 60_000;
    serveOnce(updatedForecast(93));
    const back = await later.client.callTool({ name: 'get_forecast', arguments: POINT });
    assert.equal(wire(back), wire(current));
    await later.client.close();
  });

  it('takes the hourly lines from the same body whatever the hours asked for', async () => {
    const { client } = await connectClient(`${gateway.url}/mcp/weather`);
    const hourly = async (hours: number) =>
      textOf(await client.callTool({ name: 'get_hourly_forecast', arguments: { ...POINT, hours } })).split('\n');
    const five = await hourly(5);
    const three = await hourly(3);
    assert.equal(five.length, 6);
    assert.deepEqual(three.slice(1), five.slice(1, 4));
    assert.match(three[0]!, /next 3 hours/);
    await client.close();
  });
});
