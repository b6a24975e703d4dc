/**
 * A same-run A/B trial of a `url:` route's `tools/call`: this checkout's gateway against another
 * commit's (`--base=<ref>`, default `main`, built from git as the bench builds the previous
 * release), in alternating rounds on this machine. One SDK v2 reference upstream (the time server,
 * bench/reference/minimal-v2-server.ts) serves every round; each round starts a fresh gateway of
 * each build with a `url:` route to it, as bench/suites/bridge.ts measures it. Prints per round and
 * as medians, for 2025 sessions (`remote`) and 2026-07-28 requests (`remote-modern`) at one
 * connection: the gateway's CPU per call (from /proc), the route's p50, and that over the p50 of
 * the same requests sent to the upstream directly right after.
 *
 * Usage: `npm run build && tsc -p bench/tsconfig.json && node dist/bench/ab-remote.js
 * [--base=main] [--rounds=5] [--calls=3000] [--cpu-prof]` (`--cpu-prof`: each gateway writes a CPU
 * profile to dist/bench-profiles/).
 */
import { abTrial, alternatingRounds, progress, type AbBuild } from './lib/ab-trial.js';
import { MINIMAL_V2_ENTRY, removeWorkDir, sleep, startChild, writeGatewayConfig } from './lib/child.js';
import { median, runLoad, type LoadOptions } from './lib/load.js';
import { expectResult, modernHeaders, modernTimeCallBody, openSessions, timeCallBody } from './lib/mcp.js';
import { cpuTimesOf } from './lib/processes.js';

/** One era's numbers of one round. */
interface EraRound {
  readonly cpuUsPerCall: number;
  readonly p50: number;
  readonly upstreamP50: number;
  readonly ratio: number;
}

type Era = 'remote' | 'remote-modern';
const ERAS: readonly Era[] = ['remote', 'remote-modern'];

const trial = abTrial(3000);
const { rounds, calls, pinned, serverCpu, nodeArgs, builds } = trial;

/** A fresh object each time: autocannon writes the content-length of its own bodies into the headers it is given. */
const modernTime = () => modernHeaders('tools/call', 'get_current_time');

async function measure(build: AbBuild, upstreamUrl: string): Promise<Record<Era, EraRound>> {
  const yaml = `
servers:
  remote:
    url: ${JSON.stringify(upstreamUrl)}
sessions:
  maxPerRoute: 1000
`;
  const env = { GATEWAY_CONFIG: writeGatewayConfig('ab-remote', yaml) };
  const gateway = await startChild({ name: 'ab-remote', entry: build.entry, mcpPath: '/mcp/remote', env, cpu: serverCpu, nodeArgs });
  try {
    const [session] = await openSessions(gateway.url, 1);
    const loads: Record<Era, Omit<LoadOptions, 'connections'>> = {
      remote: { url: gateway.url, body: timeCallBody, sessions: [session!] },
      'remote-modern': { url: gateway.url, body: modernTimeCallBody, headers: modernTime() },
    };
    await expectResult(gateway.url, session, timeCallBody(1));
    await expectResult(gateway.url, undefined, modernTimeCallBody(1), modernTime());
    const direct = { url: upstreamUrl, connections: 1, amount: calls, body: modernTimeCallBody, headers: modernTime() };
    const result = {} as Record<Era, EraRound>;
    for (const era of ERAS) {
      await runLoad({ ...loads[era], connections: 1, duration: 2 });
      await sleep(300);
      const before = cpuTimesOf(gateway.pid);
      const route = await runLoad({ ...loads[era], connections: 1, amount: calls });
      const after = cpuTimesOf(gateway.pid);
      const upstream = await runLoad(direct);
      if (route.failed > 0 || upstream.failed > 0)
        throw new Error(`${build.name} ${era}: ${route.failed} route and ${upstream.failed} direct calls failed`);
      const cpuUs = before && after ? after.own - before.own : Number.NaN;
      result[era] = { cpuUsPerCall: cpuUs / route.ok, p50: route.p50, upstreamP50: upstream.p50, ratio: route.p50 / upstream.p50 };
    }
    return result;
  } finally {
    await gateway.stop();
  }
}

const upstream = await startChild({ name: 'ab-remote-upstream', entry: MINIMAL_V2_ENTRY, mcpPath: '/mcp', cpu: serverCpu });
let results: Map<AbBuild, Array<Record<Era, EraRound>>>;
try {
  // The upstream's first few thousand requests are slower (JIT): not in a round.
  await runLoad({ url: upstream.url, connections: 1, duration: 3, body: modernTimeCallBody, headers: modernTime() });
  results = await alternatingRounds(
    trial,
    (build) => measure(build, upstream.url),
    (round, build, result) => {
      for (const era of ERAS) {
        const r = result[era];
        progress(
          `round ${round} ${build.name} ${era}: ${r.cpuUsPerCall.toFixed(0)} µs CPU/call, p50 ${r.p50.toFixed(3)} ms, ` +
            `upstream p50 ${r.upstreamP50.toFixed(3)} ms, ratio ${r.ratio.toFixed(2)}x`,
        );
      }
    },
  );
} finally {
  await upstream.stop();
  removeWorkDir();
}

console.log(`\nmedians of ${rounds} rounds, ${calls} tools/call each at 1 connection (pinned: ${pinned})`);
console.log('| build | era | gateway CPU µs/call | route p50 ms | upstream p50 ms | route/upstream |');
console.log('|---|---|---|---|---|---|');
const cpuOf = new Map<string, number>();
for (const build of builds) {
  for (const era of ERAS) {
    const list = results.get(build)!.map((r) => r[era]);
    const pick = (key: keyof EraRound) => median(list.map((r) => r[key]));
    cpuOf.set(`${build.name} ${era}`, pick('cpuUsPerCall'));
    console.log(
      `| ${build.name} | ${era} | ${pick('cpuUsPerCall').toFixed(0)} | ${pick('p50').toFixed(3)} | ${pick('upstreamP50').toFixed(3)} | ${pick('ratio').toFixed(2)}x |`,
    );
  }
}
for (const era of ERAS) {
  const [a, b] = builds.map((build) => cpuOf.get(`${build.name} ${era}`)!);
  console.log(`${era}: CPU per call, this checkout / base: ${(b! / a!).toFixed(2)}x`);
}
