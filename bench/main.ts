/**
 * `npm run bench`: the gateway measured side by side with references on this machine, in one run.
 * Prints the tables; a full run also writes docs/benchmarks.md and docs/benchmarks.svg.
 *
 * Flags: `--quick` (about two minutes, prints only), `--only=<section>,…` (throughput, weather,
 * resume, cold-start, memory, bridge, bridge-sessions), `--targets=<target>,…` (the throughput
 * servers to measure, e.g. `gateway-modern,minimal-v2` for the modern-era table alone), `--write`
 * (write the docs from a quick or partial run too), `--cpu-prof` (gateway children write CPU
 * profiles to dist/bench-profiles/), `--previous=<commit>` (the previous release the gateway with
 * telemetry off is compared with; default bench/lib/previous-release.ts `PREVIOUS_RELEASE`).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { canPin, killChildren, PROJECT_ROOT, pinSelf, removeWorkDir, setGatewayNodeArgs } from './lib/child.js';
import { runInfo } from './lib/environment.js';
import { benchSettings } from './lib/settings.js';
import { renderDocument, renderTables } from './report/markdown.js';
import type { BenchResults } from './report/results.js';
import { renderSvg } from './report/svg.js';
import { benchBridge } from './suites/bridge.js';
import { benchBridgeSessions } from './suites/bridge-sessions.js';
import { benchColdStart } from './suites/cold-start.js';
import { benchMemory } from './suites/memory.js';
import { benchResume } from './suites/resume.js';
import { benchThroughput, TARGETS, type Target } from './suites/throughput.js';
import { benchWeather } from './suites/weather.js';

const SECTIONS = ['throughput', 'weather', 'resume', 'cold-start', 'memory', 'bridge', 'bridge-sessions'] as const;
type Section = (typeof SECTIONS)[number];

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    targets: { type: 'string' },
    write: { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    previous: { type: 'string' },
  },
});
const only = values.only?.split(',').map((s) => s.trim()) ?? [...SECTIONS];
const unknown = only.filter((s) => !SECTIONS.includes(s as Section));
if (unknown.length > 0) {
  process.stderr.write(`unknown section(s) ${unknown.join(', ')}; sections: ${SECTIONS.join(', ')}\n`);
  process.exit(2);
}
const run = (section: Section) => only.includes(section);
const targets = values.targets?.split(',').map((s) => s.trim());
const unknownTargets = targets?.filter((t) => !TARGETS.includes(t as Target)) ?? [];
if (unknownTargets.length > 0) {
  process.stderr.write(`unknown target(s) ${unknownTargets.join(', ')}; targets: ${TARGETS.join(', ')}\n`);
  process.exit(2);
}

// Servers on CPU 0, this process (the load generator, the fake NWS) on CPU 1.
const pinned = os.cpus().length >= 2 && canPin && pinSelf(1);
const defaults = benchSettings(values.quick, pinned ? 0 : undefined, values.previous);
const settings = targets ? { ...defaults, targets: targets as Target[] } : defaults;
if (values['cpu-prof']) {
  const dir = path.join(PROJECT_ROOT, 'dist', 'bench-profiles');
  mkdirSync(dir, { recursive: true });
  setGatewayNodeArgs(['--cpu-prof', `--cpu-prof-dir=${dir}`]);
  settings.progress(`gateway CPU profiles go to ${dir}`);
}

const args = process.argv.slice(2);
const info = runInfo(
  `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`,
  pinned
    ? 'servers under test pinned to CPU 0, load generator and fake NWS to CPU 1 (taskset)'
    : 'not pinned (no taskset or a single CPU): servers and load generator share the CPUs',
);
const results: BenchResults = { info };
const started = performance.now();

// Stopped early (Ctrl-C, a kill, a crash): no server under test outlives the run.
process.on('exit', killChildren);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\n${signal}: stopping the servers under test\n`);
    removeWorkDir();
    process.exit(1);
  });
}

try {
  if (run('throughput')) results.throughput = await benchThroughput(settings);
  if (results.throughput?.some((c) => c.target === 'gateway-previous')) results.previousRelease = settings.previousRelease;
  if (run('weather')) results.weather = await benchWeather(settings);
  if (run('resume')) results.resume = await benchResume(settings);
  if (run('cold-start')) results.coldStart = await benchColdStart(settings);
  if (run('memory')) results.memory = await benchMemory(settings);
  if (run('bridge')) results.bridge = await benchBridge(settings);
  if (run('bridge-sessions')) results.bridgeSessions = await benchBridgeSessions(settings);
} finally {
  removeWorkDir();
}
info.seconds = (performance.now() - started) / 1000;
info.loadEnd = os.loadavg()[0];

process.stdout.write(`${renderTables(results)}\n`);
const full = !values.quick && only.length === SECTIONS.length && !targets;
if (full || values.write) {
  const docs = path.join(PROJECT_ROOT, 'docs');
  mkdirSync(docs, { recursive: true });
  const notes = readFileSync(path.join(PROJECT_ROOT, 'bench', 'report', 'notes.md'), 'utf8');
  writeFileSync(path.join(docs, 'benchmarks.md'), renderDocument(results, notes));
  if (results.throughput) writeFileSync(path.join(docs, 'benchmarks.svg'), renderSvg(results));
  process.stdout.write(`\nwrote docs/benchmarks.md${results.throughput ? ' and docs/benchmarks.svg' : ''}\n`);
} else {
  process.stdout.write('\n(quick or partial run: docs/benchmarks.md not written; add --write to write it)\n');
}
// autocannon and undici keep-alive sockets would hold the loop open for a while.
process.exit(0);
