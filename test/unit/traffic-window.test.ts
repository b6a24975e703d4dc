import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bucketOf, createTrafficWindow } from '../../src/gateway/telemetry/traffic-window.js';

const MINUTE = 60_000;

describe('traffic window', () => {
  it('counts requests and errors per key and in all, with percentiles within the bucket width', () => {
    let now = 10 * MINUTE;
    const window = createTrafficWindow({ now: () => now });
    for (let i = 1; i <= 100; i++) window.record('time', 'tools/call get_current_time', { ms: i });
    window.record('time', 'tools/call get_current_time', { ms: 3, error: true, tag: 'tool_error' });
    window.record('time', 'tools/list', { ms: 1 });
    const group = window.group('time');
    assert.equal(group.requests, 102);
    assert.equal(group.errors, 1);
    assert.deepEqual(group.tags, { tool_error: 1 });
    const call = group.keys[0]!;
    assert.equal(call.key, 'tools/call get_current_time');
    assert.equal(call.requests, 101);
    assert.ok(Math.abs(call.p50Ms! - 50) / 50 < 0.13, `p50 ${call.p50Ms}`);
    assert.ok(Math.abs(call.p95Ms! - 95) / 95 < 0.13, `p95 ${call.p95Ms}`);
    assert.deepEqual(group.perMinute.at(-1), { requests: 102, errors: 1 });
    assert.equal(group.perMinute.length, 15);
    now += MINUTE;
    assert.equal(window.group('time').perMinute.at(-2)!.requests, 102);
  });

  it('forgets what is older than the window for totals, and than the history for the chart', () => {
    let now = 100 * MINUTE;
    const window = createTrafficWindow({ now: () => now, windowMinutes: 5, historyMinutes: 15 });
    window.record('r', 'ping', { ms: 1 });
    now += 5 * MINUTE;
    window.record('r', 'ping', { ms: 1 });
    const group = window.group('r');
    assert.equal(group.requests, 1, 'the first is past the 5 minutes');
    assert.equal(
      group.perMinute.reduce((sum, m) => sum + m.requests, 0),
      2,
    );
    now += 15 * MINUTE;
    assert.equal(
      window.group('r').perMinute.reduce((sum, m) => sum + m.requests, 0),
      0,
    );
    assert.deepEqual(window.group('r').keys, []);
  });

  it('counts keys past the limit as _OTHER, and says null with nothing timed', () => {
    const window = createTrafficWindow({ maxKeys: 2 });
    for (const key of ['a', 'b', 'c', 'd']) window.record('r', key, {});
    assert.deepEqual(
      window.group('r').keys.map((k) => [k.key, k.requests, k.p50Ms]),
      [
        ['_OTHER', 2, null],
        ['a', 1, null],
        ['b', 1, null],
      ],
    );
  });

  it('past the limit, makes room by forgetting a key with nothing left in the history', () => {
    let now = 100 * MINUTE;
    const window = createTrafficWindow({ now: () => now, maxKeys: 2 });
    window.record('r', 'a', {});
    now += 10 * MINUTE;
    window.record('r', 'b', {});
    now += 6 * MINUTE;
    // a is 16 minutes old, past the 15 of history; b is not.
    window.record('r', 'c', {});
    window.record('r', 'd', {});
    assert.deepEqual(
      window.group('r').keys.map((k) => [k.key, k.requests]),
      [
        ['_OTHER', 1],
        ['c', 1],
      ],
    );
    assert.deepEqual(window.group('r').perMinute.at(-7), { requests: 1, errors: 0 }, 'b is still in the chart');
  });

  it('buckets latencies on a log scale from 0.05 ms', () => {
    assert.equal(bucketOf(0), 0);
    assert.equal(bucketOf(0.05), 0);
    assert.equal(bucketOf(0.06), 1);
    assert.equal(bucketOf(1e9), 63);
  });
});
