import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { createLogBudget, type LogBudget, type LogBudgetOptions } from '../../src/gateway/upstreams/log-budget.js';
import { fakeClock } from '../helpers/fake-upstream.js';

/** A report the budget scheduled: when it is due, and whether it was cancelled. */
interface Scheduled {
  readonly ms: number;
  readonly run: () => void;
  cancelled: boolean;
}

describe('createLogBudget', () => {
  let clock: ReturnType<typeof fakeClock>;
  let scheduled: Scheduled[];
  let reports: number[];
  let budget: LogBudget;
  const build = (options: Partial<LogBudgetOptions> = {}) =>
    (budget = createLogBudget({
      onDropped: (dropped) => void reports.push(dropped),
      now: clock.now,
      schedule: (run, ms) => {
        const entry: Scheduled = { ms, run, cancelled: false };
        scheduled.push(entry);
        return () => void (entry.cancelled = true);
      },
      ...options,
    }));
  /** How many of `n` lines offered now are let through. */
  const offer = (n: number) => Array.from({ length: n }, () => budget.take()).filter(Boolean).length;
  /** Runs the scheduled reports not cancelled, as their timers would. */
  const fire = () => {
    for (const entry of scheduled.splice(0)) if (!entry.cancelled) entry.run();
  };

  beforeEach(() => {
    clock = fakeClock();
    scheduled = [];
    reports = [];
    build();
  });

  describe('what it lets through', () => {
    it('lets a burst of 200 lines through at once, and drops the next', () => {
      assert.equal(offer(200), 200);
      assert.equal(budget.take(), false);
    });

    it('lets 20 lines a second through after the burst, one every 50 ms', () => {
      offer(200);
      clock.advance(49);
      assert.equal(budget.take(), false);
      clock.advance(1);
      assert.equal(budget.take(), true);
      assert.equal(budget.take(), false);
      clock.advance(1000);
      assert.equal(offer(5000), 20);
    });

    it('holds no more than the burst after a long quiet', () => {
      offer(200);
      clock.advance(3_600_000);
      assert.equal(offer(5000), 200);
    });

    it('lets through at most the burst plus the rate over time, whatever is offered', () => {
      let through = 0;
      for (let ms = 0; ms <= 10_000; ms += 10) {
        through += offer(50);
        clock.advance(10);
      }
      // 200 at once, then 20/s over the 10 s (the last step's refill is not offered).
      assert.equal(through, 200 + 200);
    });

    it('takes other burst and rate settings', () => {
      build({ burst: 3, perSecond: 1 });
      assert.equal(offer(10), 3);
      clock.advance(2000);
      assert.equal(offer(10), 2);
    });

    it('refills nothing when the clock steps back', () => {
      offer(200);
      clock.advance(-5000);
      assert.equal(budget.take(), false);
      clock.advance(50);
      assert.equal(budget.take(), true);
    });
  });

  describe('how drops are reported', () => {
    it('schedules nothing and reports nothing while no line is dropped, and at the end', () => {
      offer(200);
      budget.end();
      assert.deepEqual(scheduled, []);
      assert.deepEqual(reports, []);
    });

    it("reports a run's count once, 10 s after its first drop", () => {
      offer(200 + 4800);
      assert.deepEqual(
        scheduled.map((entry) => entry.ms),
        [10_000],
      );
      assert.deepEqual(reports, []);
      offer(7);
      fire();
      assert.deepEqual(reports, [4807]);
    });

    it('starts a new run, with a timer of its own, at the first drop after a report', () => {
      offer(300);
      fire();
      clock.advance(60_000);
      offer(250);
      assert.equal(scheduled.length, 1);
      fire();
      assert.deepEqual(reports, [100, 50]);
    });

    it('reports what is left when the source ends, and cancels the pending timer', () => {
      offer(205);
      budget.end();
      assert.deepEqual(reports, [5]);
      assert.equal(scheduled.length, 1);
      assert.equal(scheduled[0]!.cancelled, true);
      fire();
      assert.deepEqual(reports, [5]);
    });

    it('reports nothing more at the end when the last run was reported', () => {
      offer(210);
      fire();
      budget.end();
      assert.deepEqual(reports, [10]);
    });

    it('starts no timer for lines dropped after the end, and counts them for the next end', () => {
      offer(201);
      budget.end();
      offer(3);
      assert.equal(scheduled.filter((entry) => !entry.cancelled).length, 0);
      budget.end();
      assert.deepEqual(reports, [1, 3]);
    });
  });

  describe('its settings', () => {
    it('refuses a burst that is not a whole number from 1, a rate not over 0, a negative report delay', () => {
      assert.throws(() => build({ burst: 0 }), /burst must be a whole number from 1, not 0/);
      assert.throws(() => build({ burst: 1.5 }), /burst must be a whole number from 1/);
      assert.throws(() => build({ perSecond: 0 }), /perSecond must be more than 0, not 0/);
      assert.throws(() => build({ perSecond: Number.NaN }), /perSecond must be more than 0/);
      assert.throws(() => build({ reportAfter: -1 }), /reportAfter must be 0 ms or more, not -1/);
    });
  });

  describe('by default', () => {
    it('reports on a timer of its own 10 s after the first drop, and end() clears it', (t) => {
      t.mock.timers.enable({ apis: ['setTimeout'] });
      const told: number[] = [];
      const real = createLogBudget({ onDropped: (dropped) => void told.push(dropped), burst: 1 });
      real.take();
      real.take();
      t.mock.timers.tick(9_999);
      assert.deepEqual(told, []);
      t.mock.timers.tick(1);
      assert.deepEqual(told, [1]);
      real.take();
      real.end();
      t.mock.timers.tick(20_000);
      assert.deepEqual(told, [1, 1]);
    });
  });
});
