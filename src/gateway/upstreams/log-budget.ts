/**
 * How many lines one upstream source may write to the gateway's log: a token bucket per source (a
 * child's stderr, its stdout lines that are not JSON-RPC, an upstream connection's log messages and
 * its warnings of answers to no request), so that a chatty or broken server cannot flood the log,
 * which on Azure is Application Insights ingestion: paid for, and throttled past a quota.
 *
 * A source may log a burst at once, then a steady rate. What it writes beyond is dropped and
 * counted, and the count reported once per run of drops, a while after the first one (a source
 * that keeps flooding costs one warning per `reportAfter`, not one per line), or when the source
 * ends, whichever comes first. An ended budget holds no timer.
 */
import type { Milliseconds } from '../config/units.js';

/** Lines a source may log at once (a server's start-up output, a stack trace). */
export const LOG_BUDGET_BURST = 200;
/** Lines per second a source may log after its burst, for as long as it keeps writing. */
export const LOG_BUDGET_PER_SECOND = 20;
/** How long after the first dropped line of a run the count is reported. */
export const LOG_BUDGET_REPORT_AFTER: Milliseconds = 10_000;

export interface LogBudgetOptions {
  /** Told how many lines were dropped since the last report: once per run of drops, and at `end()`; never with 0. */
  readonly onDropped: (dropped: number) => void;
  /** Lines logged at once, before the rate applies; a whole number from 1. Default {@link LOG_BUDGET_BURST}. */
  readonly burst?: number;
  /** Lines per second after the burst; more than 0. Default {@link LOG_BUDGET_PER_SECOND}. */
  readonly perSecond?: number;
  /** How long after a run's first dropped line its count is reported. Default {@link LOG_BUDGET_REPORT_AFTER}. */
  readonly reportAfter?: Milliseconds;
  /** The clock, in milliseconds. Default `performance.now()`. */
  readonly now?: () => Milliseconds;
  /**
   * Runs `report` after `ms` and returns what cancels it. Default: `setTimeout`, unref'd, so that a
   * pending report never keeps the gateway's process alive at shutdown.
   */
  readonly schedule?: (report: () => void, ms: Milliseconds) => () => void;
}

export interface LogBudget {
  /** Whether one more line may be logged now; a line refused is counted as dropped. */
  take(): boolean;
  /**
   * The source ended (the child exited, the connection closed): reports what was dropped and not
   * reported yet, and cancels the pending report. A line refused after this is counted for the
   * next `end()`, with no timer.
   */
  end(): void;
}

const unrefTimeout = (report: () => void, ms: Milliseconds): (() => void) => {
  const timer = setTimeout(report, ms);
  timer.unref();
  return () => clearTimeout(timer);
};

export function createLogBudget(options: LogBudgetOptions): LogBudget {
  const {
    onDropped,
    burst = LOG_BUDGET_BURST,
    perSecond = LOG_BUDGET_PER_SECOND,
    reportAfter = LOG_BUDGET_REPORT_AFTER,
    now = () => performance.now(),
    schedule = unrefTimeout,
  } = options;
  if (!Number.isInteger(burst) || burst < 1) throw new RangeError(`log budget: burst must be a whole number from 1, not ${burst}`);
  if (!(perSecond > 0) || !Number.isFinite(perSecond)) throw new RangeError(`log budget: perSecond must be more than 0, not ${perSecond}`);
  if (!(reportAfter >= 0) || !Number.isFinite(reportAfter)) {
    throw new RangeError(`log budget: reportAfter must be 0 ms or more, not ${reportAfter}`);
  }

  // Counted in thousandths of a line, so that a whole clock in ms and a whole rate refill exactly
  // (one line every 50 ms at 20/s), with no drift from adding fractions.
  const full = burst * 1000;
  let credit = full;
  let filled = now();
  let dropped = 0;
  let cancelReport: (() => void) | undefined;
  let ended = false;

  const report = () => {
    cancelReport?.();
    cancelReport = undefined;
    if (dropped === 0) return;
    const count = dropped;
    dropped = 0;
    onDropped(count);
  };

  return {
    take() {
      const at = now();
      // A clock that steps back (it should not) refills nothing.
      credit = Math.min(full, credit + Math.max(at - filled, 0) * perSecond);
      filled = at;
      if (credit >= 1000) {
        credit -= 1000;
        return true;
      }
      dropped++;
      if (dropped === 1 && !ended) cancelReport = schedule(report, reportAfter);
      return false;
    },
    end() {
      ended = true;
      report();
    },
  };
}
