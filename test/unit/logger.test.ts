/**
 * What the request log keeps of long values.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_LOGGED_PATH, capForLog, levelOfMcp } from '../../src/gateway/logger.js';

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
