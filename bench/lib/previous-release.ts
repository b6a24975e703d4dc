/**
 * The gateway as it was at an earlier commit, built for the same run: the telemetry issue asks
 * that the gateway with telemetry off stay within noise of the previous release, and on a shared
 * machine only numbers measured in the same rounds compare. Its `src/`, `servers/` and build
 * config are taken from git (`git archive`) into the run's work directory and compiled with this
 * checkout's TypeScript and `node_modules` (the previous release's dependencies are a subset of
 * today's, at the same versions); the yaml it is given mounts its own time module.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT, workPath } from './child.js';

/** main as it last landed before telemetry (issue #15): the end of the reliability and SDK v2 work. */
export const PREVIOUS_RELEASE = 'ea16d7cb54894ea3a98036b4bf95f6430513b2a1';

export interface PreviousBuild {
  /** The commit built. */
  readonly commit: string;
  /** Its gateway's entry point. */
  readonly entry: string;
  /** Its time module, for its gateway.yaml. */
  readonly timeModule: string;
}

/** Builds `ref`'s gateway; a reason instead when there is no git history or the build fails. */
export function buildPrevious(ref: string): PreviousBuild | { readonly skipped: string } {
  const git = (...args: string[]) => spawnSync('git', ['-C', PROJECT_ROOT, ...args], { maxBuffer: 256 * 1024 * 1024 });
  const resolved = git('rev-parse', '--verify', '--quiet', `${ref}^{commit}`);
  if (resolved.status !== 0) return { skipped: `${ref} is not a commit of this clone (a shallow clone, or no git)` };
  const commit = resolved.stdout.toString().trim();
  const root = workPath(`previous-${commit.slice(0, 12)}`);
  mkdirSync(root, { recursive: true });
  const archive = git('archive', '--format=tar', commit, 'src', 'servers', 'tsconfig.json', 'tsconfig.build.json', 'package.json');
  if (archive.status !== 0) return { skipped: `git archive ${commit} failed: ${archive.stderr.toString().trim()}` };
  const unpacked = spawnSync('tar', ['-x', '-C', root], { input: archive.stdout });
  if (unpacked.status !== 0) return { skipped: `unpacking ${commit} failed: ${unpacked.stderr.toString().trim()}` };
  symlinkSync(path.join(PROJECT_ROOT, 'node_modules'), path.join(root, 'node_modules'), 'dir');
  const tsc = path.join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const built = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, encoding: 'utf8' });
  const entry = path.join(root, 'dist', 'src', 'gateway', 'main.js');
  if (built.status !== 0 || !existsSync(entry))
    return { skipped: `building ${commit} failed: ${(built.stdout + built.stderr).slice(0, 500)}` };
  return { commit, entry, timeModule: path.join(root, 'servers', 'time') };
}
