/**
 * `get_forecast` and `get_hourly_forecast`: a point's forecast, found through `/points`.
 */
import type { McpServer, CallToolResult } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { cacheJsonSchema } from '../../src/gateway/module-contract.js';
import { describeFailure } from './failures.js';
import {
  formatHour,
  formatPeriod,
  locationSchema,
  periodRecordSchema,
  placeName,
  toLocation,
  toPeriodRecord,
  updatedOf,
  type Location,
  type PeriodRecord,
} from './format.js';
import { staleNotice, type StaleNotice } from './freshness.js';
import type { NwsClient, Staleness } from './nws-client.js';
import { forecastSchema, pointSchema, type Forecast, type Point } from './nws-schemas.js';
import { errorResult, staleSchema } from './tool-results.js';

const coordinates = {
  latitude: z.number().min(-90).max(90).describe('Latitude in decimal degrees, e.g. 41.967 (US locations only)'),
  longitude: z.number().min(-180).max(180).describe('Longitude in decimal degrees, e.g. -71.189 (west is negative)'),
};

// Schemas are built once, at load, their JSON Schema too: the gateway builds a server for every
// 2026-07-28 request.
const forecastInput = cacheJsonSchema(z.object(coordinates));
const hourlyInput = cacheJsonSchema(
  z.object({
    ...coordinates,
    hours: z.number().int().min(1).max(48).default(12).describe('How many hours ahead, 1 to 48 (default 12)'),
  }),
);

const outputSchema = cacheJsonSchema(
  z.object({
    location: locationSchema.nullable().describe('The nearest place NWS names for the point'),
    updated: z.string().nullable().describe('When NWS last updated the forecast (ISO 8601)'),
    periods: z.array(periodRecordSchema),
    stale: staleSchema.optional(),
  }),
);

const annotations = { readOnlyHint: true, openWorldHint: true };

export function registerForecastTools(server: McpServer, nws: NwsClient): void {
  server.registerTool(
    'get_forecast',
    {
      title: 'Weather forecast',
      description:
        'The US National Weather Service forecast for a US location, in 12-hour periods for about 7 days: ' +
        'temperature, wind and a detailed description per period.',
      inputSchema: forecastInput,
      outputSchema,
      annotations,
    },
    async ({ latitude, longitude }): Promise<CallToolResult> => {
      const loaded = await loadForecast(nws, latitude, longitude, 'daily');
      if (!loaded.ok) return errorResult(loaded.message);
      const { point, location, updated, periods, stale } = loaded;
      const heading = `Forecast for ${placeName(location, point)}${updated ? ` (updated ${updated})` : ''}:`;
      const text = [stale?.notice, heading, ...loaded.shown.daily()].filter(Boolean).join('\n\n');
      return {
        content: [{ type: 'text', text }],
        structuredContent: { location, updated, periods, ...(stale ? { stale } : {}) },
      };
    },
  );

  server.registerTool(
    'get_hourly_forecast',
    {
      title: 'Hourly weather forecast',
      description:
        'The US National Weather Service hour-by-hour forecast for a US location, for the next 1 to 48 hours: ' +
        'temperature, sky and wind per hour.',
      inputSchema: hourlyInput,
      outputSchema,
      annotations,
    },
    async ({ latitude, longitude, hours }): Promise<CallToolResult> => {
      const loaded = await loadForecast(nws, latitude, longitude, 'hourly');
      if (!loaded.ok) return errorResult(loaded.message);
      const { point, location, updated } = loaded;
      const periods = loaded.periods.slice(0, hours);
      const heading =
        `Hourly forecast for ${placeName(location, point)}, next ${periods.length} hour${periods.length === 1 ? '' : 's'}` +
        `${updated ? ` (updated ${updated})` : ''}:`;
      const lines = loaded.shown.hourly().slice(0, hours);
      const text = [loaded.stale?.notice, [heading, ...lines].join('\n')].filter(Boolean).join('\n\n');
      return {
        content: [{ type: 'text', text }],
        structuredContent: { location, updated, periods, ...(loaded.stale ? { stale: loaded.stale } : {}) },
      };
    },
  );
}

type Loaded =
  | {
      readonly ok: true;
      readonly point: string;
      readonly location: Location | null;
      readonly updated: string | null;
      readonly periods: readonly PeriodRecord[];
      /** The periods as text, made once per checked body (see {@link shownOf}). */
      readonly shown: Shown;
      readonly stale?: StaleNotice;
    }
  | { readonly ok: false; readonly message: string };

