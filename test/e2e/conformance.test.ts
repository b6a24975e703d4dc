/**
 * The official MCP conformance suite (`@modelcontextprotocol/conformance`, server scenarios) run
 * through the real gateway process: the gateway must be transparent, so a server behind it passes
 * what it passes on its own. Routes:
 * - /mcp/conformance: the conformance fixture module (test/fixtures/servers/conformance), stateful,
 *   every scenario of the suite (active and pending), expected failures in
 *   test/fixtures/conformance-expected-failures.yaml;
 * - /mcp/conformance-stateless: the same module with `sessions: stateless`, expected failures in
 *   test/fixtures/conformance-expected-failures-stateless.yaml;
 * - /mcp/weather (on the fake NWS) and /mcp/time: the scenarios any server passes.
 * The suite never DELETEs its sessions, so this file also checks the session bounds and expiry.
 * The suite needs Node 22 (see test/helpers/node22.ts). The result table in README.md is
 * this run's: `UPDATE_CONFORMANCE_DOCS=1 node --test dist/test/e2e/conformance.test.js` rewrites it.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { describeFailures, GENERIC_SCENARIOS, listScenarios, runConformance, type ConformanceRun } from '../helpers/conformance.js';
import { startFakeNws, type FakeNws } from '../helpers/fake-nws.js';
import { WATCHED_URI } from '../fixtures/servers/conformance/resources.js';
import { connectClient, fixtureModule, shippedModule, startGatewayProcess, textOf, type GatewayProcess } from '../helpers/gateway.js';
import { ensureNode22 } from '../helpers/node22.js';
import { fixturePath, PROJECT_ROOT } from '../helpers/project.js';

const MAX_SESSIONS_PER_ROUTE = 20;
const IDLE_TIMEOUT_SECONDS = 2;
/** main.ts sweeps idle sessions every idleTimeout / 4 (at least 250 ms, at most 30 s). */
const SWEEP_WAIT_MS = 15_000;

const ROUTES = ['conformance', 'conformance-stateless', 'weather', 'time'] as const;
type RouteName = (typeof ROUTES)[number];
const STATEFUL_ROUTES: RouteName[] = ['conformance', 'weather', 'time'];

const EXPECTED_FAILURES: Partial<Record<RouteName, string>> = {
  conformance: fixturePath('conformance-expected-failures.yaml'),
  'conformance-stateless': fixturePath('conformance-expected-failures-stateless.yaml'),
};

const DOCS = path.join(PROJECT_ROOT, 'README.md');
const TABLE_START = '<!-- conformance-table:start -->';
const TABLE_END = '<!-- conformance-table:end -->';

const gatewayYaml = `
servers:
  conformance:
    module: ${fixtureModule('conformance')}
  conformance-stateless:
    module: ${fixtureModule('conformance')}
    sessions: stateless
  weather:
    module: ${shippedModule('weather')}
    options:
      userAgent: "mcp-gateway conformance test (test@example.com)"
  time:
    module: ${shippedModule('time')}
sessions:
  idleTimeout: ${IDLE_TIMEOUT_SECONDS}s
  maxPerRoute: ${MAX_SESSIONS_PER_ROUTE}
`;

interface RouteStatus {
  name: string;
  sessions: { active: number; max: number } | null;
}

