/**
 * The official MCP conformance suite (`@modelcontextprotocol/conformance` 0.2, server scenarios) run
 * through the real gateway process, one spec revision per run: the gateway must be transparent, so
 * a server behind it passes what it passes on its own. Routes, each with the revisions it runs
 * ({@link ROUTES}):
 * - /mcp/conformance: the conformance fixture module (test/fixtures/servers/conformance), stateful,
 *   every scenario of the revision's requirement set (required and not scored);
 * - /mcp/conformance-stateless: the same module with `sessions: stateless`;
 * - /mcp/conformance-stdio: the same fixture as a stdio program (test/fixtures/stdio/conformance-stdio.ts),
 *   a `command:` route reached through the gateway's bridge, which must answer as the module does;
 * - /mcp/weather (on the fake NWS) and /mcp/time: the scenarios any server passes.
 * Expected failures: test/fixtures/conformance-expected-failures/<route>.<revision>.yaml.
 * This file also checks, beyond the suite, the session bounds and expiry while it runs, that
 * resources/updated reaches a subscriber, that the input_required tools serve a 2025 session, that
 * the stdio route's checks come out as the module route's, and that its children end with the gateway.
 * The suite needs Node 22 (see test/helpers/node22.ts). The result table in README.md is this
 * run's: `UPDATE_CONFORMANCE_DOCS=1 node --test dist/test/e2e/conformance.test.js` rewrites it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import {
  describeFailures,
  GENERIC_SCENARIOS,
  requirementSet,
  REVISIONS,
  runConformance,
  type ConformanceRun,
  type RequirementSet,
  type Revision,
} from '../helpers/conformance.js';
import { startFakeNws, type FakeNws } from '../helpers/fake-nws.js';
import { WATCHED_URI } from '../fixtures/servers/conformance/resources.js';
import { connectClient, fixtureModule, shippedModule, startGatewayProcess, textOf, type GatewayProcess } from '../helpers/gateway.js';
import { ensureNode22 } from '../helpers/node22.js';
import { processesWith } from '../helpers/processes.js';
import { fixturePath, PROJECT_ROOT } from '../helpers/project.js';

const MAX_SESSIONS_PER_ROUTE = 20;
/**
 * The suite connects from one address, the per-caller cap's unit on an open route. Its default (a
 * tenth of maxPerRoute) would be the cap that bites; at maxPerRoute, the route's own cap is.
 */
const MAX_SESSIONS_PER_PRINCIPAL = MAX_SESSIONS_PER_ROUTE;
const IDLE_TIMEOUT_SECONDS = 2;
/** main.ts sweeps idle sessions every idleTimeout / 4 (at least 250 ms, at most 30 s). */
const SWEEP_WAIT_MS = 15_000;

/**
 * What runs on each route: the revisions (one suite run each), whether the whole requirement set
 * runs or only the scenarios any server passes, and whether every required scenario must pass (its
 * expected failures then only excuse unscored ones). Each route's expected failures per revision:
 * test/fixtures/conformance-expected-failures/<route>.<revision>.yaml (no file: none expected).
 */
const ROUTES = {
  conformance: { revisions: ['2025-11-25', '2026-07-28'], scenarios: 'all', everyRequired: true },
  'conformance-stateless': { revisions: ['2025-11-25', '2026-07-28'], scenarios: 'all', everyRequired: false },
  'conformance-stdio': { revisions: ['2025-11-25', '2026-07-28'], scenarios: 'all', everyRequired: true },
  weather: { revisions: ['2025-11-25', '2026-07-28'], scenarios: 'generic', everyRequired: true },
  time: { revisions: ['2025-11-25', '2026-07-28'], scenarios: 'generic', everyRequired: true },
} as const satisfies Record<string, { revisions: readonly Revision[]; scenarios: 'all' | 'generic'; everyRequired: boolean }>;
type RouteName = keyof typeof ROUTES;
const ROUTE_NAMES = Object.keys(ROUTES) as RouteName[];
const STATEFUL_ROUTES: RouteName[] = ['conformance', 'conformance-stdio', 'weather', 'time'];

const expectedFailures = (route: RouteName, revision: Revision) =>
  fixturePath('conformance-expected-failures', `${route}.${revision}.yaml`);

/** The fixture module as a stdio program (test/fixtures/stdio/conformance-stdio.ts), built by `npm run build:test`. */
const CONFORMANCE_STDIO = path.join(PROJECT_ROOT, 'dist', 'test', 'fixtures', 'stdio', 'conformance-stdio.js');
/** An argument the program ignores, by which this run finds its children. */
const STDIO_MARKER = `conformance-stdio-${randomUUID()}`;

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
  conformance-stdio:
    command: ${process.execPath}
    args: [${JSON.stringify(CONFORMANCE_STDIO)}, ${STDIO_MARKER}]
  weather:
    module: ${shippedModule('weather')}
    options:
      userAgent: "mcp-gateway conformance test (test@example.com)"
  time:
    module: ${shippedModule('time')}
