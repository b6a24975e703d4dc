/**
 * What one bridged stdio session costs (issue #14), on the gateway's `command:` route
 * (`isolation: session`: a child per session), on supergateway (`--stateful`: the same) and, as
 * the reference, for an SDK client that spawns the server itself:
 *
 * - memory: `bridgeSessions` sessions held open at once, each after one `tools/call`; each
 *   session's child processes' RSS (VmRSS), and the bridge process's own RSS growth per session
 *   (after a full GC, over a baseline with one session open);
 * - a cold session: from the `initialize` POST of a new session (the bridge spawns its child
 *   then) through `notifications/initialized` to the first `tools/call` answered, on a bridge
 *   already running and warm; for the direct client, from spawning the server to the same answer.
 *   Samples alternate between the targets; each session is closed (DELETE, or the client closed)
 *   and its child gone before the next one starts.
 */
import { startChild, startGateway, sleep, STDIO_ECHO_ENTRY, type Child } from '../lib/child.js';
import { connectDirect, type DirectClient } from '../lib/direct-client.js';
import { median } from '../lib/load.js';
import { expectResult, initializeBody, openSession, POST_HEADERS, sessionHeaders } from '../lib/mcp.js';
import { descendantsOf, rssKiBOf } from '../lib/processes.js';
import type { BenchSettings } from '../lib/settings.js';
import { bridgeYaml, echoCall, echoCallBody, ECHO_MESSAGE, supergatewaySpec } from './bridge.js';

export type SessionTarget = 'gateway' | 'supergateway' | 'direct';
const TARGETS: readonly SessionTarget[] = ['gateway', 'supergateway', 'direct'];

export interface BridgeMemory {
  target: SessionTarget;
  sessions: number;
  /** Processes each session added (its server, and whatever that started: a shell, for supergateway). */
  processesPerSession: number;
  /** RSS of each session's processes, KiB, one entry per session. */
  childKiB: number[];
  /** The bridge process: RSS after a GC with one session open, and its growth per session after that (none for direct). */
  bridge?: { baselineKiB: number; perSessionKiB: number };
}

export interface ColdSession {
  target: SessionTarget;
  /** ms from the initialize request (direct: the spawn) to the first tools/call answer, one per session. */
  samples: number[];
  median: number;
}

export interface BridgeSessionsResult {
  memory: BridgeMemory[];
  cold: ColdSession[];
}

export async function benchBridgeSessions(settings: BenchSettings): Promise<BridgeSessionsResult> {
  const memory: BridgeMemory[] = [];
  for (const target of TARGETS) {
    const reading = target === 'direct' ? await directMemory(settings) : await bridgeMemory(settings, target);
    memory.push(reading);
    settings.progress(
      `bridge memory ${target}: ${reading.sessions} sessions, child RSS median ${(median(reading.childKiB) / 1024).toFixed(1)} MiB` +
        (reading.bridge ? `, bridge +${reading.bridge.perSessionKiB.toFixed(0)} KiB/session` : ''),
    );
  }
  return { memory, cold: await coldSessions(settings) };
}

async function startBridge(settings: BenchSettings, target: Exclude<SessionTarget, 'direct'>, maxProcesses: number): Promise<Child> {
  return target === 'gateway'
    ? startGateway('bridge-sessions', bridgeYaml(maxProcesses), 'echo', { cpu: settings.serverCpu })
    : startChild(supergatewaySpec('bridge-sessions-supergateway', settings.serverCpu, false));
}

/** Opens a session on `url` and makes one `tools/call` in it. */
async function sessionWithCall(url: string): Promise<string> {
  const id = await openSession(url);
  await expectResult(url, id, echoCallBody(1));
  return id;
}

