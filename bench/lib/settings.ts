import type { BridgeTarget } from '../suites/bridge.js';
import { TARGETS, type Target } from '../suites/throughput.js';
import { PREVIOUS_RELEASE } from './previous-release.js';

/** What one benchmark run does, by mode: `--quick` (under a minute) or the full run. */
export interface BenchSettings {
  readonly quick: boolean;
  /** CPU the servers under test are pinned to; the benchmark process takes another. */
  readonly serverCpu: number | undefined;
  /** Seconds per throughput measurement. */
  readonly duration: number;
  /** Seconds per weather measurement (each is one cell, so longer than a throughput one). */
  readonly weatherDuration: number;
  /** Seconds to wait after the last session expired before reading memory. */
  readonly settle: number;
  /** Measurements per cell; the best (highest requests/s) is kept, as noise only slows things down. */
  readonly rounds: number;
  readonly concurrency: readonly number[];
  readonly methods: ReadonlyArray<'tools/call' | 'tools/list'>;
  /** The servers measured for throughput, in the order of the first round. */
  readonly targets: readonly Target[];
  /** Seconds of load before the first measurement of each server, for the JIT. */
  readonly warmup: number;
  /** Sessions resumed one at a time (latency), and at 10 connections (rate). */
  readonly resumeSequential: number;
  readonly resumeRate: number;
  /** Spawns per server for the cold start median. */
  readonly coldStarts: number;
  /** Session counts at which RSS per session is read. */
  readonly memorySessions: readonly number[];
  /** Sessions opened and abandoned in the expiry test. */
  readonly abandonSessions: number;
  /** Sessions opened and left to expire before that test's baseline is read (a warm gateway). */
  readonly abandonWarmUp: number;
  /** Connections (each a session with its own stdio child, or a direct client) of the bridge measurements. */
  readonly bridgeConcurrency: readonly number[];
  /** The bridge measurements' targets, in the order of the first round. */
  readonly bridgeTargets: readonly BridgeTarget[];
  /**
   * Seconds of load (at the most connections) before the first bridge measurement of each target:
   * a bridged request runs more code than a module's, and its p50 needs a few thousand requests
   * of JIT before it settles.
   */
  readonly bridgeWarmup: number;
  /** Bridged sessions held open at once for the memory reading (each one a child process). */
  readonly bridgeSessions: number;
  /** Cold sessions (spawn to first answer) per target, for the median. */
  readonly bridgeColdSessions: number;
  /** The commit `gateway-previous` is built from (bench/lib/previous-release.ts). */
  readonly previousRelease: string;
  /** Log progress to stderr. */
  readonly progress: (message: string) => void;
}

/** The bridge measurements' targets of every run, in the order of the first round. */
const BRIDGE_TARGETS: readonly BridgeTarget[] = [
  'gateway',
  'gateway-module',
  'gateway-shared',
  'supergateway',
  'direct',
  'remote',
  'remote-modern',
  'upstream',
  'upstream-proxy',
];

export function benchSettings(quick: boolean, serverCpu: number | undefined, previousRelease = PREVIOUS_RELEASE): BenchSettings {
  const progress = (message: string) => process.stderr.write(`[bench] ${message}\n`);
  return quick
    ? {
        quick,
        serverCpu,
        duration: 1,
        weatherDuration: 1.5,
        settle: 1,
        rounds: 1,
        concurrency: [1, 10, 50],
        methods: ['tools/call'],
        targets: [
          'gateway',
          'gateway-stateless',
          'gateway-otel',
          'minimal',
          'minimal-node',
          'minimal-node-otel',
          'minimal-v2',
          'gateway-modern',
          'ceiling',
        ],
        warmup: 0.5,
        resumeSequential: 100,
        resumeRate: 300,
        coldStarts: 2,
        memorySessions: [500],
        abandonSessions: 1_000,
        abandonWarmUp: 500,
        bridgeConcurrency: [1, 10],
        // And SDK clients calling the remote route's upstream directly.
        bridgeTargets: [...BRIDGE_TARGETS, 'upstream-client'],
        bridgeWarmup: 1.5,
        bridgeSessions: 5,
        bridgeColdSessions: 3,
        previousRelease,
        progress,
      }
    : {
        quick,
        serverCpu,
        duration: 2,
        weatherDuration: 6,
        settle: 3,
        rounds: 3,
        concurrency: [1, 10, 50],
        methods: ['tools/call', 'tools/list'],
        targets: [...TARGETS],
        warmup: 2,
        resumeSequential: 300,
        resumeRate: 5_000,
        coldStarts: 5,
        memorySessions: [1_000, 10_000],
        abandonSessions: 100_000,
        abandonWarmUp: 2_000,
        bridgeConcurrency: [1, 10],
        // And supergateway at its default log level (it logs every message both ways).
        bridgeTargets: [...BRIDGE_TARGETS, 'supergateway-logged'],
        bridgeWarmup: 3,
        bridgeSessions: 40,
        bridgeColdSessions: 10,
        previousRelease,
        progress,
      };
}