sessions:
  idleTimeout: ${IDLE_TIMEOUT_SECONDS}s
  maxPerRoute: ${MAX_SESSIONS_PER_ROUTE}
  maxPerPrincipal: ${MAX_SESSIONS_PER_PRINCIPAL}
`;

interface RouteStatus {
  name: string;
  sessions: { active: number; max: number; maxPerPrincipal: number } | null;
  upstream?: { kind: string; started?: number };
}

const runKey = (route: RouteName, revision: Revision) => `${route} ${revision}`;

describe('MCP conformance suite through the gateway', () => {
  let node: string;
  let nws: FakeNws;
  let gw: GatewayProcess;
  const sets = new Map(REVISIONS.map((revision) => [revision, requirementSet(revision)]));
  const runs = new Map<string, ConformanceRun>();
  /** The most sessions status.json reported per route while the suite ran. */
  const peakSessions = new Map<string, number>();
  let sampling: Promise<void> | undefined;
  let samplingDone = false;

  const url = (route: RouteName) => `${gw.url}/mcp/${route}`;
  const routeStatus = async (): Promise<RouteStatus[]> =>
    ((await (await fetch(`${gw.url}/status.json`)).json()) as { routes: RouteStatus[] }).routes;

  before(async () => {
    node = await ensureNode22();
    nws = await startFakeNws();
    gw = await startGatewayProcess(gatewayYaml, { NWS_BASE_URL: nws.url, LOG_LEVEL: 'debug' });
    sampling = (async () => {
      while (!samplingDone) {
        for (const route of await routeStatus()) {
          if (route.sessions) peakSessions.set(route.name, Math.max(peakSessions.get(route.name) ?? 0, route.sessions.active));
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
  });

  after(async () => {
    samplingDone = true;
    await sampling?.catch(() => undefined);
    await gw?.stop();
    await nws?.close();
  });

  for (const route of ROUTE_NAMES) {
    const { revisions, scenarios: scope, everyRequired } = ROUTES[route];
    for (const revision of revisions) {
      const what = scope === 'all' ? `the ${revision} requirement set` : `the ${revision} scenarios any server passes`;
      it(`passes ${what} on /mcp/${route}, but the expected failures`, async () => {
        const set = sets.get(revision)!;
        const scenarios = scope === 'all' ? undefined : GENERIC_SCENARIOS[revision];
        const run = await runConformance({
          node,
          url: url(route),
          revision,
          scenarios,
          expectedFailures: expectedFailures(route, revision),
        });
        runs.set(runKey(route, revision), run);
        assert.deepEqual(run.results.map((r) => r.scenario).sort(), [...(scenarios ?? set.all)].sort(), 'every scenario ran, once');
        const failures = run.results.filter((r) => !r.passed).map(describeFailures);
        if (everyRequired) {
          const required = run.results.filter((r) => !r.passed && set.required.includes(r.scenario));
          assert.equal(required.map(describeFailures).join('\n'), '', `every scenario ${revision} requires passes on /mcp/${route}`);
        }
        assert.deepEqual(
          { unexpected: run.verdict.unexpected, stale: run.verdict.stale, unknown: run.verdict.unknown },
          { unexpected: [], stale: [], unknown: [] },
          `not what ${expectedFailures(route, revision)} expects; failing checks:\n${failures.join('\n')}`,
        );
        assert.equal(run.exitCode, 0, `the suite reports failures other than the expected ones:\n${run.output}`);
      });
    }
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

  it("serves the 2026-07-28 input_required tools to a 2025 session as real elicitation requests (the SDK's legacy shim)", async () => {
    const client = new Client({ name: 'conformance-legacy-shim', version: '1.0.0' }, { capabilities: { elicitation: {} } });
    const answers: Array<Record<string, string>> = [{ name: 'Alice' }, { color: 'blue' }];
    const asked: string[] = [];
    client.setRequestHandler('elicitation/create', async ({ params }) => {
      asked.push(params.message);
      return { action: 'accept', content: answers[asked.length - 1] };
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(url('conformance'))));
    try {
      // Two rounds in one call: the sealed requestState of round 1 carries the name into round 2.
      const result = await client.callTool({ name: 'test_input_required_result_multi_round', arguments: {} });
      assert.equal(textOf(result), 'Multi-round complete: Alice likes blue');
      assert.deepEqual(asked, ['Step 1: What is your name?', 'Step 2: What is your favorite color?']);
    } finally {
      await client.close();
    }
  });

  it(`never holds more than sessions.maxPerRoute (${MAX_SESSIONS_PER_ROUTE}) sessions on a route`, async () => {
    for (const route of await routeStatus()) {
      if (route.sessions)
        assert.deepEqual([route.sessions.max, route.sessions.maxPerPrincipal], [MAX_SESSIONS_PER_ROUTE, MAX_SESSIONS_PER_PRINCIPAL]);
    }
    for (const route of STATEFUL_ROUTES) {
      const peak = peakSessions.get(route) ?? 0;
      assert.ok(peak > 0, `status.json reported sessions on /mcp/${route} while the suite ran`);
      assert.ok(peak <= MAX_SESSIONS_PER_ROUTE, `/mcp/${route} held ${peak} sessions`);
    }
    assert.ok(
      createdSessions(gw, 'conformance') > MAX_SESSIONS_PER_ROUTE,
      'the suite opened more sessions than the cap on the fixture route',
    );
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
        async () => STATEFUL_ROUTES.every((route) => endedSessions(gw, route).length >= createdSessions(gw, route)),
        SWEEP_WAIT_MS,
        `every session ended: ${STATEFUL_ROUTES.map((r) => `${r} ${endedSessions(gw, r).length}/${createdSessions(gw, r)}`).join(', ')}`,
      );
      // The suite DELETEs most of its sessions, not all: some ended by idle expiry on every route.
      for (const route of STATEFUL_ROUTES) {
        assert.ok(endedSessions(gw, route).includes('expired'), `a session the suite left open on /mcp/${route} expired`);
      }
    },
  );

  it('gets the same verdict on every check through the stdio bridge as from the module in process', () => {
    for (const revision of REVISIONS) {
      const verdicts = (route: RouteName) => {
        const run = runs.get(runKey(route, revision));
        assert.ok(run, `/mcp/${route} ran ${revision}`);
        return run.results.flatMap((r) => r.checks.map((c) => `${r.scenario}:${c.id} ${c.status}`)).sort();
      };
      assert.deepEqual(verdicts('conformance-stdio'), verdicts('conformance'), `${revision}: /mcp/conformance-stdio vs /mcp/conformance`);
    }
  });

  it('matches the result table in README.md', () => {
    const table = resultTable(sets, runs);
    const docs = readFileSync(DOCS, 'utf8');
    const start = docs.indexOf(TABLE_START);
    const end = docs.indexOf(TABLE_END);
    assert.ok(start >= 0 && end > start, `${DOCS} has the ${TABLE_START} … ${TABLE_END} markers`);
    const updated = `${docs.slice(0, start + TABLE_START.length)}\n${table}${docs.slice(end)}`;
    if (process.env.UPDATE_CONFORMANCE_DOCS === '1') writeFileSync(DOCS, updated);
    else
      assert.equal(docs, updated, 'README.md is out of date: run UPDATE_CONFORMANCE_DOCS=1 node --test dist/test/e2e/conformance.test.js');
  });

  it('leaves no conformance-stdio child behind once the gateway stops (SIGTERM)', async () => {
    const route = (await routeStatus()).find((r) => r.name === 'conformance-stdio');
    assert.ok((route?.upstream?.started ?? 0) > 1, 'the suite ran the route on children of its own');
    assert.equal(await gw.stop(), 0);
    await until(() => processesWith(STDIO_MARKER).length === 0, 10_000, 'every conformance-stdio child has exited');
  });
});

/** Sessions a route created: initialize requests it answered with 200. */
function createdSessions(gw: GatewayProcess, route: string): number {
  return logLines(gw).filter(
    (l) => l.msg === 'request' && l.route === route && l.rpc === 'initialize' && (l.http as { status?: number })?.status === 200,
  ).length;
}

/** Why each session that ended on a route ended (deleted, expired, evicted, closed), its server closed. */
function endedSessions(gw: GatewayProcess, route: string): string[] {
  return logLines(gw)
    .filter((l) => l.msg === 'session ended' && l.route === route)
    .map((l) => String(l.reason));
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

/** Scenario × revision and route × revision → pass / expected fail / skipped / not run, as Markdown. */
function resultTable(sets: Map<Revision, RequirementSet>, runs: Map<string, ConformanceRun>): string {
  const columns = ROUTE_NAMES.flatMap((route) => REVISIONS.map((revision) => ({ route, revision })));
  const scenarios = [...new Set(REVISIONS.flatMap((revision) => sets.get(revision)!.all))];
  const header = `| Scenario | ${REVISIONS.join(' | ')} | ${columns.map((c) => `\`/mcp/${c.route}\` ${c.revision}`).join(' | ')} |`;
  const rule = `| --- | ${REVISIONS.map(() => '---').join(' | ')} | ${columns.map(() => ':---:').join(' | ')} |`;
  const rows = scenarios.map((scenario) => {
    const inSet = REVISIONS.map((revision) => {
      const set = sets.get(revision)!;
      if (set.required.includes(scenario)) return 'required';
      const reason = set.notScored.get(scenario);
      return reason ? `not scored: ${reason}` : '';
    });
    const cells = columns.map(({ route, revision }) => {
      if (!sets.get(revision)!.all.includes(scenario)) return '';
      const run = runs.get(runKey(route, revision));
      const result = run?.results.find((r) => r.scenario === scenario);
      if (!run || !result) return '—';
      // Nothing judged: the suite skipped every check (tasks-status-notifications, for one).
      if (result.checks.every((c) => c.status === 'SKIPPED' || c.status === 'INFO')) return 'skipped';
      return result.passed ? 'pass' : 'expected fail';
    });
    return `| ${scenario} | ${inSet.join(' | ')} | ${cells.join(' | ')} |`;
  });
  return [header, rule, ...rows].join('\n') + '\n';
}
