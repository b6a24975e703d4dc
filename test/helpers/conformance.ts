/**
 * Running the official MCP conformance suite (`@modelcontextprotocol/conformance` 0.2, server
 * scenarios) against a URL, on Node 22, one spec revision per run, and judging its per-scenario
 * results against an expected-failures file.
 *
 * The suite's requirement sets (`requirements/<revision>.yaml` in its package) name the scenarios a
 * revision requires and the ones it runs without scoring. Scenarios run at their revision's wire:
 * 2025-11-25 through the `initialize` handshake and sessions, 2026-07-28 statelessly with per-request
 * `_meta`. The CLI judges only the required scenarios; {@link judge} applies the same rule to every
 * scenario that ran, scored or not, so a not-scored scenario that fails must be listed too.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { PROJECT_ROOT } from './project.js';

const PACKAGE = path.join(PROJECT_ROOT, 'node_modules', '@modelcontextprotocol', 'conformance');

/** The suite's command-line entry point. */
export const CONFORMANCE_CLI = path.join(PACKAGE, 'dist', 'index.js');

/** The spec revisions the suite has requirement sets for, oldest first. */
export const REVISIONS = ['2025-11-25', '2026-07-28'] as const;
export type Revision = (typeof REVISIONS)[number];

/**
 * The scenarios of each requirement set that any MCP server passes, whatever its tools, prompts and
 * resources: what the gateway itself answers (handshake, ping, listing, streams, Host checks,
 * sessions, the SEP-2243 headers). The others call the fixture module's `test_*` tools, prompts and
 * resources. Left out for 2026-07-28, checked against weather and time: server-stateless (26 of its
 * 30 checks pass anywhere; four need the fixture's diagnostic tools), caching (lists prompts and
 * resources), sep-2164-resource-not-found (needs resources), and input-required-result-validate-input,
 * which "passes" on a server without its tool only because the call fails.
 */
export const GENERIC_SCENARIOS: Record<Revision, readonly string[]> = {
  '2025-11-25': [
    'server-initialize',
    'ping',
    'tools-list',
    'server-sse-multiple-streams',
    'dns-rebinding-protection',
    'server-session-lifecycle',
  ],
  '2026-07-28': [
    'tools-list',
    'server-sse-multiple-streams',
    'dns-rebinding-protection',
    // Not scored (pending): Mcp-Method and Mcp-Name checked against the body, on any tool.
    'http-header-validation',
    // No input_required from tools/list or prompts/list, which the gateway rewrites (caching hints).
    'input-required-result-unsupported-methods',
  ],
};

/** Why a requirement set runs a scenario without scoring it (the suite's own reasons). */
export type NotScoredReason = 'extension' | 'added-after-release' | 'pending';

/** The server side of one requirement set. */
export interface RequirementSet {
  revision: Revision;
  /** Required: these decide the CLI's exit code. */
  required: string[];
  /** Run and reported, never scored. */
  notScored: Map<string, NotScoredReason>;
  /** Every scenario a `--requirements` run of this set runs: required first, then not scored. */
  all: string[];
}

/** A requirement set's server scenarios, from the suite's package. */
export function requirementSet(revision: Revision): RequirementSet {
  const file = parse(readFileSync(path.join(PACKAGE, 'requirements', `${revision}.yaml`), 'utf8')) as {
    server: string[];
    not_scored?: Array<{ scenario: string; leg: 'server' | 'client'; reason: NotScoredReason }>;
  };
  const notScored = new Map((file.not_scored ?? []).filter((e) => e.leg === 'server').map((e) => [e.scenario, e.reason] as const));
  return { revision, required: file.server, notScored, all: [...file.server, ...notScored.keys()] };
}

export type CheckStatus = 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | 'SKIPPED';

/** One check as the suite records it in `checks.json`. */
export interface ConformanceCheck {
  id: string;
  status: CheckStatus;
  errorMessage?: string;
  details?: unknown;
}

export interface ScenarioResult {
  scenario: string;
  /** The suite's own rule for its baseline: a FAILURE or a WARNING makes the scenario fail. */
  passed: boolean;
  checks: ConformanceCheck[];
}

