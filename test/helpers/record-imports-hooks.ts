/**
 * The resolve hook behind record-imports.ts: runs on Node's loader thread and appends each
 * resolved URL to `RECORD_IMPORTS_FILE`. Covers `import` and `import()`; a CommonJS package's own
 * `require`s of its files are not seen, but the package's entry is (its first `import`).
 */
import { appendFileSync } from 'node:fs';

type Resolve = (specifier: string, context: unknown) => Promise<{ url: string }>;

export async function resolve(specifier: string, context: unknown, nextResolve: Resolve): Promise<{ url: string }> {
  const resolved = await nextResolve(specifier, context);
  const file = process.env.RECORD_IMPORTS_FILE;
  if (file) appendFileSync(file, `${resolved.url}\n`);
  return resolved;
}
