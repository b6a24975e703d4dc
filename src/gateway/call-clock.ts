/**
 * The `callTimeout` of one call, on every kind of route: a module's server handling a request
 * (protocol/call-deadline.ts) and a request forwarded to a `command:` or `url:` route's server
 * (upstreams/bridge.ts, which hands the SDK client the clock's signal instead of the client's own
 * timeout, which cannot be stopped). A tool that asks its client something for the call (an
 * elicitation waits on a person, sampling on an LLM) is not the one keeping the call waiting, so
 * the clock stands still while a question is at the client, and starts again from the whole
 * `callTimeout` once the answer (or the error) is back: the server now has what it waited for, as
 * after a progress notification, which restarts it too. It sits here, beside the two folders that
 * use it.
 */
import type { Milliseconds } from './config/units.js';

export class CallClock {
  private timer: NodeJS.Timeout | undefined;
  /** Questions at the client for this call: the clock stands still while there is one. */
  private waits = 0;
  private stopped = false;

  /** Starts the clock: `onExpire` runs once, if the call is unanswered and not waiting on its client for `timeout`. */
  constructor(
    private readonly timeout: Milliseconds,
    private readonly onExpire: () => void,
  ) {
    this.restart();
  }

  /** The call's whole `timeout` from now (progress came), unless a question holds the clock. */
  restart(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.stopped || this.waits > 0) return;
    // Only the call's answer waits on it: the timer must not hold the process open alone.
    this.timer = setTimeout(() => {
      this.stop();
      this.onExpire();
    }, this.timeout).unref();
  }

  /** A question for this call went to the client: the clock stands still until the returned end is called (once or more). */
  pause(): () => void {
    this.waits++;
    clearTimeout(this.timer);
    this.timer = undefined;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.waits--;
      this.restart();
    };
  }

  /** The call is over: nothing more to time. */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.stopped = true;
  }
}

/**
 * A {@link CallClock} as the SDK client's `signal` request option: `signal` aborts when the clock
 * runs out, with `timedOut()` (the bridge passes the error the SDK's own timeout raises, so a call
 * the clock ends is told apart, counted and answered exactly as one the SDK timed out; made there,
 * so that module routes, which use the clock too, do not load the SDK's client), or when `caller`
 * (the downstream request's signal) does, with its reason. Linked by a listener that
 * `stop` removes, not `AbortSignal.any`, whose composite signals Node tracks with weak references:
 * a cost per call the remote route's benchmark showed.
 */
export function signalClock(
  timeout: Milliseconds,
  caller: AbortSignal,
  timedOut: () => unknown,
): { clock: CallClock; signal: AbortSignal; stop(): void } {
  const controller = new AbortController();
  const clock = new CallClock(timeout, () => controller.abort(timedOut()));
  const onCallerAbort = () => controller.abort(caller.reason);
  if (caller.aborted) onCallerAbort();
  else caller.addEventListener('abort', onCallerAbort, { once: true });
  return {
    clock,
    signal: controller.signal,
    stop() {
      clock.stop();
      caller.removeEventListener('abort', onCallerAbort);
    },
  };
}