export interface ConformanceRun {
  revision: Revision;
  /** The CLI's exit code (the worst of its invocations): 0 means its required scenarios passed, but the expected failures. */
  exitCode: number | null;
  output: string;
  results: ScenarioResult[];
  /** The expected failures the run was judged against. */
  expectedFailures: ExpectedFailure[];
  verdict: Verdict;
}

export interface RunOptions {
  /** The Node 22 binary (see node22.ts). */
  node: string;
  /** The MCP endpoint, e.g. `http://127.0.0.1:7071/mcp/conformance`. */
  url: string;
  revision: Revision;
  /**
   * Default: the revision's whole requirement set, in one `--requirements` run. Else these
   * scenarios, each run by its own CLI invocation at that revision (`--scenario … --spec-version …`,
   * since `--requirements` cannot be narrowed).
   */
  scenarios?: readonly string[];
  /** The suite's `--expected-failures` YAML (`server: [<scenario> | <scenario>:<check-id>, …]`); a missing file expects none. */
  expectedFailures?: string;
  /** The whole run is killed past this. Default 120 s. */
  timeoutMs?: number;
}

/**
 * Runs the suite at one revision, collects every scenario's checks and judges them.
 *
 * @example
 * const run = await runConformance({ node, url: `${gw.url}/mcp/time`, revision: '2025-11-25', scenarios: ['ping'] });
 * assert.deepEqual(run.verdict, { unexpected: [], stale: [], unknown: [], expected: [] }, run.output);
 */
export async function runConformance(options: RunOptions): Promise<ConformanceRun> {
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  const baseline = options.expectedFailures !== undefined && existsSync(options.expectedFailures) ? options.expectedFailures : undefined;
  const common = ['--url', options.url, ...(baseline ? ['--expected-failures', baseline] : [])];
  const invocations = options.scenarios
    ? options.scenarios.map((scenario) => ['--scenario', scenario, '--spec-version', options.revision])
    : [['--requirements', options.revision]];
  let exitCode: number | null = 0;
  let output = '';
  const results: ScenarioResult[] = [];
  for (const args of invocations) {
    const outputDir = mkdtempSync(path.join(tmpdir(), 'conformance-'));
    try {
      const result = await runCli(options.node, ['server', ...common, '--output-dir', outputDir, ...args], deadline - Date.now());
      output += result.output;
      if (result.exitCode !== 0) exitCode = result.exitCode;
      results.push(...readResults(outputDir));
    } finally {
      rmSync(outputDir, { recursive: true, force: true });
    }
  }
  results.sort((a, b) => a.scenario.localeCompare(b.scenario));
  const expectedFailures = baseline ? readExpectedFailures(baseline) : [];
  return { revision: options.revision, exitCode, output, results, expectedFailures, verdict: judge(results, expectedFailures) };
}

/** An entry of an expected-failures file: a whole scenario, or one check of it. */
export interface ExpectedFailure {
  scenario: string;
  checkId?: string;
}

/** The `server` entries of an expected-failures file, parsed as the suite does. */
export function readExpectedFailures(file: string): ExpectedFailure[] {
  const entries = (parse(readFileSync(file, 'utf8')) as { server?: unknown[] } | null)?.server ?? [];
  return entries.map((entry) => {
    // `- a: b` is YAML for a mapping; the suite rejects it too.
    if (typeof entry !== 'string') throw new Error(`${file}: ${JSON.stringify(entry)} is not '<scenario>' or '<scenario>:<check-id>'`);
    const colon = entry.indexOf(':');
    return colon === -1 ? { scenario: entry } : { scenario: entry.slice(0, colon), checkId: entry.slice(colon + 1) };
  });
}

/** How a run compares with its expected failures, as `<scenario>` or `<scenario>:<check-id>`. */
export interface Verdict {
  /** Failed (or warned) and not listed. */
  unexpected: string[];
  /** Listed, and passed: the entry should go. */
  stale: string[];
  /** Listed for a scenario that did not run: a typo, or a scenario the suite no longer has. */
  unknown: string[];
  /** Listed, and failed. */
  expected: string[];
}

