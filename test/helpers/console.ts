/**
 * What reached `console.error` while a test watched it: the Node bridge (@hono/node-server) logs
 * a response stream that errors there, and writes the error into the response, so a stream the
 * gateway cuts must end without one.
 */
import assert from 'node:assert/strict';
import { mock } from 'node:test';

/** Watches `console.error` until `check` is called; `check` asserts nothing came, and stops watching. */
export function watchConsoleErrors(): { check(): void; restore(): void } {
  const consoleErrors = mock.method(console, 'error');
  return {
    check() {
      assert.deepEqual(
        consoleErrors.mock.calls.map((c) => String(c.arguments[0])),
        [],
        'nothing on the console: the warning is the log line',
      );
    },
    restore: () => consoleErrors.mock.restore(),
  };
}
