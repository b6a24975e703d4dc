/**
 * What the request log keeps of long values, and what its stdout does when nobody reads it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { MAX_LOGGED_PATH, capForLog, levelOfMcp } from '../../src/gateway/logger.js';
import { PROJECT_ROOT } from '../helpers/project.js';
import { until } from '../helpers/until.js';

describe('capForLog', () => {
  it('keeps text up to the limit and cuts the rest, saying how much', () => {
    assert.equal(MAX_LOGGED_PATH, 256);
    assert.equal(capForLog('/mcp/time'), '/mcp/time');
    assert.equal(capForLog('x'.repeat(256)), 'x'.repeat(256));
    assert.equal(capForLog('x'.repeat(257)), `${'x'.repeat(256)}…[+1 chars]`);
    assert.equal(capForLog('abcdef', 2), 'ab…[+4 chars]');
  });
});

describe('levelOfMcp', () => {
  it("gives each of MCP's eight log levels the gateway's level for it, and anything else info", () => {
    const levels = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency', 'verbose', 'toString'];
    assert.deepEqual(
      levels.map((level) => levelOfMcp(level)),
      ['debug', 'info', 'info', 'warn', 'error', 'error', 'error', 'error', 'info', 'info'],
    );
  });
});

describe('stdoutLog', () => {
  /** A process logging through createLogger's default stdout, its stdout a pipe this test reads or not. */
  function logging(script: string) {
    const logger = pathToFileURL(path.join(PROJECT_ROOT, 'dist/src/gateway/logger.js')).href;
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', `import { createLogger } from ${JSON.stringify(logger)};\n${script}`],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, exited, stderr: () => stderr };
  }

  it('holds at most 8 MiB for a reader that stops reading, says so once, and keeps the process running', async () => {
    // 12 MiB of lines, then a timer: it fires only if logging left the event loop free.
    const { child, exited, stderr } = logging(`
      const logger = createLogger();
      for (let i = 0; i < 12_000; i++) logger.info({ pad: 'x'.repeat(1000) }, 'line');
      setTimeout(() => process.stderr.write('still serving\\n'), 50);`);
    child.stdout.pause();
    try {
      await until(() => stderr().includes('still serving'), 'the process runs on');
      assert.equal(stderr().match(/log: stdout is not being read \(8 MiB unwritten\); log lines are dropped until it is\n/g)?.length, 1);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  });

  it('drops what is left when its reader has gone, says so on stderr, and exits with its own code', async () => {
    const { child, exited, stderr } = logging(`
      const logger = createLogger();
      setTimeout(() => { for (let i = 0; i < 100; i++) logger.info('after the reader went'); process.exit(3); }, 200);`);
    child.stdout.destroy();
    assert.equal(await exited, 3);
    assert.equal(stderr().match(/log: stdout is closed \(EPIPE\); log lines are dropped from now on\n/g)?.length, 1);
  });
});
