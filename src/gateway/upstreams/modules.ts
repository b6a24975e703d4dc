/**
 * Finds, imports and validates the server modules named in gateway.yaml.
 *
 * A path module (`./servers/weather`) resolves against gateway.yaml's folder. The same
 * gateway.yaml serves TypeScript sources (`npm run dev`) and the build (`npm start`, Functions):
 * when the gateway runs from `<root>/dist`, a folder under the project root is looked up in the
 * build output first (`dist/servers/weather/index.js`).
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigError, PROJECT_ROOT, type ConfigProblem, type GatewayConfig, type ServerEntry } from '../config/config.js';
import type { ServerModule } from '../module-contract.js';

/**
 * A route ready to serve: a `module:` route whose module imported and whose options passed its
 * schema, or a `command:` / `url:` route (nothing to import; reached when first used).
 */
export interface LoadedServer {
  readonly name: string;
  readonly entry: ServerEntry;
  /** The imported module, on a `module:` route. */
  readonly module: ServerModule | undefined;
  /** The entry's options after the module's `optionsSchema` (defaults applied). */
  readonly options: unknown;
}

/** Imports a resolved module; injected so tests can count or fail imports. */
export type ModuleImporter = (specifier: string) => Promise<unknown>;

const RUNNING_FROM_BUILD = fileURLToPath(import.meta.url).startsWith(path.join(PROJECT_ROOT, 'dist') + path.sep);
const RUNNING_FROM_TYPESCRIPT = import.meta.url.endsWith('.ts');

/**
 * Turns a `module:` value into something `import()` takes: a file URL. A package is resolved as
 * `import()` would resolve it from a module in gateway.yaml's folder (Node's ESM rules, its
 * `exports` with the `import` condition: an ESM-only package too), by `import-meta-resolve`, since
 * Node's own `import.meta.resolve` takes no parent without a flag; a package gateway.yaml's folder
 * does not have is looked up from the gateway's (its own dependencies). Returns the places it
 * looked when a path does not exist.
 */
export async function resolveModule(
  spec: string,
  configDir: string,
): Promise<{ ok: true; specifier: string } | { ok: false; message: string }> {
  const isPath = spec.startsWith('.') || path.isAbsolute(spec);
  if (!isPath) {
    // Loaded on first use: the shipped servers are paths.
    const { resolve } = await import('import-meta-resolve');
    for (const parent of [pathToFileURL(path.join(configDir, 'gateway.yaml')).href, import.meta.url]) {
      try {
        return { ok: true, specifier: resolve(spec, parent) };
      } catch {
        // Not there: the next place, then import() says why.
      }
    }
    return { ok: true, specifier: spec };
  }
  const target = path.resolve(configDir, spec);
  const candidates: string[] = [];
  const relative = path.relative(PROJECT_ROOT, target);
  if (RUNNING_FROM_BUILD && !relative.startsWith('..') && !relative.startsWith('dist')) {
    const mirrored = path.join(PROJECT_ROOT, 'dist', relative);
    candidates.push(mirrored.replace(/\.ts$/, '.js'), path.join(mirrored, 'index.js'));
  }
  candidates.push(target);
  if (RUNNING_FROM_TYPESCRIPT) candidates.push(path.join(target, 'index.ts'));
  candidates.push(path.join(target, 'index.js'), path.join(target, 'index.mjs'));
  const found = candidates.find((file) => existsSync(file) && statSync(file).isFile());
  if (found) return { ok: true, specifier: pathToFileURL(found).href };
  const looked = [...new Set(candidates)].map((c) => path.relative(process.cwd(), c) || c).join(', ');
  return { ok: false, message: `not found (looked for ${looked})` };
}

/**
 * Imports every enabled server's module, checks it exports `createServer`, and validates its
 * options. Throws one {@link ConfigError} naming every route and module that failed.
 */
