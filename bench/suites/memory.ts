/**
 * Memory: RSS per idle session (initialize only) on one route at each session count, for the
 * gateway and the minimal SDK server; then the memory of a gateway after many sessions were
 * opened and abandoned (idleTimeout 2s), once they had expired, at half way and at the end, so a
 * leak (growth between the two) can be told from memory the process keeps for reuse (none).
 * RSS is VmRSS from /proc (or ps); readings are taken after a full GC unless said otherwise.
 */
import { MINIMAL_ENTRY, sleep, startChild, startGateway, type Child } from '../lib/child.js';
import { openSessions } from '../lib/mcp.js';
import { activeSessions, issueIds } from '../lib/sessions.js';
import type { BenchSettings } from '../lib/settings.js';
import { mib } from '../report/table.js';
import { TIME_MODULE } from './modules.js';

/** Memory at one moment, in KiB. */
export interface Reading {
  rssKiB: number;
  /** V8 heap in use (after the GC: live objects only). */
  heapUsedKiB: number;
}

export interface SessionMemory extends Reading {
  target: 'gateway' | 'minimal';
  sessions: number;
  /** (rss - baseline rss) / sessions, in KiB. */
  perSessionKiB: number;
  /** (heapUsed - baseline heapUsed) / sessions, in KiB. */
  heapPerSessionKiB: number;
}

export interface AbandonCheckpoint extends Reading {
  /** Sessions opened and abandoned so far. */
  opened: number;
  /** RSS once they had expired, before the forced GC. */
  rssBeforeGcKiB: number;
  /** Sessions the route still held (should be 0). */
  leftActive: number;
}

export interface AbandonResult {
  sessions: number;
  /** Sessions opened and expired before the baseline was read. */
  warmUpSessions: number;
  /** Seconds it took to open them all (10 connections), pauses for the checkpoints excluded. */
  openSeconds: number;
  baseline: Reading;
  /** Highest RSS seen while opening. */
  peakKiB: number;
  checkpoints: AbandonCheckpoint[];
}

export interface MemoryResult {
  baselines: Record<'gateway' | 'minimal', Reading>;
  perSession: SessionMemory[];
  abandon: AbandonResult;
}

const holdYaml = `
servers:
  time:
    module: ${TIME_MODULE}
sessions:
  idleTimeout: 30m
  maxPerRoute: 200000
`;

/** The idle timeout of the abandon run; the gateway sweeps every idleTimeout/4. */
export const ABANDON_IDLE_TIMEOUT_S = 2;
const abandonYaml = `
servers:
  time:
    module: ${TIME_MODULE}
sessions:
  idleTimeout: ${ABANDON_IDLE_TIMEOUT_S}s
  maxPerRoute: 200000
`;

export async function benchMemory(settings: BenchSettings): Promise<MemoryResult> {
  const cpu = settings.serverCpu;
  const perSession: SessionMemory[] = [];
  const baselines = {} as Record<'gateway' | 'minimal', Reading>;
  for (const target of ['gateway', 'minimal'] as const) {
    const child =
      target === 'gateway'
        ? await startGateway('memory', holdYaml, 'time', { cpu })
        : await startChild({ name: 'memory-minimal', entry: MINIMAL_ENTRY, mcpPath: '/mcp', cpu });
    try {
      const base = await baseline(child);
      baselines[target] = base;
      let open = 1;
      for (const count of settings.memorySessions) {
        await issueIds(child.url, count - open);
        open = count;
        const now = await read(child);
        perSession.push({
          target,
          sessions: count,
          ...now,
          perSessionKiB: (now.rssKiB - base.rssKiB) / count,
          heapPerSessionKiB: (now.heapUsedKiB - base.heapUsedKiB) / count,
        });
        settings.progress(
          `${target}: ${count} sessions, RSS ${mib(now.rssKiB)} MiB, ${((now.rssKiB - base.rssKiB) / count).toFixed(1)} KiB/session`,
        );
      }
    } finally {
      await child.stop();
    }
  }
  return { baselines, perSession, abandon: await abandonSessions(settings) };
}

/** Memory after start and one session, after a GC: what the other readings are compared with. */
async function baseline(child: Child): Promise<Reading> {
  await openSessions(child.url, 1);
  await sleep(500);
  return read(child);
}

async function read(child: Child): Promise<Reading> {
  const usage = await child.collectGarbage();
  return { rssKiB: child.rssKiB(), heapUsedKiB: usage.heapUsed / 1024 };
}

async function abandonSessions(settings: BenchSettings): Promise<AbandonResult> {
  const child = await startGateway('abandon', abandonYaml, 'time', { cpu: settings.serverCpu });
  try {
    // The baseline is a warm gateway: the status page (read below to see sessions expire) has
    // loaded its client code, and a first batch of sessions has been opened and has expired, so
    // V8's compiled code for the session path is in it. What stays above it after 100,000 more
    // sessions is what sessions leave behind.
    await issueIds(child.url, settings.abandonWarmUp);
    for (let i = 0; i < 120 && (await activeSessions(child)) > 0; i++) await sleep(250);
    const base = await baseline(child);
    let peakKiB = base.rssKiB;
    let openSeconds = 0;
    const checkpoints: AbandonCheckpoint[] = [];
    const total = settings.abandonSessions;
    const half = Math.round(total / 2);
    settings.progress(`opening and abandoning ${total} sessions (idleTimeout ${ABANDON_IDLE_TIMEOUT_S}s)`);
    let opened = 0;
    for (const target of [half, total]) {
      const sampler = setInterval(() => (peakKiB = Math.max(peakKiB, child.rssKiB())), 250);
      const started = performance.now();
      try {
        // In batches, so the ids this process collects stay few.
        while (opened < target) {
          const batch = Math.min(10_000, target - opened);
          await issueIds(child.url, batch);
          opened += batch;
        }
      } finally {
        clearInterval(sampler);
        openSeconds += (performance.now() - started) / 1000;
      }
      // Expiry plus the sweep interval, with room; then whatever the process gives back by itself.
      const deadline = performance.now() + 30_000;
      while ((await activeSessions(child)) > 0 && performance.now() < deadline) await sleep(250);
      await sleep(settings.settle * 1000);
      const rssBeforeGcKiB = child.rssKiB();
      const now = await read(child);
      const leftActive = await activeSessions(child);
      checkpoints.push({ opened, rssBeforeGcKiB, ...now, leftActive });
      settings.progress(
        `abandon: ${opened} opened; baseline ${mib(base.rssKiB)} MiB, peak ${mib(peakKiB)}, after expiry ${mib(rssBeforeGcKiB)}, after GC ${mib(now.rssKiB)} (heap ${mib(now.heapUsedKiB)} vs ${mib(base.heapUsedKiB)}; ${leftActive} left)`,
      );
    }
    return { sessions: total, warmUpSessions: settings.abandonWarmUp, openSeconds, baseline: base, peakKiB, checkpoints };
  } finally {
    await child.stop();
  }
}
