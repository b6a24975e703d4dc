/**
 * Temporary folders for tests, removed when the test file's process exits. `node --test` runs each
 * file in a process of its own, so no folder outlives the file that made it, however its tests
 * ended (a failed assertion, a timeout); a test that removes its folder itself may still do so.
 * Without this, every run of `npm test` left a few hundred folders in the system's temporary
 * folder, with the gateway.yaml files and fixtures the tests wrote.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const made: string[] = [];
process.once('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/**
 * A new empty folder under the system's temporary folder, named `<prefix>-XXXXXX`, removed when
 * this process exits.
 *
 * @example
 * const config = path.join(tempDir('gateway-test'), 'gateway.yaml');
 */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `${prefix}-`));
  made.push(dir);
  return dir;
}
