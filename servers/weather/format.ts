/**
 * Presenting NWS data: the records a tool returns as `structuredContent` and the text it shows.
 * Pure functions of the parsed bodies; no I/O.
 */
import { z } from 'zod';
import type { AlertBody, Forecast, ForecastPeriodBody, Point, QuantitativeValue } from './nws-schemas.js';

export const alertRecordSchema = z.object({
  event: z.string(),
  area: z.string(),
  severity: z.string(),
  urgency: z.string(),
  certainty: z.string(),
  status: z.string(),
  headline: z.string().nullable(),
  description: z.string().nullable(),
  instruction: z.string().nullable(),
  effective: z.string().nullable(),
  expires: z.string().nullable(),
});
export type AlertRecord = z.infer<typeof alertRecordSchema>;

export const periodRecordSchema = z.object({
  name: z.string().describe('e.g. "Tonight"; empty in hourly forecasts'),
  startTime: z.string(),
  endTime: z.string(),
  isDaytime: z.boolean(),
  temperature: z.number().nullable(),
  temperatureUnit: z.string().nullable().describe('"F" or "C"'),
  windSpeed: z.string().nullable().describe('e.g. "2 to 8 mph"'),
  windDirection: z.string().nullable().describe('e.g. "NW"'),
  shortForecast: z.string(),
  detailedForecast: z.string().describe('empty in hourly forecasts'),
});
export type PeriodRecord = z.infer<typeof periodRecordSchema>;

export const locationSchema = z.object({ city: z.string(), state: z.string() });
export type Location = z.infer<typeof locationSchema>;

export function toAlertRecord(alert: AlertBody): AlertRecord {
  return {
    event: alert.event,
    area: alert.areaDesc,
    severity: alert.severity,
    urgency: alert.urgency,
    certainty: alert.certainty,
    status: alert.status,
    headline: alert.headline ?? null,
    description: alert.description ?? null,
    instruction: alert.instruction ?? null,
    effective: alert.effective ?? null,
    expires: alert.expires ?? null,
  };
}

/** One block per alert: event and area, then its ratings, headline, description and instruction. */
export function formatAlert(alert: AlertRecord): string {
  const lines = [
    `${alert.event} — ${alert.area}`,
    `Severity: ${alert.severity}; urgency: ${alert.urgency}; certainty: ${alert.certainty}; status: ${alert.status}`,
  ];
  if (alert.expires) lines.push(`Effective ${alert.effective ?? 'now'} until ${alert.expires}`);
  if (alert.headline) lines.push(`Headline: ${alert.headline}`);
  if (alert.description) lines.push(`Description:\n${alert.description.trim()}`);
  if (alert.instruction) lines.push(`Instruction:\n${alert.instruction.trim()}`);
  return lines.join('\n');
}

export function toLocation(point: Point): Location | null {
  const place = point.properties.relativeLocation?.properties;
  return place ? { city: place.city, state: place.state } : null;
}

/** The forecast's update time; `updated` is the deprecated name older answers use. */
export function updatedOf(forecast: Forecast): string | null {
  const p = forecast.properties;
  return p.updateTime ?? p.updated ?? p.generatedAt ?? null;
}

export function toPeriodRecord(period: ForecastPeriodBody): PeriodRecord {
  const temperature = typeof period.temperature === 'number' ? period.temperature : (period.temperature?.value ?? null);
  const unitFromValue =
    period.temperature !== null && typeof period.temperature === 'object' ? temperatureUnitOf(period.temperature) : null;
  return {
    name: period.name ?? '',
    startTime: period.startTime,
    endTime: period.endTime,
    isDaytime: period.isDaytime,
    temperature,
    temperatureUnit: period.temperatureUnit ?? unitFromValue,
    windSpeed: typeof period.windSpeed === 'object' && period.windSpeed !== null ? speedText(period.windSpeed) : (period.windSpeed ?? null),
    windDirection: period.windDirection ?? null,
    shortForecast: period.shortForecast ?? '',
    detailedForecast: period.detailedForecast ?? '',
  };
}

/** A 12-hour period: "Tonight: 66°F, wind NW 2 to 8 mph." then the detailed forecast. */
export function formatPeriod(period: PeriodRecord): string {
  const head = `${period.name || localTime(period.startTime)}: ${temperatureText(period)}, ${windText(period)}.`;
  const detail = period.detailedForecast || period.shortForecast;
  return detail ? `${head}\n${detail}` : head;
}

/** An hourly period on one line: "2026-07-15 16:00: 86°F, Smoke, wind NW 9 mph". */
export function formatHour(period: PeriodRecord): string {
  const parts = [temperatureText(period), period.shortForecast, windText(period)].filter(Boolean);
  return `${localTime(period.startTime)}: ${parts.join(', ')}`;
}

/** "Norton Center, MA", or the coordinates when NWS named no place. */
export function placeName(location: Location | null, point: string): string {
  return location ? `${location.city}, ${location.state}` : point;
}

function temperatureText(period: PeriodRecord): string {
  if (period.temperature === null) return 'temperature not given';
  return `${period.temperature}°${period.temperatureUnit ?? ''}`;
}

function windText(period: PeriodRecord): string {
  const wind = [period.windDirection, period.windSpeed].filter(Boolean).join(' ');
  return wind ? `wind ${wind}` : 'wind not given';
}

/** NWS times carry the location's offset; showing the local wall clock is what a reader wants. */
function localTime(iso: string): string {
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(iso);
  return match ? `${match[1]} ${match[2]}` : iso;
}

const UNIT_NAMES: Readonly<Record<string, string>> = {
  'wmoUnit:km_h-1': 'km/h',
  'wmoUnit:m_s-1': 'm/s',
  'wmoUnit:kt': 'kt',
  'wmoUnit:mi_h-1': 'mph',
};

function speedText(value: QuantitativeValue): string | null {
  const unit = value.unitCode ? (UNIT_NAMES[value.unitCode] ?? value.unitCode) : '';
  const round = (n: number) => String(Math.round(n));
  let amount: string | null = null;
  if (typeof value.minValue === 'number' && typeof value.maxValue === 'number') {
    amount = `${round(value.minValue)} to ${round(value.maxValue)}`;
  } else if (typeof value.value === 'number') {
    amount = round(value.value);
  }
  return amount === null ? null : `${amount} ${unit}`.trim();
}

function temperatureUnitOf(value: QuantitativeValue): string | null {
  if (value.unitCode?.endsWith('degF')) return 'F';
  if (value.unitCode?.endsWith('degC')) return 'C';
  return null;
}
