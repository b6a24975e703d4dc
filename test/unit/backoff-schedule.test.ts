import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import {
  createBackoffSchedule,
  type Admission,
  type BackoffSchedule,
  type Refusal,
  type Ticket,
  type Verdict,
} from '../../src/gateway/backoff-schedule.js';
import { fakeClock } from '../helpers/fake-upstream.js';

const SUCCESS: Verdict = { kind: 'success' };
const NEUTRAL: Verdict = { kind: 'neutral' };
const failure = (error = '503', retryAfter?: number): Verdict => ({
  kind: 'failure',
  error,
  ...(retryAfter === undefined ? {} : { retryAfter }),
});

describe('createBackoffSchedule', () => {
  let clock: ReturnType<typeof fakeClock>;
  let schedule: BackoffSchedule;
  const build = (options: { afterFailures?: number; initial?: number; max?: number } = {}) =>
    (schedule = createBackoffSchedule({ afterFailures: 2, initial: 1000, max: 30_000, now: clock.now, ...options }));
  /** The admission's ticket; fails the test when it was refused. */
  const go = (admission: Admission = schedule.admit()): Ticket => {
    assert.equal(admission.kind, 'go', `refused: ${JSON.stringify(admission)}`);
    return (admission as Extract<Admission, { kind: 'go' }>).ticket;
  };
  /** Seconds until the next try of a refused admission, or 'go'. */
  const brief = (): number | 'go' => {
    const admission = schedule.admit();
    return admission.kind === 'go' ? 'go' : admission.retryAfterSeconds;
  };
  /** Two failures in a row: backing off for 1 s. */
  const trip = () => {
    schedule.settle(failure(), go());
    schedule.settle(failure(), go());
  };

  beforeEach(() => {
    clock = fakeClock();
    build();
  });

  describe('when to back off', () => {
    it('lets attempts go after one failure and refuses them after the second in a row', () => {
      schedule.settle(failure(), go());
      assert.equal(brief(), 'go');
      schedule.settle(failure(), go());
      assert.deepEqual(schedule.admit(), {
        kind: 'refused',
        retryAfterSeconds: 1,
        probing: false,
        consecutiveFailures: 2,
        lastError: '503',
      });
    });

    it('counts failures in a row only: a success in between starts the count again', () => {
      schedule.settle(failure(), go());
      schedule.settle(SUCCESS, go());
      schedule.settle(failure(), go());
      assert.equal(brief(), 'go');
    });

    it('says nothing of a neutral outcome', () => {
      schedule.settle(failure(), go());
      schedule.settle(NEUTRAL, go());
      assert.deepEqual(schedule.state(), { state: 'ok', consecutiveFailures: 1, lastError: '503' });
    });

    it('counts an outcome settled without a ticket, and backs off at the threshold', () => {
      schedule.settle(failure('exited with code 1'));
      schedule.settle(failure('exited with code 1'));
      assert.deepEqual(schedule.admit(), {
        kind: 'refused',
        retryAfterSeconds: 1,
        probing: false,
        consecutiveFailures: 2,
        lastError: 'exited with code 1',
      });
    });

    it('backs off at once for what a retryAfter asks when longer than initial, up to max', () => {
      schedule.settle(failure('429', 10_000), go());
      assert.equal(brief(), 10);
      clock.advance(9_999);
      assert.equal(brief(), 1);
      clock.advance(1);
      schedule.settle(failure('503', 3_600_000), go());
      assert.equal(brief(), 30, 'the probe asked for an hour: capped at max');
      build();
      schedule.settle(failure('503', 0), go());
      assert.equal(brief(), 1, 'asking for less than initial still backs off for initial');
    });

    it('starts from initial and doubles up to max with its own settings', () => {
      build({ afterFailures: 3, initial: 5000, max: 8000 });
      for (let i = 0; i < 3; i++) schedule.settle(failure(), go());
      assert.equal(brief(), 5);
      clock.advance(5000);
      schedule.settle(failure(), go());
      assert.equal(brief(), 8);
    });
  });

  describe('probes', () => {
    it('refuses every attempt until the interval has passed, then lets one go as the probe', () => {
      trip();
      clock.advance(998);
      assert.equal(brief(), 1);
      clock.advance(1);
      assert.equal((schedule.admit() as Refusal).probing, false, 'no probe yet: the interval is running');
      clock.advance(1);
      const probe = go();
      assert.equal(brief(), 1, 'the others wait for the probe');
      assert.equal(brief(), 1);
      // Said as such: the next may go once the probe settles, not at the end of an interval.
      assert.equal((schedule.admit() as Refusal).probing, true);
      clock.advance(20_000);
      assert.deepEqual([brief(), (schedule.admit() as Refusal).probing], [1, true], 'a probe that takes long is still the probe');
      assert.equal(schedule.state().state, 'probing');
      schedule.settle(SUCCESS, probe);
      assert.equal(brief(), 'go');
    });

    it('doubles the interval with each failed probe, from 1 s up to 30 s', () => {
      trip();
      const intervals: number[] = [];
      for (let round = 0; round < 7; round++) {
        const interval = brief() as number;
        intervals.push(interval);
        clock.advance(interval * 1000);
        schedule.settle(failure(), go());
      }
      assert.deepEqual(intervals, [1, 2, 4, 8, 16, 30, 30]);
    });

    it('gives the turn back when the probe is neutral: the interval stays and the next attempt probes', () => {
      trip();
      clock.advance(1000);
      schedule.settle(NEUTRAL, go());
      const next = go();
      assert.equal(brief(), 1);
      schedule.settle(failure(), next);
      assert.equal(brief(), 2, 'the neutral probe did not count; this one doubled the interval');
    });

    it('resets on any success, with or without the probe ticket', () => {
      trip();
      clock.advance(1000);
      const probe = go();
      schedule.settle(SUCCESS);
      assert.equal(brief(), 'go');
      schedule.settle(failure(), probe);
      assert.equal(brief(), 'go', 'the probe of a reset schedule is a failure like any other: one in a row');
      schedule.settle(failure(), go());
      assert.equal(brief(), 1, 'the next outage starts at initial again');
    });

    it('keeps the schedule when a failure is not the probe: an attempt that went before the backoff began', () => {
      const early = go();
      trip();
      clock.advance(500);
      schedule.settle(failure(), early);
      assert.equal(brief(), 1, 'still the 1 s interval, with half of it left');
      assert.equal(schedule.state().consecutiveFailures, 3);
    });

    it('counts a ticket as the probe only the first time it is settled', () => {
      trip();
      clock.advance(1000);
      const probe = go();
      schedule.settle(NEUTRAL, probe);
      schedule.settle(failure(), probe);
      assert.equal(brief(), 'go', 'the second settlement did not double the interval, and the turn is free');
    });

    it('lets another probe go once one has been in flight for max without settling', () => {
      trip();
      clock.advance(1000);
      const stuck = go();
      clock.advance(29_999);
      assert.equal(brief(), 1);
      clock.advance(1);
      const next = go();
      assert.equal(schedule.state().state, 'probing');
      schedule.settle(failure(), stuck);
      assert.equal(schedule.state().intervalSeconds, 1, 'the probe given up on does not double the interval');
      schedule.settle(failure(), next);
      assert.equal(schedule.state().intervalSeconds, 2);
    });
  });

  describe('state()', () => {
    it('reports the state, the failures, the next try, the interval and the last error', () => {
      assert.deepEqual(schedule.state(), { state: 'ok', consecutiveFailures: 0 });
      schedule.settle(failure('timeout'), go());
      assert.deepEqual(schedule.state(), { state: 'ok', consecutiveFailures: 1, lastError: 'timeout' });
      schedule.settle(failure('ECONNREFUSED'), go());
      clock.advance(400);
      assert.deepEqual(schedule.state(), {
        state: 'backingOff',
        consecutiveFailures: 2,
        retryInSeconds: 1,
        intervalSeconds: 1,
        lastError: 'ECONNREFUSED',
      });
      clock.advance(600);
      assert.equal(schedule.state().retryInSeconds, 0, 'the next attempt may go');
      const probe = go();
      assert.deepEqual(schedule.state(), {
        state: 'probing',
        consecutiveFailures: 2,
        retryInSeconds: 0,
        intervalSeconds: 1,
        lastError: 'ECONNREFUSED',
      });
      schedule.settle(SUCCESS, probe);
      assert.deepEqual(schedule.state(), { state: 'ok', consecutiveFailures: 0, lastError: 'ECONNREFUSED' });
    });
  });
});