async function loadForecast(nws: NwsClient, latitude: number, longitude: number, kind: 'daily' | 'hourly'): Promise<Loaded> {
  // NWS answers a 301 to the 4-decimal form when given more decimals.
  const point = `${roundCoordinate(latitude)},${roundCoordinate(longitude)}`;
  const subject = `the ${kind === 'hourly' ? 'hourly ' : ''}forecast for ${point}`;

  const points = await nws.get(`/points/${point}`, pointSchema);
  if (!points.ok) return { ok: false, message: describeFailure(points.failure, { subject, point }) };

  const forecast = await nws.get(forecastPath(nws, points.data, kind), forecastSchema);
  if (!forecast.ok) return { ok: false, message: describeFailure(forecast.failure, { subject }) };

  const shown = shownOf(forecast.data, forecast.stale);
  const { periods } = shown;
  // Nothing to show is not a forecast: NWS sends an empty list while a grid's forecast is being made.
  if (periods.length === 0) return { ok: false, message: `NWS has no forecast periods for ${point} at the moment; try again later.` };

  const stale = staleNotice('this forecast', [points.stale, forecast.stale]);
  return {
    ok: true,
    point,
    location: toLocation(points.data),
    updated: updatedOf(forecast.data),
    periods,
    shown,
    ...(stale ? { stale } : {}),
  };
}

/** A forecast's periods as records, and as the lines each tool shows (made when first asked for). */
interface Shown {
  readonly periods: readonly PeriodRecord[];
  daily(): readonly string[];
  hourly(): readonly string[];
}

/**
 * What a current forecast shows, by the checked body it came from. While the gateway's cache
 * serves the same bytes, the client hands back the same frozen data (nws-client.ts), so every
 * call but the first takes the records and lines made for it; a new body is new data, and what
 * was made for the old one goes with it (a WeakMap). A stale copy is never kept: which of its
 * periods are over depends on its age, which changes with every call.
 */
const shownByForecast = new WeakMap<Forecast, Shown>();

function shownOf(forecast: Forecast, stale: Staleness | undefined): Shown {
  if (stale) return presentPeriods(forecast, copyTime(forecast, stale));
  let shown = shownByForecast.get(forecast);
  if (!shown) {
    shown = presentPeriods(forecast, undefined);
    shownByForecast.set(forecast, shown);
  }
  return shown;
}

function presentPeriods(forecast: Forecast, asOf: number | undefined): Shown {
  const periods = Object.freeze(
    forecast.properties.periods.filter((period) => !endedBy(period.endTime, asOf)).map((period) => Object.freeze(toPeriodRecord(period))),
  );
  let daily: readonly string[] | undefined;
  let hourly: readonly string[] | undefined;
  return {
    periods,
    daily: () => (daily ??= Object.freeze(periods.map(formatPeriod))),
    hourly: () => (hourly ??= Object.freeze(periods.map(formatHour))),
  };
}

/**
 * The time a stale copy is being read at, in epoch ms: when NWS made the body (`generatedAt`) plus
 * the copy's age. A fresh answer starts at the current period, but an expired copy the cache serves
 * while NWS fails can be up to a day old, and its first periods are over; the age comes from the
 * gateway's cache, so this needs no clock of the module's own. `undefined` for fresh answers, or
 * when either is unknown: then nothing is left out.
 */
function copyTime(forecast: Forecast, stale: Staleness | undefined): number | undefined {
  if (stale?.ageSeconds === undefined) return undefined;
  const generated = Date.parse(forecast.properties.generatedAt ?? '');
  return Number.isFinite(generated) ? generated + stale.ageSeconds * 1000 : undefined;
}

function endedBy(endTime: string, asOf: number | undefined): boolean {
  if (asOf === undefined) return false;
  const end = Date.parse(endTime);
  return Number.isFinite(end) && end <= asOf;
}

/**
 * The link `/points` gives when it is on the configured base; otherwise the same resource rebuilt
 * from the grid, so no request ever goes to a host named by upstream data.
 */
function forecastPath(nws: NwsClient, point: Point, kind: 'daily' | 'hourly'): string {
  const { gridId, gridX, gridY, forecast, forecastHourly } = point.properties;
  const link = kind === 'hourly' ? forecastHourly : forecast;
  const linked = link ? nws.pathOnBase(link) : undefined;
  return linked ?? `/gridpoints/${gridId}/${gridX},${gridY}/forecast${kind === 'hourly' ? '/hourly' : ''}`;
}

/** Four decimals (about 11 m), without trailing zeros or a negative zero. */
export function roundCoordinate(value: number): string {
  const rounded = Number(value.toFixed(4));
  return String(rounded === 0 ? 0 : rounded);
}
