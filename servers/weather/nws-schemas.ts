/**
 * The parts of NWS responses this server reads, as zod schemas. Anything else in a body is
 * ignored; a body that lacks these parts counts as malformed. Shapes follow the NWS OpenAPI
 * (v1.9.0): `temperature` and `windSpeed` may be plain values or, behind feature flags, a
 * `QuantitativeValue`.
 */
import { z } from 'zod';

const quantitativeValue = z.object({
  value: z.number().nullable().optional(),
  maxValue: z.number().nullable().optional(),
  minValue: z.number().nullable().optional(),
  unitCode: z.string().optional(),
});
export type QuantitativeValue = z.infer<typeof quantitativeValue>;

/** `GET /points/{lat},{lon}`. */
export const pointSchema = z.object({
  properties: z.object({
    // Used to build a URL path, so only what NWS office ids and grid indices look like.
    gridId: z.string().regex(/^[A-Z]{3}$/),
    gridX: z.number().int().nonnegative(),
    gridY: z.number().int().nonnegative(),
    forecast: z.string().nullable().optional(),
    forecastHourly: z.string().nullable().optional(),
    relativeLocation: z
      .object({ properties: z.object({ city: z.string(), state: z.string() }) })
      .nullable()
      .optional(),
  }),
});
export type Point = z.infer<typeof pointSchema>;

const forecastPeriod = z.object({
  name: z.string().nullable().optional(),
  startTime: z.string(),
  endTime: z.string(),
  isDaytime: z.boolean(),
  temperature: z.union([z.number(), quantitativeValue]).nullable(),
  temperatureUnit: z.string().nullable().optional(),
  windSpeed: z.union([z.string(), quantitativeValue]).nullable().optional(),
  windDirection: z.string().nullable().optional(),
  shortForecast: z.string().nullable().optional(),
  detailedForecast: z.string().nullable().optional(),
});
export type ForecastPeriodBody = z.infer<typeof forecastPeriod>;

/** `GET /gridpoints/{wfo}/{x},{y}/forecast` and `…/forecast/hourly`. */
export const forecastSchema = z.object({
  properties: z.object({
    updateTime: z.string().optional(),
    /** Deprecated by NWS in favour of `updateTime`; older answers have only this. */
    updated: z.string().optional(),
    generatedAt: z.string().optional(),
    periods: z.array(forecastPeriod),
  }),
});
export type Forecast = z.infer<typeof forecastSchema>;

const alertProperties = z.object({
  event: z.string(),
  areaDesc: z.string(),
  severity: z.string(),
  urgency: z.string(),
  certainty: z.string(),
  status: z.string(),
  headline: z.string().nullable().optional(),
  description: z.string().nullable().optional(),
  instruction: z.string().nullable().optional(),
  effective: z.string().nullable().optional(),
  expires: z.string().nullable().optional(),
});
export type AlertBody = z.infer<typeof alertProperties>;

/** `GET /alerts/active?area=XX`. */
export const alertCollectionSchema = z.object({
  features: z.array(z.object({ properties: alertProperties })),
});
export type AlertCollection = z.infer<typeof alertCollectionSchema>;

/** RFC 7807 problem detail, as NWS sends with `application/problem+json`. */
export const problemSchema = z.object({
  type: z.string().optional(),
  title: z.string().optional(),
  status: z.number().optional(),
  detail: z.string().optional(),
});
export type Problem = z.infer<typeof problemSchema>;
