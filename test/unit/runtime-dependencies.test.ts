/**
 * The deployed app installs `dependencies` only (`npm ci --omit=dev`, scripts/stage-deployment.ts):
 * a package that the built gateway or its servers import at run time but that package.json lists
 * under devDependencies (or not at all) works in every test here and fails on Azure at the first
 * cold start that loads it. This reads every import of the build that is deployed (dist/src,
 * dist/servers), static and dynamic, with TypeScript's own scanner, and the packages gateway.yaml
 * names, and checks each against package.json.
 */
import assert from 'node:assert/strict';
import { builtinModules } from 'node:module';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';
import { parse as parseYaml } from 'yaml';
import { PROJECT_ROOT } from '../helpers/project.js';

const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const BUILTINS = new Set(builtinModules);

/** The package a bare specifier names (`@scope/name/sub` → `@scope/name`), or undefined for a path, URL or builtin. */
export function packageOf(specifier: string): string | undefined {
  if (/^(\.|\/|[a-z]+:)/i.test(specifier) || BUILTINS.has(specifier) || BUILTINS.has(specifier.split('/')[0]!)) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/**
 * Every bare package the JavaScript files under `dir` import, with the files importing it. Only
 * the build of a source that exists (`dist/src/x.js` of `src/x.ts`): a build folder that is not
 * cleaned keeps the output of files since moved or deleted, which `npm run stage` (which builds
 * afresh) never deploys.
 */
function importsUnder(dir: string): Map<string, string[]> {
  const sources = path.join(PROJECT_ROOT, path.relative(path.join(PROJECT_ROOT, 'dist'), dir));
  const found = new Map<string, string[]>();
  const walk = (relative: string) => {
    for (const entry of readdirSync(path.join(dir, relative), { withFileTypes: true })) {
      const child = path.join(relative, entry.name);
      if (entry.isDirectory()) walk(child);
      else if (entry.name.endsWith('.js') && existsSync(path.join(sources, child.replace(/\.js$/, '.ts')))) {
        const { importedFiles } = ts.preProcessFile(readFileSync(path.join(dir, child), 'utf8'), true, true);
        for (const { fileName } of importedFiles) {
          const name = packageOf(fileName);
          if (name) found.set(name, [...(found.get(name) ?? []), path.join(path.basename(dir), child)]);
        }
      }
    }
  };
  walk('');
  return found;
}

describe('runtime dependencies', () => {
  const dist = path.join(PROJECT_ROOT, 'dist');

  it('reads package names from specifiers as Node resolves them', () => {
    assert.equal(packageOf('yaml'), 'yaml');
    assert.equal(packageOf('@opentelemetry/api'), '@opentelemetry/api');
    assert.equal(packageOf('@modelcontextprotocol/server/validators'), '@modelcontextprotocol/server');
    assert.equal(packageOf('zod/v4'), 'zod');
    for (const notAPackage of ['node:fs', 'fs', 'fs/promises', './config.js', '../x.js', '/abs/x.js', 'file:///x.js']) {
      assert.equal(packageOf(notAPackage), undefined, notAPackage);
    }
  });

  it('imports, in the deployed build (dist/src, dist/servers), only packages listed in dependencies', () => {
    assert.ok(existsSync(path.join(dist, 'src', 'gateway', 'main.js')), 'the build exists (npm test builds it)');
    const imports = new Map<string, string[]>();
    for (const folder of ['src', 'servers']) {
      for (const [name, files] of importsUnder(path.join(dist, folder))) imports.set(name, [...(imports.get(name) ?? []), ...files]);
    }
    // The scan sees what the gateway is known to load, so an empty or partial scan fails here.
    for (const known of ['@modelcontextprotocol/server', '@modelcontextprotocol/client', 'yaml', 'zod', 'pino', 'express', 'jose']) {
      assert.ok(imports.has(known), `the scan finds ${known}`);
    }
    const missing = [...imports].filter(([name]) => !(name in pkg.dependencies));
    assert.deepEqual(
      missing.map(([name, files]) => `${name}${name in pkg.devDependencies ? ' (a devDependency)' : ''}: ${files.slice(0, 3).join(', ')}`),
      [],
      'imported at run time but not installed by npm ci --omit=dev',
    );
  });

  it("has every package that gateway.yaml's routes load (module: <package>, node_modules/<package>/… in command or args) in dependencies", () => {
    const config = parseYaml(readFileSync(path.join(PROJECT_ROOT, 'gateway.yaml'), 'utf8')) as {
      servers: Record<string, { module?: string; command?: string; args?: string[] }>;
    };
    const named: string[] = [];
    for (const server of Object.values(config.servers)) {
      const module = server.module === undefined ? undefined : packageOf(server.module);
      if (module) named.push(module);
      for (const word of [server.command ?? '', ...(server.args ?? [])]) {
        const inModules = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(word);
        if (inModules) named.push(inModules[1]!);
      }
    }
    assert.ok(Object.keys(config.servers).length > 0, 'gateway.yaml declares routes');
    assert.deepEqual(
      named.filter((name) => !(name in pkg.dependencies)),
      [],
      'a route loads a package that the deployment does not install',
    );
  });
});
