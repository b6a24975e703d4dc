/**
 * The `callTimeout` of one request forwarded to a `command:` or `url:` route's server, kept by the
 * gateway instead of the SDK client's own request timeout, which cannot be stopped: a tool that
 * asks its client something for the call (an elicitation waits on a human, sampling on an LLM) is
 * not the one keeping the call waiting, so the clock stands still while the question is at the
 * client, and starts again from the whole `callTimeout` once the answer (or the error) is back:
 * the server now has what it waited for, as after a progress notification, which restarts it too.
 *
 * Expiry aborts {@link CallClock.signal} with the error the SDK's own timeout raises
 * (`SdkErrorCode.RequestTimeout`), so a call the clock ends is told apart, counted and answered
 * exactly as one the SDK timed out: the SDK's client cancels the request upstream and rejects
 * with that reason.
 */
import { SdkError, SdkErrorCode } from '@modelcontextprotocol/client';
import type { Milliseconds } from '../config/units.js';

export class CallClock {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  /** Questions at the client for this call: the clock stands still while there is one. */
  private waits = 0;
  private stopped = false;

  /** Aborts the clock's signal with `caller`'s reason, when the caller gives up first. */
  private readonly onCallerAbort: (() => void) | undefined;

  /**
   * `caller`: the downstream request's own signal (its client went away, or cancelled), which
   * aborts {@link signal} too. Linked by a listener, removed at {@link stop}, rather than
   * `AbortSignal.any`, whose composite signal Node tracks with weak references: a cost per call
   * that the remote route's benchmark showed.
   */
  constructor(
    private readonly timeout: Milliseconds,
    private readonly caller?: AbortSignal,
  ) {
    if (caller?.aborted) this.controller.abort(caller.reason);
    else if (caller) {
      this.onCallerAbort = () => this.controller.abort(caller.reason);
      caller.addEventListener('abort', this.onCallerAbort, { once: true });
    }
    this.restart();
  }

  /** Aborted when the call has been unanswered, and not waiting on its client, for `timeout`; or when the caller's is. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The call's whole `timeout` from now (progress came), unless a question holds the clock. */
  restart(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.stopped || this.waits > 0 || this.controller.signal.aborted) return;
    this.timer = setTimeout(() => {
      this.controller.abort(new SdkError(SdkErrorCode.RequestTimeout, 'Request timed out', { timeout: this.timeout }));
    }, this.timeout);
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
    if (this.onCallerAbort) this.caller?.removeEventListener('abort', this.onCallerAbort);
  }
}
