/**
 * When to open again a `subscriptions/listen` stream that a 2026-07-28 upstream ended while its
 * connection stays up: without one, its resource updates or list changes stop reaching clients.
 * By the route's backoff schedule (`cache.backoff`, backoff-schedule.ts), one per stream the
 * connection keeps:
 *
 * - A stream the upstream ends counts as a failure, and so does a new one it refuses. Below
 *   `afterFailures` in a row the stream is opened again at once; past them, once per interval
 *   (1 s, doubling to 30 s by default): a server that ends or refuses every stream is not asked in
 *   a loop.
 * - A stream that stayed open for `max` before it ended resets the count first: it was cut after
 *   serving (as proxies cut long responses), not refused.
 * - A stream opened again is no success by being acknowledged: a server may acknowledge and end
 *   each one. Only its lasting is.
 *
 * What the route's streams come to, over all its connections, is counted in one
 * {@link ListenStreams} per route: `upstream.listenStreams` in /status.json.
 */
import { createBackoffSchedule, type BackoffSchedule, type BackoffSettings, type Ticket } from '../backoff-schedule.js';
import type { Logger } from '../logger.js';

/** The `subscriptions/listen` streams a route keeps upstream on this instance, over all its connections. */
export interface ListenStreamsStatus {
  /** Streams open upstream now: a connection's list changes, and its resource updates. */
  readonly open: number;
  /** Streams the upstream ended that wait for the route's backoff interval before they are opened again. */
  readonly waiting: number;
  /** Streams the upstream ended while their connection stayed up, since start. */
  readonly ended: number;
  /** Streams opened again after the upstream ended one (or refused one opened again), since start. */
  readonly reopened: number;
}

/**
 * The route's counts: each connection's streams and reopenings add to the same one, so that
 * reading it costs nothing per connection and what connections that went away did still counts.
 */
export class ListenStreams {
  open = 0;
  waiting = 0;
  ended = 0;
  reopened = 0;

  /** A stream opened upstream: counted as open until it closes, however it does. */
  track(stream: { readonly closed: Promise<unknown> }): void {
    this.open++;
    void stream.closed.then(() => this.open--);
  }

  status(): ListenStreamsStatus {
    return { open: this.open, waiting: this.waiting, ended: this.ended, reopened: this.reopened };
  }
}

export interface ListenReopeningOptions {
  /** The route's `cache.backoff` and clock. */
  readonly backoff: BackoffSettings;
  /**
   * Opens the stream again; true when one is open (or none is needed any more), false when the
   * upstream refused it. A stream it opens calls {@link ListenReopening.opened} before it resolves.
   */
  readonly reopen: () => Promise<boolean>;
  readonly log: Logger;
  /** What the stream carries, for the log: `resource updates`, `list changes`. */
  readonly carries: string;
  /** The route's counts, which this adds its ends, waits and reopenings to. */
  readonly counts: ListenStreams;
}

export class ListenReopening {
  private readonly schedule: BackoffSchedule;
  /** The admission of the attempt under way or of the stream it opened, until that stream ends. */
  private ticket: Ticket | undefined;
  private timer: NodeJS.Timeout | undefined;
  private attempting = false;
  /** A stream the attempt under way opened ended before the attempt was done: try again after it. */
  private again: { fields: Record<string, unknown>; why: string | undefined } | undefined;
  private stopped = false;

  constructor(private readonly options: ListenReopeningOptions) {
    this.schedule = createBackoffSchedule(options.backoff);
  }

  /** A stream opened now: the returned function is to be called if the upstream ends it. */
  opened(): (how: string) => void {
    if (this.attempting) this.options.counts.reopened++;
    const since = this.options.backoff.now();
    const ticket = this.ticket;
    this.ticket = undefined;
    let told = false;
    return (how) => {
      if (told || this.stopped) return;
      told = true;
      this.options.counts.ended++;
      if (this.options.backoff.now() - since >= this.options.backoff.max) this.schedule.settle(SUCCESS);
      this.schedule.settle({ kind: 'failure', error: 'ended' }, ticket);
      this.attempt({ how }, `the upstream ended the subscriptions/listen stream of ${this.options.carries}`);
    };
  }

  /** The connection has gone: nothing is opened again. */
  stop(): void {
    this.stopped = true;
    if (this.timer) this.options.counts.waiting--;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Opens the stream again now, or sets a timer for when the schedule lets it; `why` is logged. */
  private attempt(fields: Record<string, unknown>, why?: string): void {
    if (this.stopped || this.timer) return;
    if (this.attempting) {
      this.again = { fields, why };
      return;
    }
    const admission = this.schedule.admit();
    const { log } = this.options;
    if (admission.kind === 'refused') {
      const { retryAfterSeconds } = admission;
      if (why) log.warn({ ...fields, retryInSeconds: retryAfterSeconds }, `${why}; the gateway opens it again in ${retryAfterSeconds} s`);
      this.options.counts.waiting++;
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.options.counts.waiting--;
        this.attempt({});
      }, retryAfterSeconds * 1000).unref();
      return;
    }
    if (why) log.warn(fields, `${why}; the gateway opens it again`);
    const { ticket } = admission;
    this.ticket = ticket;
    this.attempting = true;
    void this.options
      .reopen()
      .catch(() => false)
      .then((open) => {
        this.attempting = false;
        const again = this.again;
        this.again = undefined;
        // Else taken by the stream it opened, which settles it when it ends.
        if (this.ticket === ticket) {
          this.ticket = undefined;
          if (!open) {
            this.schedule.settle({ kind: 'failure', error: 'refused' }, ticket);
            return this.attempt({}, `the upstream refused to open the subscriptions/listen stream of ${this.options.carries} again`);
          }
          this.schedule.settle(NEUTRAL, ticket);
        }
        if (again) this.attempt(again.fields, again.why);
      });
  }
}

const SUCCESS = { kind: 'success' } as const;
const NEUTRAL = { kind: 'neutral' } as const;