async function bridgeMemory(settings: BenchSettings, target: Exclude<SessionTarget, 'direct'>): Promise<BridgeMemory> {
  const count = settings.bridgeSessions;
  const child = await startBridge(settings, target, count + 2);
  try {
    // One session first, so the session path's code is loaded before the baseline is read.
    await sessionWithCall(child.url);
    await sleep(500);
    await child.collectGarbage();
    const baselineKiB = child.rssKiB();
    const before = new Set(descendantsOf(child.pid));
    for (let i = 0; i < count; i += 5) {
      await Promise.all(Array.from({ length: Math.min(5, count - i) }, () => sessionWithCall(child.url)));
    }
    await sleep(1_000);
    await child.collectGarbage();
    const rssKiB = child.rssKiB();
    const added = descendantsOf(child.pid).filter((pid) => !before.has(pid));
    // Each session's processes: its child and that child's own descendants.
    const direct = added.filter((pid) => !added.some((other) => descendantsOf(other).includes(pid)));
    const childKiB = direct.map((pid) => [pid, ...descendantsOf(pid)].reduce((sum, p) => sum + (rssKiBOf(p) || 0), 0));
    if (direct.length !== count) throw new Error(`${target}: ${count} sessions added ${direct.length} child processes`);
    return {
      target,
      sessions: count,
      processesPerSession: added.length / count,
      childKiB,
      bridge: { baselineKiB, perSessionKiB: (rssKiB - baselineKiB) / count },
    };
  } finally {
    await child.stop();
  }
}

async function directMemory(settings: BenchSettings): Promise<BridgeMemory> {
  const clients: DirectClient[] = [];
  try {
    for (let i = 0; i < settings.bridgeSessions; i++) {
      const client = await connectDirect(STDIO_ECHO_ENTRY, settings.serverCpu);
      clients.push(client);
      await echoCall(client.client);
    }
    await sleep(1_000);
    return { target: 'direct', sessions: clients.length, processesPerSession: 1, childKiB: clients.map((c) => rssKiBOf(c.pid)) };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

async function coldSessions(settings: BenchSettings): Promise<ColdSession[]> {
  const bridges = {} as Record<Exclude<SessionTarget, 'direct'>, Child>;
  const samples: Record<SessionTarget, number[]> = { gateway: [], supergateway: [], direct: [] };
  try {
    bridges.gateway = await startBridge(settings, 'gateway', 4);
    bridges.supergateway = await startBridge(settings, 'supergateway', 4);
    // One unmeasured session each first: the bridges' session paths are warm, as on a serving instance.
    for (let i = -1; i < settings.bridgeColdSessions; i++) {
      for (const target of TARGETS) {
        const ms = target === 'direct' ? await coldDirect(settings) : await coldOverHttp(bridges[target]);
        if (i >= 0) samples[target].push(ms);
      }
    }
  } finally {
    await Promise.all(Object.values(bridges).map((child) => child.stop()));
  }
  const results = TARGETS.map((target) => ({ target, samples: samples[target], median: median(samples[target]) }));
  settings.progress(`bridge cold sessions: ${results.map((r) => `${r.target} ${Math.round(r.median)} ms`).join(', ')}`);
  return results;
}

/** A new session through a bridge, timed to its first answer; then closed, and its child gone. */
async function coldOverHttp(bridge: Child): Promise<number> {
  const started = performance.now();
  const initialize = await fetch(bridge.url, { method: 'POST', headers: POST_HEADERS, body: initializeBody(0) });
  const text = await initialize.text();
  const id = initialize.headers.get('mcp-session-id');
  if (!initialize.ok || !id || !text.includes('"result"'))
    throw new Error(`initialize at ${bridge.url} answered ${initialize.status}: ${text}`);
  const initialized = await fetch(bridge.url, {
    method: 'POST',
    headers: sessionHeaders(id),
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  await initialized.arrayBuffer();
  const answer = await expectResult(bridge.url, id, echoCallBody(1));
  const ms = performance.now() - started;
  if (!answer.includes(ECHO_MESSAGE)) throw new Error(`${bridge.name} answered ${answer}`);
  await (await fetch(bridge.url, { method: 'DELETE', headers: sessionHeaders(id) })).arrayBuffer();
  await until(() => descendantsOf(bridge.pid).length === 0, `${bridge.name}'s session child to exit`);
  return ms;
}

async function coldDirect(settings: BenchSettings): Promise<number> {
  const started = performance.now();
  const direct = await connectDirect(STDIO_ECHO_ENTRY, settings.serverCpu);
  try {
    await echoCall(direct.client);
    return performance.now() - started;
  } finally {
    await direct.close();
    // Gone, or a zombie (no memory) until Node reaps it.
    await until(() => !(rssKiBOf(direct.pid) > 0), 'the direct client child to exit');
  }
}

async function until(done: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
