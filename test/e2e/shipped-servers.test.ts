/**
 * The two shipped servers, weather and time, through the real gateway as a user meets them: odd
 * input, NWS failures the recordings do not show (synthetic answers of the fake NWS), the cache's
 * stale copies, and options that cannot work. The clock is injected, so cached answers age and
 * backoff intervals pass without sleeping. Every client lists the tools first, so the SDK Client
 * checks each structured result against its tool's output schema.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { CallToolResult, Client } from '@modelcontextprotocol/client';
import { problemBody, startFakeNws, type FakeNws } from '../helpers/fake-nws.js';
import { connectClient, shippedModule, startInProcessGateway, textOf, type InProcessGateway } from '../helpers/gateway.js';

const POINT = { latitude: 41.967, longitude: -71.189 };

let nws: FakeNws;
let gw: InProcessGateway;
let now = 1_000_000;

const yaml = (userAgent: string) =>
  `servers:\n  weather:\n    module: ${shippedModule('weather')}\n    options:\n      baseUrl: ${nws.url}\n` +
  `      userAgent: "${userAgent}"\n      retryDelayMs: 1\n  time:\n    module: ${shippedModule('time')}\n`;

before(async () => {
  nws = await startFakeNws();
  gw = await startInProcessGateway(yaml('shipped-servers-test (test@example.com)'), { now: () => now });
});
after(async () => {
  await gw.close();
  await nws.close();
});

/**
 * A client of `route` on a clock moved past every cache lifetime and backoff interval of the tests
 * before, so each test starts with NWS answering and nothing fresh in the cache (points stay for 24 h).
 */
async function freshClient(route: 'weather' | 'time'): Promise<Client> {
  now += 60 * 60_000;
  nws.recover();
  const { client } = await connectClient(`${gw.url}/mcp/${route}`);
  await client.listTools(); // from now on the Client checks structuredContent against outputSchema
  return client;
}

const call = async (client: Client, name: string, args: Record<string, unknown>) =>
  (await client.callTool({ name, arguments: args })) as CallToolResult;

interface Periods {
  periods: Array<{ name: string; startTime: string }>;
  stale?: { ageSeconds?: number };
}

describe('weather, as a user meets it', () => {
  it('says how long NWS asks to wait when it limits the gateway (429 with Retry-After)', async () => {
    const client = await freshClient('weather');
    nws.failNext(1, {
      status: 429,
      contentType: 'application/problem+json',
      headers: { 'Retry-After': '120' },
      body: problemBody(429, 'RateLimit', 'Rate Limit Exceeded', 'Too many requests'),
    });
    const result = await call(client, 'get_alerts', { state: 'TX' });
    assert.equal(result.isError, true);
    assert.equal(
      textOf(result),
      'NWS is limiting how often it is asked (429) and refused active alerts for TX; it asks to wait 2 min before trying again.',
    );
    await client.close();
  });

  it('is a tool error naming the point when NWS sends a forecast without periods', async () => {
    const client = await freshClient('weather');
    const empty = JSON.stringify({ properties: { updateTime: '2026-07-15T18:29:19+00:00', periods: [] } });
    nws.failNext(1, { status: 200, body: empty }, '/gridpoints/');
    const result = await call(client, 'get_forecast', POINT);
    assert.equal(result.isError, true);
    assert.equal(textOf(result), 'NWS has no forecast periods for 41.967,-71.189 at the moment; try again later.');
    await client.close();
  });

  it('leaves out the periods already over when it answers from a stale copy', async () => {
    let client = await freshClient('weather');
    const fresh = (await call(client, 'get_hourly_forecast', POINT)).structuredContent as unknown as Periods;
    assert.equal(fresh.periods[0]?.startTime, '2026-07-15T16:00:00-04:00', 'a fresh copy starts at the hour NWS made it');
    await call(client, 'get_forecast', POINT);
    await client.close();

    now += 2 * 3_600_000 + 5 * 60_000; // the copies (made 20:00:37Z) are now 2 h 5 min old
    ({ client } = await connectClient(`${gw.url}/mcp/weather`));
    await client.listTools();
    nws.failAll(503, '/gridpoints/');
    const hourly = await call(client, 'get_hourly_forecast', { ...POINT, hours: 3 });
    const daily = await call(client, 'get_forecast', POINT);
    nws.recover();

    assert.equal(hourly.isError, undefined, textOf(hourly));
    const hours = hourly.structuredContent as unknown as Periods;
    assert.equal(hours.stale?.ageSeconds, 2 * 3600 + 5 * 60);
    assert.deepEqual(
      hours.periods.map((p) => p.startTime),
      ['2026-07-15T18:00:00-04:00', '2026-07-15T19:00:00-04:00', '2026-07-15T20:00:00-04:00'],
      'the hours 16:00 and 17:00 EDT were over at 18:05',
    );
    assert.match(textOf(hourly), /next 3 hours/);
    assert.doesNotMatch(textOf(hourly), /2026-07-15 1[67]:00/);

    const days = daily.structuredContent as unknown as Periods;
    assert.equal(days.periods[0]?.name, 'Tonight', '"This Afternoon" ended at 18:00 EDT');
    assert.equal(days.periods.length, 13);
    assert.doesNotMatch(textOf(daily), /This Afternoon/);
    await client.close();
  });

  it('refuses to start with a userAgent that cannot be sent as an HTTP header, naming the option', async () => {
    await assert.rejects(startInProcessGateway(yaml('Météo — gateway (ops@example.com)')), (error: Error) => {
      assert.match(error.message, /servers\.weather\.options\.userAgent: .*printable ASCII/);
      return true;
    });
  });
});

describe('time, as a user meets it', () => {
  it('bounds its string inputs in the schema, so a huge one is refused without being echoed back', async () => {
    const client = await freshClient('time');
    const { tools } = await client.listTools();
    for (const tool of tools) {
      for (const [name, schema] of Object.entries(tool.inputSchema.properties ?? {})) {
        assert.equal(typeof (schema as { maxLength?: number }).maxLength, 'number', `${tool.name}.${name}`);
      }
    }
    const result = await call(client, 'get_current_time', { timezone: 'x'.repeat(10_000) });
    assert.equal(result.isError, true);
    assert.match(textOf(result), /Input validation error/);
    assert.ok(textOf(result).length < 500, `the error is ${textOf(result).length} characters`);
    await client.close();
  });
});
