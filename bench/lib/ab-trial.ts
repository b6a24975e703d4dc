/**
 * What the same-run A/B trials (bench/ab-weather.ts, bench/ab-remote.ts) share: their options,
 * this process pinned to one CPU and the servers to the other, the base commit built from git
 * (as the previous release is), and rounds in which the two builds take turns.
 *
 * Options: `--base=<ref>` (default `main`), `--rounds=N` (default 5), `--calls=N` (the trial's
 * default), `--cpu-prof` (each gateway writes its CPU profile to dist/bench-profiles/).
 */
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { GATEWAY_ENTRY, PROJECT_ROOT, canPin, killChildren, pinSelf } from './child.js';
import { buildPrevious } from './previous-release.js';

/** One side of a trial: its gateway's entry, and its checkout (for its own server modules). */
export interface AbBuild {
  readonly name: string;
  readonly entry: string;
  readonly root: string;
}

export interface AbTrial {
  readonly rounds: number;
  readonly calls: number;
  readonly pinned: boolean;
  /** The CPU the servers are pinned to, when this process is pinned to the other. */
  readonly serverCpu: number | undefined;
  /** Node flags for each gateway (`--cpu-prof`). */
  readonly nodeArgs: readonly string[];
  /** The base, then this checkout. */
  readonly builds: readonly AbBuild[];
}

export const progress = (message: string): void => void process.stderr.write(`[ab] ${message}\n`);

/** Reads the options and builds the base; children are killed when this process exits. */
export function abTrial(defaultCalls: number): AbTrial {
  const { values } = parseArgs({
    options: {
      base: { type: 'string', default: 'main' },
      rounds: { type: 'string', default: '5' },
      calls: { type: 'string', default: String(defaultCalls) },
      'cpu-prof': { type: 'boolean', default: false },
    },
  });
  const pinned = os.cpus().length >= 2 && canPin && pinSelf(1);
  const nodeArgs: string[] = [];
  if (values['cpu-prof']) {
    const dir = path.join(PROJECT_ROOT, 'dist', 'bench-profiles');
    mkdirSync(dir, { recursive: true });
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${dir}`);
  }
  process.on('exit', killChildren);
  const base = buildPrevious(values.base);
  if ('skipped' in base) throw new Error(base.skipped);
  return {
    rounds: Number(values.rounds),
    calls: Number(values.calls),
    pinned,
    serverCpu: pinned ? 0 : undefined,
    nodeArgs,
    builds: [
      { name: `base ${values.base} (${base.commit.slice(0, 7)})`, entry: base.entry, root: path.dirname(path.dirname(base.timeModule)) },
      { name: 'this checkout', entry: GATEWAY_ENTRY, root: PROJECT_ROOT },
    ],
  };
}

/** Measures each build once a round, in turns; `told` hears each result as it comes. */
export async function alternatingRounds<R>(
  trial: AbTrial,
  measure: (build: AbBuild) => Promise<R>,
  told: (round: number, build: AbBuild, result: R) => void,
): Promise<Map<AbBuild, R[]>> {
  const results = new Map<AbBuild, R[]>(trial.builds.map((build) => [build, []]));
  for (let round = 0; round < trial.rounds; round++) {
    // Alternating which goes first, so neither always has the machine's first (or last) minute.
    const order = round % 2 === 0 ? trial.builds : [...trial.builds].reverse();
    for (const build of order) {
      const result = await measure(build);
      results.get(build)!.push(result);
      told(round + 1, build, result);
    }
  }
  return results;
}
