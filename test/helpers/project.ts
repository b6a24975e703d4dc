/** Paths the tests share: they run from dist/test, so they find the project by its package.json. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${start}`);
  }
}

export const PROJECT_ROOT = findRoot(path.dirname(fileURLToPath(import.meta.url)));

/** A file under test/fixtures (the sources, not dist). */
export const fixturePath = (...parts: string[]) => path.join(PROJECT_ROOT, 'test', 'fixtures', ...parts);

/** The compiled gateway entry point, as host.json and `npm start` run it. */
export const GATEWAY_ENTRY = path.join(PROJECT_ROOT, 'dist', 'src', 'gateway', 'main.js');
