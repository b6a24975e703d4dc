/**
 * Stages the deployment package that azd uploads (azure.yaml: `dist: .deploy`, `remoteBuild:
 * false`, run by the service's `prepackage` hook as `npm run stage`): the files of the project
 * that `.funcignore` keeps (the build in `dist/`, `host.json`, `gateway.yaml`, `package*.json`,
 * anything else the deployer adds), then `npm ci --omit=dev` in the copy, so that the app holds
 * the built gateway and only the packages of `dependencies`, servers added from npm included.
 *
 * No remote build: Microsoft's "Build and deploy TypeScript apps in Azure Functions" says the
 * platform's remote build "installs both dependencies and devDependencies" (typescript, to
 * compile), and recommends building locally and deploying the compiled output with its
 * dependencies, which is this. The project's dependencies are pure JavaScript (no install
 * scripts, no native binaries), so what is installed here runs on the platform's Linux x64.
 *
 * @example
 * ```sh
 * npm run stage            # npm run build && node dist/scripts/stage-deployment.js .deploy
 * ```
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ignore from 'ignore';

const run = promisify(execFile);

/** Where azure.yaml's `dist` points: the folder azd zips and uploads. */
export const STAGE_DIR = '.deploy';

/** The command that installs the package's dependencies (and no devDependencies) in the staged copy. */
export const INSTALL_ARGS = ['ci', '--omit=dev', '--no-audit', '--no-fund'];

export interface StageOptions {
  /** More arguments for `npm ci` (the tests add `--prefer-offline`). */
  npmArgs?: string[];
  /** How long `npm ci` may take, in ms. */
  timeout?: number;
}

/**
 * Copies what `.funcignore` keeps of `root` (never `node_modules` nor `out` itself) to `out`,
 * emptied first, and installs the production dependencies there. The build must exist.
 */
export async function stageDeployment(root: string, out: string, options: StageOptions = {}): Promise<string[]> {
  if (!existsSync(path.join(root, 'dist', 'src', 'gateway', 'main.js'))) {
    throw new Error(`${path.join(root, 'dist')} holds no build: run \`npm run build\` first`);
  }
  const relativeOut = path.relative(root, out).split(path.sep).join('/');
  const files = await listDeployedFiles(root, ['node_modules', relativeOut]);
  await rm(out, { recursive: true, force: true });
  for (const file of files) {
    if (file === '.funcignore') continue; // azd would read it in `out` as the package's own
    await mkdir(path.dirname(path.join(out, file)), { recursive: true });
    await copyFile(path.join(root, file), path.join(out, file));
  }
  const args = [...INSTALL_ARGS, ...(options.npmArgs ?? [])];
  try {
    // The npm that runs `npm run stage` (npm_execpath, npm's CLI script, run by this Node.js): a bare
    // `npm` is not something execFile can start on Windows (npm.cmd needs a shell), where the
    // prepackage hook runs this too.
    const npm = /npm-cli\.[cm]?js$/.test(process.env.npm_execpath ?? '') ? process.env.npm_execpath : undefined;
    const [command, commandArgs] = npm ? [process.execPath, [npm, ...args]] : ['npm', args];
    await run(command, commandArgs, {
      cwd: out,
      timeout: options.timeout ?? 600_000,
      maxBuffer: 16 * 1024 * 1024,
      shell: !npm && process.platform === 'win32',
    });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`npm ${args.join(' ')} failed in ${out}\n${stderr ?? ''}\n${stdout ?? ''}`, { cause: error });
  }
  return files.filter((file) => file !== '.funcignore');
}

/**
 * A `.funcignore` matcher: what azd and Core Tools leave out of the deployment package. The file
 * has gitignore syntax, read by `ignore` (the gitignore matcher ESLint and others use), not by
 * rules of our own: what it decides is what is deployed.
 *
 * @example
 * const ignored = parseFuncignore('node_modules/\n*.md\n');
 * ignored('README.md', false); // true
 */
export function parseFuncignore(text: string): (relativePath: string, isDirectory: boolean) => boolean {
  const matcher = ignore({ allowRelativePaths: false }).add(text);
  return (relativePath, isDirectory) => {
    const normalized = relativePath.split(path.sep).join('/');
    // A trailing slash is how `ignore` tells a directory, for patterns that match directories only.
    return matcher.ignores(isDirectory ? `${normalized}/` : normalized);
  };
}

/**
 * The files (relative paths, sorted) that a deployment package of `appRoot` holds under its
 * `.funcignore`. A directory that is ignored is not entered, as in git; nor are the `skip` paths.
 */
export async function listDeployedFiles(appRoot: string, skip: readonly string[] = []): Promise<string[]> {
  const ignored = parseFuncignore(await readFile(path.join(appRoot, '.funcignore'), 'utf8').catch(() => ''));
  const files: string[] = [];
  const walk = async (relativeDir: string): Promise<void> => {
    for (const entry of await readdir(path.join(appRoot, relativeDir), { withFileTypes: true })) {
      const relative = relativeDir ? `${relativeDir}/${entry.name}` : entry.name;
      if (skip.includes(relative) || ignored(relative, entry.isDirectory())) continue;
      if (entry.isDirectory()) await walk(relative);
      else if (entry.isFile()) files.push(relative);
    }
  };
  await walk('');
  return files.sort();
}

/** The nearest folder above `start` holding a package.json (the script runs from dist/scripts or scripts). */
function projectRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${start}`);
  }
}

const invokedDirectly = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  const root = projectRoot(path.dirname(fileURLToPath(import.meta.url)));
  const out = path.resolve(root, process.argv[2] ?? STAGE_DIR);
  stageDeployment(root, out).then(
    (files) => console.log(`${path.relative(root, out)}: ${files.length} files of the project and its production dependencies`),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    },
  );
}
