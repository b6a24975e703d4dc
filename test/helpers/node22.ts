/**
 * A Node.js 22 binary for the tools that need it (the MCP conformance suite uses `fs.globSync`),
 * while the project itself runs on Node 20. It comes from the npm registry's `node-<os>-<arch>`
 * packages (the ones the `node` package installs), through `npm pack`, and is cached in the
 * git-ignored `.node22/` folder, so only the first run downloads it (about 50 MB).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from './project.js';

const run = promisify(execFile);

/** Pinned, so the cache stays valid and every machine runs the suite on the same Node. */
export const NODE22_VERSION = '22.23.3';

/** Where the binaries are cached (git-ignored). */
export const NODE22_CACHE = path.join(PROJECT_ROOT, '.node22');

/** The download and unpacking together never take longer than this. */
const INSTALL_TIMEOUT_MS = 180_000;

/** `node-<os>-<arch>` packages published on npm, by Node's names for the platform. */
const PACKAGE_OS: Partial<Record<NodeJS.Platform, string>> = { linux: 'linux', darwin: 'darwin' };
const PACKAGE_ARCH: Partial<Record<string, string>> = { x64: 'x64', arm64: 'arm64' };

/**
 * The path of a Node 22 binary, downloading it into `.node22/` on first use. Throws, saying why,
 * when the platform has no such package or the registry cannot be reached: a test that needs
 * Node 22 should fail loudly, not skip.
 *
 * @example
 * const node = await ensureNode22();
 * execFileSync(node, ['--version']); // 'v22.23.3\n'
 */
export async function ensureNode22(): Promise<string> {
  const os = PACKAGE_OS[process.platform];
  const arch = PACKAGE_ARCH[process.arch];
  if (!os || !arch) {
    throw new Error(
      `No Node 22 package on npm for ${process.platform}-${process.arch}: the conformance suite needs Node >= 22 (set it up by hand in ${NODE22_CACHE})`,
    );
  }
  const name = `node-${os}-${arch}`;
  const dir = path.join(NODE22_CACHE, `${name}-${NODE22_VERSION}`);
  const binary = path.join(dir, 'bin', 'node');
  if (existsSync(binary)) return binary;

  mkdirSync(NODE22_CACHE, { recursive: true });
  // Unpacked beside the final folder and renamed into place, so a concurrent test file or an
  // interrupted run never sees half a binary.
  const staging = mkdtempSync(path.join(NODE22_CACHE, 'staging-'));
  try {
    const deadline = Date.now() + INSTALL_TIMEOUT_MS;
    const spec = `${name}@${NODE22_VERSION}`;
    let tarball: string;
    try {
      const [command, ...prefix] = npmCommand();
      const { stdout } = await run(command!, [...prefix, 'pack', spec, '--json', '--pack-destination', staging], {
        cwd: staging,
        timeout: INSTALL_TIMEOUT_MS,
        maxBuffer: 64 * 1024 * 1024,
      });
      tarball = path.join(staging, (JSON.parse(stdout) as Array<{ filename: string }>)[0]!.filename);
    } catch (error) {
      throw new Error(
        `Could not download ${spec} from the npm registry (needed to run the conformance suite on Node 22): ${firstLines(error)}`,
        { cause: error },
      );
    }
    await run('tar', ['-xzf', tarball, '-C', staging, 'package/bin/node'], { timeout: Math.max(1_000, deadline - Date.now()) });
    const unpacked = path.join(staging, 'package');
    const { stdout: version } = await run(path.join(unpacked, 'bin', 'node'), ['--version'], { timeout: 10_000 });
    if (version.trim() !== `v${NODE22_VERSION}`) throw new Error(`${spec} reports version ${version.trim()}`);
    try {
      renameSync(unpacked, dir);
    } catch (error) {
      // Another test file won the race: its copy is as good as this one.
      if (!existsSync(binary)) throw error;
    }
    return binary;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** The npm that runs this test (`npm test` says where it is), else the one on PATH. */
function npmCommand(): string[] {
  const npmCli = process.env.npm_execpath;
  return npmCli && npmCli.endsWith('.js') ? [process.execPath, npmCli] : ['npm'];
}

function firstLines(error: unknown): string {
  const stderr = (error as { stderr?: string }).stderr?.trim();
  const message = error instanceof Error ? error.message : String(error);
  const lines = (stderr || message).split('\n').filter((line) => line && !line.startsWith('npm warn'));
  return lines.slice(0, 5).join(' | ');
}
