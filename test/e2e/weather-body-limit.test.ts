/**
 * The weather server reads at most `maxResponseBytes` of an NWS body, whether or not the
 * gateway's cache is in front of it: a huge or endless body ends in a tool error naming the limit,
 * and the connection is let go instead of being read to the end.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectClient, shippedModule, startInProcessGateway, textOf, type InProcessGateway } from '../helpers/gateway.js';
import { startFakeNws, type FakeNws } from '../helpers/fake-nws.js';

const POINT = { latitude: 41.967, longitude: -71.189 };

function weatherYaml(nws: FakeNws, extra: { options?: string; cache?: string } = {}): string {
  return (
    `servers:\n  weather:\n    module: ${shippedModule('weather')}\n    options:\n      baseUrl: ${nws.url}\n      retryDelayMs: 1\n` +
    (extra.options ?? '') +
    (extra.cache ?? '')
  );
}

describe('weather: the size of an NWS body', () => {
  let nws: FakeNws;
  const gateways: InProcessGateway[] = [];

  before(async () => {
    nws = await startFakeNws();
  });
  after(async () => {
    await Promise.all(gateways.map((gateway) => gateway.close()));
    await nws.close();
  });

  const start = async (extra: Parameters<typeof weatherYaml>[1]) => {
    const gateway = await startInProcessGateway(weatherYaml(nws, extra));
    gateways.push(gateway);
    return (await connectClient(`${gateway.url}/mcp/weather`)).client;
  };

  it('refuses a body over maxResponseBytes with a tool error naming the limit, the cache off', async () => {
    // The recorded hourly forecast is 128 KiB; the points answer (3 KiB) fits.
    const client = await start({ options: '      maxResponseBytes: 65536\n', cache: 'cache:\n  enabled: false\n' });
    const result = await client.callTool({ name: 'get_hourly_forecast', arguments: POINT });
    assert.equal(result.isError, true);
    assert.match(textOf(result), /NWS sent more than 64 KiB .*the hourly forecast for 41\.967,-71\.189.*maxResponseBytes/);
    const forecast = await client.callTool({ name: 'get_forecast', arguments: POINT });
    assert.equal(forecast.isError, undefined, 'a body within the limit is read as before');
    await client.close();
  });

  for (const [name, cache] of [
    ['off', 'cache:\n  enabled: false\n'],
    ['on', ''],
  ] as const) {
    it(`stops reading an endless body at the default limit and lets the connection go, the cache ${name}`, async () => {
      const client = await start({ cache });
      const abandonedBefore = nws.abandoned;
      nws.failNext(1, 'endless', '/gridpoints/');
      const result = await client.callTool({ name: 'get_forecast', arguments: POINT });
      assert.equal(result.isError, true);
      assert.match(textOf(result), /NWS sent more than 8 MiB .*the forecast for 41\.967,-71\.189/);
      // The fake hears of the cancelled read when the socket closes, which may come just after the answer.
      while (nws.abandoned === abandonedBefore) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(nws.abandoned, abandonedBefore + 1);
      await client.close();
    });
  }
});