describe('MCP conformance suite through the gateway', () => {
  let node: string;
  let nws: FakeNws;
  let gw: GatewayProcess;
  /** Every server scenario of the suite, and those of its pending suite. */
  let scenarios: { all: string[]; pending: string[] };
  const runs = new Map<RouteName, ConformanceRun>();
  /** The most sessions status.json reported per route while the suite ran. */
  const peakSessions = new Map<string, number>();
  let sampling: Promise<void> | undefined;
  let samplingDone = false;

  const url = (route: RouteName) => `${gw.url}/mcp/${route}`;
  const routeStatus = async (): Promise<RouteStatus[]> =>
    ((await (await fetch(`${gw.url}/status.json`)).json()) as { routes: RouteStatus[] }).routes;

  before(async () => {
    node = await ensureNode22();
    scenarios = { all: await listScenarios(node), pending: [] };
    nws = await startFakeNws();
    gw = await startGatewayProcess(gatewayYaml, { NWS_BASE_URL: nws.url, LOG_LEVEL: 'debug' });
    sampling = (async () => {
      while (!samplingDone) {
        for (const route of await routeStatus()) {
          if (route.sessions) peakSessions.set(route.name, Math.max(peakSessions.get(route.name) ?? 0, route.sessions.active));
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
  });

  after(async () => {
    samplingDone = true;
    await sampling?.catch(() => undefined);
    await gw?.stop();
    await nws?.close();
  });

  it('passes every scenario on the stateful fixture route, but the expected failures', async () => {
    const run = await runConformance({
      node,
      url: url('conformance'),
      run: { suites: ['active', 'pending'] },
      expectedFailures: EXPECTED_FAILURES.conformance,
    });
    runs.set('conformance', run);
    scenarios.pending = run.results.filter((r) => r.suite === 'pending').map((r) => r.scenario);
    assert.deepEqual(run.results.map((r) => r.scenario).sort(), [...scenarios.all].sort(), 'every scenario of the suite ran, once');
    const activeFailures = run.results.filter((r) => !r.passed && r.suite === 'active');
    assert.equal(activeFailures.map(describeFailures).join('\n'), '', 'every scenario of the active suite passes');
    assert.equal(run.exitCode, 0, `the suite reports failures other than the expected ones:\n${run.output}`);
  });

  it('passes what applies to stateless servers on the stateless fixture route', async () => {
    const run = await runConformance({
      node,
      url: url('conformance-stateless'),
      run: { suites: ['active', 'pending'] },
      expectedFailures: EXPECTED_FAILURES['conformance-stateless'],
    });
    runs.set('conformance-stateless', run);
    assert.deepEqual(run.results.map((r) => r.scenario).sort(), [...scenarios.all].sort(), 'every scenario of the suite ran, once');
    assert.equal(run.exitCode, 0, `the suite reports failures other than the expected ones:\n${run.output}`);
  });

  for (const route of ['weather', 'time'] as const) {
    it(`passes the generic scenarios on /mcp/${route}`, async () => {
      const run = await runConformance({ node, url: url(route), run: { scenarios: GENERIC_SCENARIOS } });
      runs.set(route, run);
      assert.deepEqual(run.results.map((r) => r.scenario).sort(), [...GENERIC_SCENARIOS].sort());
      assert.equal(
        run.results
          .filter((r) => !r.passed)
          .map(describeFailures)
          .join('\n'),
        '',
        run.output,
      );
    });
  }

  it('delivers resources/updated to a subscriber, on its GET stream (beyond what the suite checks)', async () => {
    const { client } = await connectClient(url('conformance'));
    try {
      const updated = new Promise<string>((resolve) =>
        client.setNotificationHandler('notifications/resources/updated', (n) => resolve(n.params.uri)),
      );
      await client.subscribeResource({ uri: WATCHED_URI });
      const result = await client.callTool({ name: 'test_touch_watched_resource', arguments: { text: 'changed' } });
      assert.equal(textOf(result), 'updated; subscribers notified');
      assert.equal(await withTimeout(updated, 5_000, 'notifications/resources/updated'), WATCHED_URI);
      const read = await client.readResource({ uri: WATCHED_URI });
      assert.equal((read.contents[0] as { text?: string }).text, 'changed');
    } finally {
      await client.close();
    }
  });

  it(`never holds more than sessions.maxPerRoute (${MAX_SESSIONS_PER_ROUTE}) sessions on a route`, () => {
    for (const route of STATEFUL_ROUTES) {
      const peak = peakSessions.get(route) ?? 0;
      assert.ok(peak > 0, `status.json reported sessions on /mcp/${route} while the suite ran`);
      assert.ok(peak <= MAX_SESSIONS_PER_ROUTE, `/mcp/${route} held ${peak} sessions`);
    }
    // The fixture route opened more sessions than the cap: eviction was exercised.
    assert.ok(createdSessions(gw, 'conformance') > MAX_SESSIONS_PER_ROUTE, 'the suite opened more sessions than the cap');
  });

  it(
    'closes the sessions the suite left open once they are idle past sessions.idleTimeout',
    { timeout: SWEEP_WAIT_MS + 15_000 },
    async () => {
      samplingDone = true;
      await sampling;
      await until(
        async () => (await routeStatus()).every((r) => !r.sessions || r.sessions.active === 0),
        10_000,
        'status.json reports no active session',
      );
      // Not just hidden from the count: every session that was created has ended (server closed).
      await until(
        async () => STATEFUL_ROUTES.every((route) => endedSessions(gw, route) >= createdSessions(gw, route)),
        SWEEP_WAIT_MS,
        `every session ended: ${STATEFUL_ROUTES.map((r) => `${r} ${endedSessions(gw, r)}/${createdSessions(gw, r)}`).join(', ')}`,
      );
    },
  );

  it('matches the result table in README.md', () => {
    const table = resultTable(scenarios, runs);
    const docs = readFileSync(DOCS, 'utf8');
    const start = docs.indexOf(TABLE_START);
    const end = docs.indexOf(TABLE_END);
    assert.ok(start >= 0 && end > start, `${DOCS} has the ${TABLE_START} … ${TABLE_END} markers`);
    const updated = `${docs.slice(0, start + TABLE_START.length)}\n${table}${docs.slice(end)}`;
    if (process.env.UPDATE_CONFORMANCE_DOCS === '1') writeFileSync(DOCS, updated);
    else
      assert.equal(docs, updated, 'README.md is out of date: run UPDATE_CONFORMANCE_DOCS=1 node --test dist/test/e2e/conformance.test.js');
  });
});

/** Sessions a route created: initialize requests it answered with 200. */
function createdSessions(gw: GatewayProcess, route: string): number {
  return logLines(gw).filter(
    (l) => l.msg === 'request' && l.route === route && l.rpc === 'initialize' && (l.http as { status?: number })?.status === 200,
  ).length;
}

/** Sessions that ended on a route, for any reason (expired, evicted, closed), their servers closed. */
function endedSessions(gw: GatewayProcess, route: string): number {
  return logLines(gw).filter((l) => l.msg === 'session ended' && l.route === route).length;
}

function logLines(gw: GatewayProcess): Array<Record<string, unknown>> {
  return gw.stdout.flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no ${what} in ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function until(condition: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs / 1000} s waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Scenario × route → pass / expected fail / not run, as Markdown. */
function resultTable(scenarios: { all: string[]; pending: string[] }, runs: Map<RouteName, ConformanceRun>): string {
  const header = `| Scenario | Suite | ${ROUTES.map((r) => `\`/mcp/${r}\``).join(' | ')} |`;
  const rule = `| --- | --- | ${ROUTES.map(() => ':---:').join(' | ')} |`;
  const rows = scenarios.all.map((scenario) => {
    const cells = ROUTES.map((route) => {
      const result = runs.get(route)?.results.find((r) => r.scenario === scenario);
      if (!result) return '—';
      return result.passed ? 'pass' : 'expected fail';
    });
    return `| ${scenario} | ${scenarios.pending.includes(scenario) ? 'pending' : 'active'} | ${cells.join(' | ')} |`;
  });
  return [header, rule, ...rows].join('\n') + '\n';
}
