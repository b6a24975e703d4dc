/**
 * The weather server through the gateway's upstream cache, against the fake NWS: coalescing,
 * freshness on an injected clock, stale-if-error flagged in the tool result, the 404 memory,
 * revalidation of stale copies against a fake that sends validators.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectClient, shippedModule, startInProcessGateway, textOf, type InProcessGateway } from '../helpers/gateway.js';
import { startFakeNws, type FakeNws } from '../helpers/fake-nws.js';

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