export async function loadServers(
  config: GatewayConfig,
  importModule: ModuleImporter = (specifier) => import(specifier),
): Promise<LoadedServer[]> {
  const problems: ConfigProblem[] = [];
  const enabled = Object.entries(config.servers).filter(([, entry]) => entry.enabled);
  const loaded = await Promise.all(
    enabled.map(async ([name, entry]): Promise<LoadedServer | undefined> => {
      const problem = (keyPath: PropertyKey[], message: string) => {
        problems.push({ ...config.locate(keyPath), keyPath: keyPath.join('.'), message });
      };
      if (entry.module === undefined) return { name, entry, module: undefined, options: {} };
      const where = `route "${name}" (module ${entry.module})`;
      const resolved = await resolveModule(entry.module, config.dir);
      if (!resolved.ok) return void problem(['servers', name, 'module'], `${where}: ${resolved.message}`);

      let mod: Partial<ServerModule>;
      try {
        // A top-level await that never settles (a connection that never comes) would hold the
        // start forever, and under the Functions host the instance with it.
        const imported = await settlesWithin(importModule(resolved.specifier), entry.startTimeout);
        if (!imported.settled) {
          return void problem(
            ['servers', name, 'module'],
            `${where} did not finish importing within ${entry.startTimeout / 1000} s (startTimeout)`,
          );
        }
        mod = imported.value as Partial<ServerModule>;
      } catch (error) {
        return void problem(['servers', name, 'module'], `${where} failed to import: ${firstLine(error)}`);
      }
      if (typeof mod.createServer !== 'function') {
        const hint = (mod as { default?: unknown }).default !== undefined ? ' (it has a default export: export createServer by name)' : '';
        return void problem(['servers', name, 'module'], `${where} does not export a createServer(ctx) function${hint}`);
      }
      let options: unknown = entry.options;
      if (mod.optionsSchema !== undefined) {
        if (typeof (mod.optionsSchema as { safeParse?: unknown } | null)?.safeParse !== 'function') {
          // A raw shape (`{ sides: z.number() }`, as SDK 1.x took tool schemas) is the usual slip.
          return void problem(
            ['servers', name, 'module'],
            `${where} exports an optionsSchema that is not a schema (it has no safeParse): export z.object({ … })`,
          );
        }
        let result: ReturnType<NonNullable<ServerModule['optionsSchema']>['safeParse']>;
        try {
          result = mod.optionsSchema.safeParse(entry.options);
        } catch (error) {
          // A refinement or transform of the module's own that throws instead of reporting an issue.
          return void problem(['servers', name, 'options'], `${where}: its optionsSchema threw: ${firstLine(error)}`);
        }
        if (!result.success) {
          for (const issue of issuesOf(result.error)) {
            problem(['servers', name, 'options', ...issue.path], `${where}: ${issue.message}`);
          }
          return undefined;
        }
        options = result.data;
      }
      return { name, entry, module: mod as ServerModule, options };
    }),
  );
  if (problems.length > 0) {
    problems.sort((a, b) => a.line - b.line || a.col - b.col);
    throw new ConfigError(config.file, problems);
  }
  return loaded.filter((server): server is LoadedServer => server !== undefined);
}

/**
 * `promise`'s value, or `settled: false` once `ms` have passed first (its rejection, if it comes
 * first, is thrown). What it was doing goes on: an import or a factory cannot be stopped. A value
 * that is no promise (a synchronous createServer, the usual one, on every 2026-07-28 request) is
 * settled already: no timer is set for it.
 */
export async function settlesWithin<T>(promise: Promise<T> | T, ms: number): Promise<{ settled: true; value: T } | { settled: false }> {
  if (typeof (promise as { then?: unknown } | null)?.then !== 'function') return { settled: true, value: promise as T };
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<{ settled: false }>((resolve) => (timer = setTimeout(() => resolve({ settled: false }), ms)));
  try {
    return await Promise.race([Promise.resolve(promise).then((value) => ({ settled: true as const, value })), late]);
  } finally {
    clearTimeout(timer);
  }
}

function issuesOf(error: unknown): Array<{ path: PropertyKey[]; message: string }> {
  const issues = (error as { issues?: Array<{ path?: PropertyKey[]; message?: string; keys?: string[] }> })?.issues;
  if (!Array.isArray(issues)) return [{ path: [], message: firstLine(error) }];
  return issues.map((issue) => ({
    path: issue.path ?? [],
    message: issue.keys ? `unknown option${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}` : String(issue.message),
  }));
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}
