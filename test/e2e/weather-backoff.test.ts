/**
 * The weather server through the real gateway while NWS is down: the upstream cache backs off, so
 * an outage of many tool calls costs NWS a bounded number of requests; the tool results say when
 * NWS will be tried again; once NWS is back and the interval has passed, calls succeed and
 * /status.json shows the host ok again. The clock is injected, so intervals pass without sleeping.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { GatewayStatus } from '../../src/gateway/gateway.js';
import { startFakeNws, type FakeNws } from '../helpers/fake-nws.js';
import { connectClient, shippedModule, startInProcessGateway, textOf, type InProcessGateway } from '../helpers/gateway.js';

const POINT = { latitude: 41.967, longitude: -71.189 };
const BACKING_OFF = 'NWS is unavailable (backing off after repeated failures) and could not provide active alerts for MA';

let nws: FakeNws;
let gw: InProcessGateway;
let now = 1_000_000;

before(async () => {
  nws = await startFakeNws();
  gw = await startInProcessGateway(
    `servers:\n  weather:\n    module: ${shippedModule('weather')}\n    options:\n      baseUrl: ${nws.url}\n      retryDelayMs: 1\n`,
    { now: () => now },
  );
});
after(async () => {
  await gw.close();
  await nws.close();
});

const status = async () => (await (await fetch(`${gw.url}/status.json`)).json()) as GatewayStatus;

describe('weather during an NWS outage', () => {
  it('costs NWS two requests for ten calls, then one probe per interval, and says when it will try again', async () => {
    const { client } = await connectClient(`${gw.url}/mcp/weather`);
    const alerts = async () => textOf((await client.callTool({ name: 'get_alerts', arguments: { state: 'MA' } })) as CallToolResult);
    nws.requests.length = 0;
    nws.failAll(503);

    const texts = [];
    for (let call = 0; call < 10; call++) texts.push(await alerts());
    assert.deepEqual(texts, [
      'NWS is unavailable (503) and could not provide active alerts for MA; try again shortly.',
      ...Array<string>(9).fill(`${BACKING_OFF}; the gateway will try it again in 1 s.`),
    ]);
    assert.equal(nws.requests.length, 2, "the first call's request and its retry; the other calls never left the gateway");

    // Each interval lets one probe through; it fails, and the client's retry is answered from backoff.
    const waits = [];
    for (const seconds of [1, 2, 4, 8, 16, 30]) {
      now += seconds * 1000;
      waits.push(/try it again in (.+)\.$/.exec(await alerts())?.[1]);
    }
    assert.deepEqual(waits, ['2 s', '4 s', '8 s', '16 s', '30 s', '30 s']);
    assert.equal(nws.requests.length, 2 + 6);

    const { cache } = await status();
    assert.deepEqual(cache.upstreams, [
      { origin: nws.url, state: 'backingOff', consecutiveFailures: 8, retryInSeconds: 30, intervalSeconds: 30, lastError: '503' },
    ]);
    assert.equal(cache.backedOff, 9 + 6);
    const page = await (await fetch(`${gw.url}/`)).text();
    assert.ok(
      page.includes(`<code>${nws.url}</code> backing off: next attempt in 30 s (interval 30 s) · 8 consecutive failures · last error 503`),
      page,
    );
    await client.close();
  });

  it('succeeds once NWS is back and the interval has passed, and shows the host ok again', async () => {
    const { client } = await connectClient(`${gw.url}/mcp/weather`);
    const alerts = async () => (await client.callTool({ name: 'get_alerts', arguments: { state: 'MA' } })) as CallToolResult;
    nws.recover();
    now += 29_000;
    assert.equal(textOf(await alerts()), `${BACKING_OFF}; the gateway will try it again in 1 s.`, 'still inside the interval');
    assert.equal(nws.requests.length, 8);

    now += 1000;
    const recovered = await alerts();
    assert.equal(recovered.isError, undefined, textOf(recovered));
    assert.equal((recovered.structuredContent as { count: number }).count, 6);
    assert.equal(nws.requests.length, 9, 'the probe');
    assert.deepEqual((await status()).cache.upstreams, [{ origin: nws.url, state: 'ok', consecutiveFailures: 0, lastError: '503' }]);
    await client.close();
  });

  it('serves the forecast from its stale copy while backing off, without asking NWS', async () => {
    let { client } = await connectClient(`${gw.url}/mcp/weather`);
    await client.callTool({ name: 'get_forecast', arguments: POINT });
    await client.close();
    nws.requests.length = 0;
    nws.failAll(503, '/gridpoints/');
    now += 31 * 60_000; // past the forecast rule's 30 min cap; points stay fresh for 24 h
    ({ client } = await connectClient(`${gw.url}/mcp/weather`)); // sessions idle out after 30 min

    const notices = [];
    for (let call = 0; call < 5; call++) {
      const result = (await client.callTool({ name: 'get_forecast', arguments: POINT })) as CallToolResult;
      assert.equal(result.isError, undefined, textOf(result));
      notices.push((result.structuredContent as { stale?: { notice: string } }).stale?.notice);
    }
    assert.deepEqual(notices, Array(5).fill('NWS is not answering; this forecast is from a copy 31 min old and may be out of date.'));
    assert.deepEqual(
      nws.requests.map((request) => request.path),
      ['/gridpoints/BOX/70,82/forecast', '/gridpoints/BOX/70,82/forecast'],
      'two failures start the backoff; the three calls after them get the copy without a request',
    );
    assert.equal((await status()).cache.upstreams[0]?.state, 'backingOff');
    nws.recover();
    await client.close();
  });
});
