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
import { createNwsClient, type NwsClient } from './nws-client.js';
import type { WeatherOptions } from './options.js';

export { optionsSchema, type WeatherOptions } from './options.js';

/**
 * One NWS client per context: the gateway hands the same (frozen) context to every server of a
 * route and era, and builds a server per 2026-07-28 request, so the factory must stay cheap.
 */
const clients = new WeakMap<ServerContext<WeatherOptions>, NwsClient>();

export function createServer(ctx: ServerContext<WeatherOptions>): McpServer {
  let nws = clients.get(ctx);
  if (!nws) {
    const { baseUrl, userAgent, timeoutMs, retryDelayMs, maxResponseBytes } = ctx.options;
    nws = createNwsClient({ fetch: ctx.fetch, baseUrl, userAgent, timeoutMs, retryDelayMs, maxResponseBytes, logger: ctx.logger });
    clients.set(ctx, nws);
  }
  const server = new McpServer(
    { name: 'weather', title: 'US weather (NWS)', version: '0.1.0' },
    {
      instructions: 'Forecasts and alerts from the US National Weather Service; US states, territories and locations only.',
      // The tool list never changes: clients need not listen for it.
      capabilities: { tools: { listChanged: false } },
    },
  );
  registerAlertsTool(server, nws);
  registerForecastTools(server, nws);
  return server;
}