const failing = (c: ConformanceCheck) => c.status === 'FAILURE' || c.status === 'WARNING';
const SEVERITY: Record<CheckStatus, number> = { FAILURE: 3, WARNING: 2, SUCCESS: 1, SKIPPED: 0, INFO: 0 };

/**
 * The suite's baseline rule (its `--expected-failures` evaluation), applied to every scenario that
 * ran. A scenario entry expects some check of it to fail or warn. A check entry expects that check
 * id to, all its occurrences taken together, most severe first; the scenario's other checks must
 * pass, and the entry is only stale when the check succeeded (absent or skipped is tolerated: a
 * scenario that stops at a failed prerequisite never reaches its later checks).
 */
export function judge(results: readonly ScenarioResult[], expected: readonly ExpectedFailure[]): Verdict {
  const verdict: Verdict = { unexpected: [], stale: [], unknown: [], expected: [] };
  const ran = new Set(results.map((r) => r.scenario));
  for (const entry of expected) if (!ran.has(entry.scenario)) verdict.unknown.push(entryName(entry));
  for (const result of results) {
    const entries = expected.filter((e) => e.scenario === result.scenario);
    if (entries.some((e) => e.checkId === undefined)) {
      (result.checks.some(failing) ? verdict.expected : verdict.stale).push(result.scenario);
      continue;
    }
    const worst = new Map<string, ConformanceCheck>();
    for (const check of result.checks) {
      const seen = worst.get(check.id);
      if (check.status !== 'INFO' && (!seen || SEVERITY[check.status] >= SEVERITY[seen.status])) worst.set(check.id, check);
    }
    const listed = new Set(entries.map((e) => e.checkId));
    for (const check of worst.values()) {
      if (failing(check)) (listed.has(check.id) ? verdict.expected : verdict.unexpected).push(`${result.scenario}:${check.id}`);
    }
    for (const id of listed) if (worst.get(id!)?.status === 'SUCCESS') verdict.stale.push(`${result.scenario}:${id}`);
  }
  return verdict;
}

const entryName = (e: ExpectedFailure) => (e.checkId === undefined ? e.scenario : `${e.scenario}:${e.checkId}`);

function readResults(outputDir: string): ScenarioResult[] {
  // The suite writes <dir>/server-<scenario>-<ISO time with - for : and .>/checks.json.
  return readdirSync(outputDir).map((entry) => {
    const match = /^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/.exec(entry);
    if (!match) throw new Error(`unexpected entry in the conformance output: ${entry}`);
    const file = path.join(outputDir, entry, 'checks.json');
    // A scenario that threw (or was skipped) leaves its folder empty; the CLI counts it as one
    // failed check named after the scenario, and so does this.
    const checks: ConformanceCheck[] = existsSync(file)
      ? (JSON.parse(readFileSync(file, 'utf8')) as ConformanceCheck[])
      : [{ id: match[1]!, status: 'FAILURE', errorMessage: 'the scenario failed to run: no checks.json (see the output)' }];
    return { scenario: match[1]!, passed: !checks.some(failing), checks };
  });
}

/** What went wrong in a scenario, one line per failed or warned check. */
export function describeFailures(result: ScenarioResult): string {
  return result.checks
    .filter(failing)
    .map((c) => `${result.scenario}: ${c.status} ${c.id}${c.errorMessage ? `: ${c.errorMessage}` : ''}`)
    .join('\n');
}

function runCli(node: string, args: string[], timeoutMs: number): Promise<{ exitCode: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    if (timeoutMs <= 0) return reject(new Error('the conformance run ran out of time'));
    // The working directory keeps any stray `results/` folder out of the project.
    const child = spawn(node, [CONFORMANCE_CLI, ...args], {
      cwd: tmpdir(),
      env: { PATH: process.env.PATH },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`conformance ${args.join(' ')} did not finish in ${Math.round(timeoutMs / 1000)} s:\n${output}`));
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (exitCode) => {
      clearTimeout(timer);
      // ANSI colour codes, which the suite prints even to a pipe, whatever NO_COLOR says.
      // eslint-disable-next-line no-control-regex
      resolve({ exitCode, output: output.replace(/\x1b\[[0-9;]*m/g, '') });
    });
  });
}
