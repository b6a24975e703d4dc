/**
 * The weather server: US National Weather Service alerts and forecasts (https://api.weather.gov).
 *
 * Tools: `get_alerts {state}`, `get_forecast {latitude, longitude}`,
 * `get_hourly_forecast {latitude, longitude, hours}`. Options: see {@link optionsSchema}; the
 * environment variable `NWS_BASE_URL` replaces the default base URL (for a mirror or a test fake).
 *
 * @example
 * ```ts
 * const server = createServer({ route: 'weather', options: optionsSchema.parse({}), fetch, logger });
 * await server.connect(transport);
 * ```
 */
import { McpServer } from '@modelcontextprotocol/server';
import type { ServerContext } from '../../src/gateway/module-contract.js';
import { registerAlertsTool } from './alerts-tool.js';
import { registerForecastTools } from './forecast-tools.js';
import { createNwsClient } from './nws-client.js';
import type { WeatherOptions } from './options.js';

export { optionsSchema, type WeatherOptions } from './options.js';

export function createServer(ctx: ServerContext<WeatherOptions>): McpServer {
  const { baseUrl, userAgent, timeoutMs, retryDelayMs } = ctx.options;
  const nws = createNwsClient({ fetch: ctx.fetch, baseUrl, userAgent, timeoutMs, retryDelayMs, logger: ctx.logger });
  const server = new McpServer(
    { name: 'weather', title: 'US weather (NWS)', version: '0.1.0' },
    { instructions: 'Forecasts and alerts from the US National Weather Service; US states, territories and locations only.' },
  );
  registerAlertsTool(server, nws);
  registerForecastTools(server, nws);
  return server;
}
