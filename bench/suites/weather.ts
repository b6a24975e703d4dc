/**
 * `get_forecast` through the weather server at 10 connections, with the upstream cache warm and
 * with it off, against the fake NWS (recorded answers) with 50 ms of latency per upstream request.
 * The fake runs in this process; its request log counts what reached the upstream. The same
 * gateway also mounts the time server, whose `tools/call` is measured right after each forecast
 * run as the same-moment reference for the latency goal.
 */
import { startFakeNws } from '../../test/helpers/fake-nws.js';
import { sleep, startGateway, type Child } from '../lib/child.js';
import { runLoad, type LoadResult } from '../lib/load.js';
import { expectResult, openSessions, timeCallBody, toolCallBody } from '../lib/mcp.js';
import type { BenchSettings } from '../lib/settings.js';
import { TIME_MODULE, WEATHER_MODULE } from './modules.js';

export const UPSTREAM_LATENCY_MS = 50;
export const WEATHER_CONNECTIONS = 10;

export interface WeatherResult {
  cache: 'warm' | 'off';
  result: LoadResult;
  /** Requests the fake NWS received during the measurement. */
  upstreamRequests: number;
  /** `tools/call get_current_time` on the same gateway at the same concurrency, measured right after. */
  timeReference: LoadResult;
}

const forecastBody = toolCallBody('get_forecast', { latitude: 41.967, longitude: -71.189 });

const weatherYaml = (nwsUrl: string, cacheEnabled: boolean) => `
servers:
  weather:
    module: ${WEATHER_MODULE}
    options:
      baseUrl: ${nwsUrl}
      userAgent: mcp-gateway-bench (bench@example.com)
  time:
    module: ${TIME_MODULE}
sessions:
  maxPerRoute: 1000
cache:
  enabled: ${cacheEnabled}
`;

export async function benchWeather(settings: BenchSettings): Promise<WeatherResult[]> {
  const nws = await startFakeNws({ latencyMs: UPSTREAM_LATENCY_MS });
  const results: WeatherResult[] = [];
  try {
    for (const cache of ['warm', 'off'] as const) {
      let gateway: Child | undefined;
      try {
        gateway = await startGateway(`weather-${cache}`, weatherYaml(nws.url, cache === 'warm'), 'weather', { cpu: settings.serverCpu });
        const timeUrl = `${gateway.base}/mcp/time`;
        const sessions = await openSessions(gateway.url, WEATHER_CONNECTIONS);
        const timeSessions = await openSessions(timeUrl, WEATHER_CONNECTIONS);
        // Fills the cache (warm), and checks the tool answers with a forecast rather than an error.
        await expectResult(gateway.url, sessions[0], forecastBody(1));
        await runLoad({
          url: timeUrl,
          connections: WEATHER_CONNECTIONS,
          duration: settings.warmup,
          body: timeCallBody,
          sessions: timeSessions,
        });
        const warmup = await runLoad({
          url: gateway.url,
          connections: WEATHER_CONNECTIONS,
          duration: settings.warmup,
          body: forecastBody,
          sessions,
        });
        // A fixed number of calls (about weatherDuration seconds' worth), all answered before the
        // count is read: a timed run would cut off calls whose upstream requests were counted.
        const amount = Math.max(WEATHER_CONNECTIONS * 5, Math.round(warmup.rps * settings.weatherDuration));
        // Calls the timed warm-up cut off still finish upstream: let them, then start counting.
        await sleep(1_000);
        nws.requests.length = 0;
        const result = await runLoad({ url: gateway.url, connections: WEATHER_CONNECTIONS, amount, body: forecastBody, sessions });
        const upstreamRequests = nws.requests.length;
        const timeReference = await runLoad({
          url: timeUrl,
          connections: WEATHER_CONNECTIONS,
          duration: Math.min(settings.weatherDuration, 3),
          body: timeCallBody,
          sessions: timeSessions,
        });
        results.push({ cache, result, upstreamRequests, timeReference });
        settings.progress(
          `weather cache ${cache}: ${Math.round(result.rps)} req/s, p50 ${result.p50.toFixed(2)} ms, ${upstreamRequests} upstream; time p50 ${timeReference.p50.toFixed(2)} ms`,
        );
      } finally {
        await gateway?.stop();
      }
    }
  } finally {
    await nws.close();
  }
  return results;
}
