/**
 * A same-run A/B trial of the warm-cache weather call: this checkout's gateway against another
 * commit's (`--base=<ref>`, default `main`, built from git as the bench builds the previous
 * release), in alternating rounds on this machine, each round a fresh gateway of each build
 * mounting its own weather and time servers, as bench/suites/weather.ts measures them. Prints per
 * round and as medians: the gateway's CPU per `get_forecast` call (from /proc), the weather p50,
 * the time `tools/call` p50 measured right after on the same gateway, and their ratio.
 *
 * Usage: `npm run build && tsc -p bench/tsconfig.json && node dist/bench/ab-weather.js
 * [--base=main] [--rounds=5] [--calls=4000] [--cpu-prof]` (`--cpu-prof`: each gateway writes a CPU
 * profile to dist/bench-profiles/).
 */
import path from 'node:path';
import { startFakeNws } from '../test/helpers/fake-nws.js';
import { abTrial, alternatingRounds, progress, type AbBuild } from './lib/ab-trial.js';
import { removeWorkDir, sleep, startChild, writeGatewayConfig } from './lib/child.js';
import { median, runLoad } from './lib/load.js';
import { expectResult, openSessions, timeCallBody, toolCallBody } from './lib/mcp.js';
import { cpuTimesOf } from './lib/processes.js';
import { UPSTREAM_LATENCY_MS, WEATHER_CONNECTIONS } from './suites/weather.js';

interface Round {
  readonly cpuUsPerCall: number;
  readonly weatherP50: number;
  readonly timeP50: number;
  readonly ratio: number;
}

const forecastBody = toolCallBody('get_forecast', { latitude: 41.967, longitude: -71.189 });
const trial = abTrial(4000);
const { rounds, calls, pinned, serverCpu, nodeArgs, builds } = trial;

async function measure(build: AbBuild, nwsUrl: string): Promise<Round> {
  const yaml = `
servers:
  weather:
    module: ${path.join(build.root, 'servers', 'weather')}
    options:
      baseUrl: ${nwsUrl}
      userAgent: mcp-gateway-bench (bench@example.com)
  time:
    module: ${path.join(build.root, 'servers', 'time')}
sessions:
  maxPerRoute: 1000
`;
  const env = { GATEWAY_CONFIG: writeGatewayConfig('ab-weather', yaml) };
  const gateway = await startChild({ name: 'ab-weather', entry: build.entry, mcpPath: '/mcp/weather', env, cpu: serverCpu, nodeArgs });
  try {
    const timeUrl = `${gateway.base}/mcp/time`;
    const sessions = await openSessions(gateway.url, WEATHER_CONNECTIONS);
    const timeSessions = await openSessions(timeUrl, WEATHER_CONNECTIONS);
    await expectResult(gateway.url, sessions[0]!, forecastBody(1));
    const warm = { connections: WEATHER_CONNECTIONS, duration: 3 };
    await runLoad({ ...warm, url: timeUrl, body: timeCallBody, sessions: timeSessions });
    await runLoad({ ...warm, url: gateway.url, body: forecastBody, sessions });
    await sleep(500);
    const before = cpuTimesOf(gateway.pid);
    const weather = await runLoad({ url: gateway.url, connections: WEATHER_CONNECTIONS, amount: calls, body: forecastBody, sessions });
    const after = cpuTimesOf(gateway.pid);
    const time = await runLoad({ url: timeUrl, connections: WEATHER_CONNECTIONS, duration: 3, body: timeCallBody, sessions: timeSessions });
    if (weather.failed > 0 || time.failed > 0)
      throw new Error(`${build.name}: ${weather.failed} weather and ${time.failed} time calls failed`);
    const cpuUs = before && after ? after.own - before.own : Number.NaN;
    return { cpuUsPerCall: cpuUs / weather.ok, weatherP50: weather.p50, timeP50: time.p50, ratio: weather.p50 / time.p50 };
  } finally {
    await gateway.stop();
  }
}

const nws = await startFakeNws({ latencyMs: UPSTREAM_LATENCY_MS });
let results: Map<AbBuild, Round[]>;
try {
  results = await alternatingRounds(
    trial,
    (build) => measure(build, nws.url),
    (round, build, result) =>
      progress(
        `round ${round} ${build.name}: ${result.cpuUsPerCall.toFixed(0)} µs CPU/call, weather p50 ${result.weatherP50.toFixed(2)} ms, ` +
          `time p50 ${result.timeP50.toFixed(2)} ms, ratio ${result.ratio.toFixed(2)}x`,
      ),
  );
} finally {
  await nws.close();
  removeWorkDir();
}

const medians = builds.map((build) => {
  const list = results.get(build)!;
  const pick = (key: keyof Round) => median(list.map((r) => r[key]));
  return { build, cpu: pick('cpuUsPerCall'), weather: pick('weatherP50'), time: pick('timeP50'), ratio: pick('ratio') };
});
console.log(`\nmedians of ${rounds} rounds, ${calls} get_forecast calls each at ${WEATHER_CONNECTIONS} connections (pinned: ${pinned})`);
console.log('| build | CPU µs/call | weather p50 ms | time p50 ms | weather/time |');
console.log('|---|---|---|---|---|');
for (const m of medians) {
  console.log(`| ${m.build.name} | ${m.cpu.toFixed(0)} | ${m.weather.toFixed(2)} | ${m.time.toFixed(2)} | ${m.ratio.toFixed(2)}x |`);
}
const [a, b] = medians;
console.log(`\nCPU per call, this checkout / base: ${(b!.cpu / a!.cpu).toFixed(2)}x`);
