/**
 * The listen address and log level read from the environment, checked before anything starts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EnvironmentError, processSettings } from '../../src/gateway/config/environment.js';

function problemsOf(env: NodeJS.ProcessEnv): readonly string[] {
  try {
    processSettings(env);
  } catch (error) {
    assert.ok(error instanceof EnvironmentError);
    assert.equal(error.code, 'invalid_environment');
    return error.problems;
  }
  assert.fail('expected an EnvironmentError');
}

describe('processSettings', () => {
  it('defaults to 127.0.0.1:7071 at info, empty values counting as unset', () => {
    assert.deepEqual(processSettings({}), { port: 7071, portFrom: undefined, host: '127.0.0.1', logLevel: 'info' });
    assert.deepEqual(processSettings({ PORT: '', HOST: ' ', LOG_LEVEL: '' }), {
      port: 7071,
      portFrom: undefined,
      host: '127.0.0.1',
      logLevel: 'info',
    });
  });

  it("takes the Functions host's port over PORT, 0 for a free port, and a level in any case", () => {
    assert.deepEqual(processSettings({ FUNCTIONS_CUSTOMHANDLER_PORT: '7072', PORT: '8080', LOG_LEVEL: 'WARN' }), {
      port: 7072,
      portFrom: 'FUNCTIONS_CUSTOMHANDLER_PORT',
      host: '127.0.0.1',
      logLevel: 'warn',
    });
    assert.equal(processSettings({ PORT: '0' }).port, 0);
  });

  it('refuses a port or a level it cannot use, naming each variable at once', () => {
    assert.deepEqual(problemsOf({ PORT: 'abc', LOG_LEVEL: 'verbose' }), [
      'PORT "abc" is not a port: use a whole number from 0 to 65535 (0 picks a free port)',
      'LOG_LEVEL "verbose" is not a level: use one of trace, debug, info, warn, error, fatal, silent',
    ]);
    for (const bad of ['99999', '-1', '80.5', '0x50', '1e3']) {
      assert.match(
        problemsOf({ FUNCTIONS_CUSTOMHANDLER_PORT: bad, PORT: '8080' })[0]!,
        /^FUNCTIONS_CUSTOMHANDLER_PORT ".*" is not a port/,
        bad,
      );
    }
  });
});
