/**
 * Running the official MCP conformance suite (`@modelcontextprotocol/conformance`, server
 * scenarios) against a URL, on Node 22, and reading its per-scenario results.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from './project.js';

/** The suite's command-line entry point. */
export const CONFORMANCE_CLI = path.join(PROJECT_ROOT, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');

/** The suite's scenarios that any MCP server passes, whatever its tools, prompts and resources. */
export const GENERIC_SCENARIOS = [
  'server-initialize',
  'ping',
  'tools-list',
  'server-sse-multiple-streams',
  'dns-rebinding-protection',
] as const;

export type CheckStatus = 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | 'SKIPPED';

/** One check as the suite records it in `checks.json`. */
export interface ConformanceCheck {
  id: string;
  status: CheckStatus;
  errorMessage?: string;
  details?: unknown;
}

export type Suite = 'active' | 'pending' | 'all';

export interface ScenarioResult {
  scenario: string;
  /** The suite it ran in, when it ran as part of one. */
  suite?: Suite;
  /** The suite's own rule for its baseline: a FAILURE or a WARNING makes the scenario fail. */
  passed: boolean;
  checks: ConformanceCheck[];
}

export interface ConformanceRun {
  /** The CLI's exit code: with an expected-failures file, 0 means "exactly the expected ones failed". */
  exitCode: number | null;
  output: string;
  results: ScenarioResult[];
}

export interface RunOptions {
  /** The Node 22 binary (see node22.ts). */
  node: string;
  /** The MCP endpoint, e.g. `http://127.0.0.1:7071/mcp/conformance`. */
  url: string;
  /** Suites (`active`, `pending`, `all`), or scenarios, each run by its own invocation of the CLI. */
  run: { suites: readonly Suite[] } | { scenarios: readonly string[] };
  /** The suite's `--expected-failures` YAML (`server: [scenario, …]`). */
  expectedFailures?: string;
  /** The whole run is killed past this. Default 120 s. */
  timeoutMs?: number;
}

/**
 * Runs the suite and collects every scenario's checks.
 *
 * @example
 * const run = await runConformance({ node, url: `${gw.url}/mcp/time`, run: { scenarios: ['ping'] } });
 * assert.ok(run.results.every((r) => r.passed), run.output);
 */
export async function runConformance(options: RunOptions): Promise<ConformanceRun> {
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  const common = ['--url', options.url, ...(options.expectedFailures ? ['--expected-failures', options.expectedFailures] : [])];
  const invocations: Array<{ args: string[]; suite?: Suite }> =
    'suites' in options.run
      ? options.run.suites.map((suite) => ({ args: ['--suite', suite], suite }))
      : options.run.scenarios.map((scenario) => ({ args: ['--scenario', scenario] }));
  let exitCode: number | null = 0;
  let output = '';
  const results: ScenarioResult[] = [];
  for (const { args, suite } of invocations) {
    const outputDir = mkdtempSync(path.join(tmpdir(), 'conformance-'));
    try {
      const result = await runCli(options.node, ['server', ...common, '--output-dir', outputDir, ...args], deadline - Date.now());
      output += result.output;
      if (result.exitCode !== 0) exitCode = result.exitCode;
      results.push(...readResults(outputDir).map((r) => (suite ? { ...r, suite } : r)));
    } finally {
      rmSync(outputDir, { recursive: true, force: true });
    }
  }
  return { exitCode, output, results };
}

/** Every server scenario the suite has, per its `list` command (active and pending alike). */
export async function listScenarios(node: string): Promise<string[]> {
  const { output } = await runCli(node, ['list', '--server'], 30_000);
  return [...output.matchAll(/^ {2}- (\S+)/gm)].map((m) => m[1]!);
}

function readResults(outputDir: string): ScenarioResult[] {
  // The suite writes <dir>/server-<scenario>-<ISO time with - for : and .>/checks.json.
  return readdirSync(outputDir)
    .map((entry) => {
      const match = /^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/.exec(entry);
      if (!match) throw new Error(`unexpected entry in the conformance output: ${entry}`);
      const checks = JSON.parse(readFileSync(path.join(outputDir, entry, 'checks.json'), 'utf8')) as ConformanceCheck[];
      return { scenario: match[1]!, passed: !checks.some((c) => c.status === 'FAILURE' || c.status === 'WARNING'), checks };
    })
    .sort((a, b) => a.scenario.localeCompare(b.scenario));
}

/** What went wrong in a scenario, one line per failed or warned check. */
export function describeFailures(result: ScenarioResult): string {
  return result.checks
    .filter((c) => c.status === 'FAILURE' || c.status === 'WARNING')
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
      // The suite colours its summary whatever NO_COLOR says.
      // ANSI colour codes, which the suite prints even to a pipe.
      // eslint-disable-next-line no-control-regex
      resolve({ exitCode, output: output.replace(/\x1b\[[0-9;]*m/g, '') });
    });
  });
}
