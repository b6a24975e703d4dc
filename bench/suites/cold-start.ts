/**
 * Cold start: from `spawn` to the first `tools/list` answered (initialize, then tools/list, retried
 * until the port accepts), for the gateway with the project's own gateway.yaml (weather and time),
 * the minimal SDK server and, as the floor, the raw ceiling. Spawns alternate between the servers.
 */
import { CEILING_ENTRY, GATEWAY_ENTRY, MINIMAL_ENTRY, spawnChild, sleep, type ChildSpec } from '../lib/child.js';
import { median } from '../lib/load.js';
import { POST_HEADERS, initializeBody, sessionHeaders, toolsListBody } from '../lib/mcp.js';
import type { BenchSettings } from '../lib/settings.js';

export type ColdStartTarget = 'gateway' | 'minimal' | 'ceiling';

export interface ColdStartResult {
  target: ColdStartTarget;
  /** ms from spawn to the tools/list answer, one per spawn. */
  samples: number[];
  median: number;
}

export async function benchColdStart(settings: BenchSettings): Promise<ColdStartResult[]> {
  const cpu = settings.serverCpu;
  const specs: Record<ColdStartTarget, ChildSpec> = {
    // No GATEWAY_CONFIG: the project's gateway.yaml, as `npm start` runs it.
    gateway: { name: 'cold-gateway', entry: GATEWAY_ENTRY, mcpPath: '/mcp/time', cpu },
    minimal: { name: 'cold-minimal', entry: MINIMAL_ENTRY, mcpPath: '/mcp', cpu },
    ceiling: { name: 'cold-ceiling', entry: CEILING_ENTRY, mcpPath: '/mcp', cpu },
  };
  const samples: Record<ColdStartTarget, number[]> = { gateway: [], minimal: [], ceiling: [] };
  // One unmeasured spawn each first: the first start after a build also warms the file cache.
  for (let i = -1; i < settings.coldStarts; i++) {
    for (const target of Object.keys(specs) as ColdStartTarget[]) {
      const child = await spawnChild(specs[target]);
      try {
        await firstToolsList(child.url);
        const ms = performance.now() - child.spawnedAt;
        if (i >= 0) samples[target].push(ms);
      } finally {
        await child.stop();
      }
    }
  }
  const results = (Object.keys(samples) as ColdStartTarget[]).map((target) => ({
    target,
    samples: samples[target],
    median: median(samples[target]),
  }));
  settings.progress(`cold start medians: ${results.map((r) => `${r.target} ${Math.round(r.median)} ms`).join(', ')}`);
  return results;
}

/** Initializes (retrying while the port refuses) and lists tools; resolves when tools/list is answered. */
async function firstToolsList(url: string): Promise<void> {
  const deadline = performance.now() + 20_000;
  for (;;) {
    let response: Response;
    try {
      response = await fetch(url, { method: 'POST', headers: POST_HEADERS, body: initializeBody(1) });
    } catch (error) {
      if (performance.now() > deadline) throw error;
      await sleep(2);
      continue;
    }
    await response.arrayBuffer();
    const sessionId = response.headers.get('mcp-session-id') ?? undefined;
    const list = await fetch(url, { method: 'POST', headers: sessionHeaders(sessionId), body: toolsListBody(2) });
    const text = await list.text();
    if (!list.ok || !text.includes('"result"')) throw new Error(`tools/list at ${url} answered ${list.status}: ${text.slice(0, 300)}`);
    return;
  }
}
