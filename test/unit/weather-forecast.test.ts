import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { roundCoordinate } from '../../servers/weather/forecast-tools.js';
import { startFakeNws, type FakeNws } from '../helpers/fake-nws.js';
import { allText, connectWeather } from '../helpers/weather-client.js';

const connect = (nws: FakeNws) => connectWeather(nws);
const textOf = allText;

interface ForecastContent {
  location: { city: string; state: string } | null;
  updated: string | null;
  periods: Array<{
    name: string;
    startTime: string;
    endTime: string;
    isDaytime: boolean;
    temperature: number | null;
    temperatureUnit: string | null;
    windSpeed: string | null;
    windDirection: string | null;
    shortForecast: string;
    detailedForecast: string;
  }>;
  stale?: unknown;
}

const NORTON = { latitude: 41.967, longitude: -71.189 };

describe('weather get_forecast and get_hourly_forecast', () => {
  let nws: FakeNws;
  let session: Awaited<ReturnType<typeof connect>>;
  const call = async (name: string, args: Record<string, unknown>) =>
    (await session.client.callTool({ name, arguments: args })) as CallToolResult;
  const paths = () => nws.requests.map((request) => request.path);

  before(async () => {
    nws = await startFakeNws();
    session = await connect(nws);
  });
  after(async () => {
    await session.close();
    await nws.close();
  });
  beforeEach(() => {
    nws.requests.length = 0;
  });

  it('finds the forecast through /points and rebuilds its link against the configured base', async () => {
    const result = await call('get_forecast', NORTON);
    assert.equal(result.isError, undefined, textOf(result));
    // The recording links to https://api.weather.gov/…; reaching the fake proves the rebuild.
    assert.deepEqual(paths(), ['/points/41.967,-71.189', '/gridpoints/BOX/70,82/forecast']);

    const content = result.structuredContent as unknown as ForecastContent;
    assert.deepEqual(content.location, { city: 'Norton Center', state: 'MA' });
    assert.equal(content.updated, '2026-07-15T18:29:19+00:00');
    assert.equal(content.periods.length, 14);
    assert.deepEqual(content.periods[1], {
      name: 'Tonight',
      startTime: '2026-07-15T18:00:00-04:00',
      endTime: '2026-07-16T06:00:00-04:00',
      isDaytime: false,
      temperature: 66,
      temperatureUnit: 'F',
      windSpeed: '2 to 8 mph',
      windDirection: 'NW',
      shortForecast: 'Patchy Smoke then Mostly Clear',
      detailedForecast:
        'Patchy smoke before 8pm, then haze between 8pm and 10pm. Mostly clear, with a low around 66. Northwest wind 2 to 8 mph.',
    });

    const text = textOf(result);
    assert.match(text, /^Forecast for Norton Center, MA \(updated 2026-07-15T18:29:19\+00:00\):/);
    assert.match(text, /This Afternoon: 87°F, wind NW 9 mph\.\nSmoke\. Partly sunny, with a high near 87\./);
    assert.match(text, /Tonight: 66°F, wind NW 2 to 8 mph\./);
  });

  it('rounds coordinates to 4 decimals, as NWS redirects longer ones', async () => {
    const result = await call('get_forecast', { latitude: 41.96700004, longitude: -71.18899996 });
    assert.equal(result.isError, undefined, textOf(result));
    assert.equal(paths()[0], '/points/41.967,-71.189');
    assert.equal(roundCoordinate(-0.00001), '0');
    assert.equal(roundCoordinate(40.1), '40.1');
    assert.equal(roundCoordinate(-105.123456), '-105.1235');
  });

  it('returns the first `hours` hourly periods from forecastHourly', async () => {
    const result = await call('get_hourly_forecast', { ...NORTON, hours: 3 });
    assert.equal(result.isError, undefined, textOf(result));
    assert.deepEqual(paths(), ['/points/41.967,-71.189', '/gridpoints/BOX/70,82/forecast/hourly']);
    const content = result.structuredContent as unknown as ForecastContent;
    assert.equal(content.periods.length, 3);
    assert.deepEqual(
      content.periods.map((period) => [period.startTime, period.temperature]),
      [
        ['2026-07-15T16:00:00-04:00', 86],
        ['2026-07-15T17:00:00-04:00', content.periods[1]?.temperature],
        ['2026-07-15T18:00:00-04:00', content.periods[2]?.temperature],
      ],
    );
    const lines = textOf(result).split('\n');
    assert.equal(lines[0], 'Hourly forecast for Norton Center, MA, next 3 hours (updated 2026-07-15T18:29:19+00:00):');
    assert.equal(lines[1], '2026-07-15 16:00: 86°F, Smoke, wind NW 9 mph');
    assert.equal(lines.length, 4);
  });

  it('gives 12 hours when `hours` is left out', async () => {
    const result = await call('get_hourly_forecast', NORTON);
    assert.equal((result.structuredContent as unknown as ForecastContent).periods.length, 12);
  });

  it('rejects out-of-range coordinates and hours before asking NWS', async () => {
    for (const args of [
      { latitude: 91, longitude: 0 },
      { latitude: 0, longitude: -180.5 },
      { latitude: 'north', longitude: 0 },
    ]) {
      const result = await call('get_forecast', args);
      assert.equal(result.isError, true, JSON.stringify(args));
      assert.match(textOf(result), /Input validation error/);
    }
    for (const hours of [0, 49, 2.5]) {
      const result = await call('get_hourly_forecast', { ...NORTON, hours });
      assert.equal(result.isError, true, String(hours));
    }
    assert.equal(nws.requests.length, 0);
  });

  it('explains that NWS only covers the US when the point is outside it (InvalidPoint 404)', async () => {
    const result = await call('get_forecast', { latitude: 51.5074, longitude: -0.1278 });
    assert.equal(result.isError, true);
    assert.equal(
      textOf(result),
      'NWS has no forecast for 51.5074,-0.1278: only US locations are covered ' +
        '(NWS: Unable to provide data for requested point 51.5074,-0.1278).',
    );
    assert.deepEqual(paths(), ['/points/51.5074,-0.1278'], 'a 404 is not retried');
  });

  it('declares both tools read-only and open-world with output schemas', async () => {
    const { tools } = await session.client.listTools();
    for (const name of ['get_forecast', 'get_hourly_forecast']) {
      const tool = tools.find((candidate) => candidate.name === name);
      assert.ok(tool, name);
      assert.deepEqual(tool.annotations, { readOnlyHint: true, openWorldHint: true });
      assert.ok((tool.outputSchema?.properties as Record<string, unknown> | undefined)?.periods, name);
      assert.ok(tool.title, name);
    }
  });
});
