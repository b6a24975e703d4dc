import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { afterEach, describe, it } from 'node:test';
import { createLogger } from '../../src/gateway/logger.js';
import { ListenReopening, ListenStreams } from '../../src/gateway/upstreams/listen-reopening.js';
import { fakeClock } from '../helpers/fake-upstream.js';

/** An upstream's listen stream as the reopening sees it: opened, and perhaps ended by the upstream. */
function harness(answers: boolean[] = [], { endsAtOnce = false } = {}) {
  const clock = fakeClock();
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  const ends: Array<(how: string) => void> = [];
  let reopened = 0;
  const counts = new ListenStreams();
  const reopening: ListenReopening = new ListenReopening({
    backoff: { afterFailures: 2, initial: 1000, max: 30_000, now: clock.now },
    carries: 'resource updates',
    counts,
    log: createLogger({ level: 'debug', destination }),
    reopen: async () => {
      reopened++;
      const open = answers.shift() ?? true;
      if (open) ends.push(reopening.opened());
      // The upstream ends it before the attempt that opened it is done.
      if (open && endsAtOnce) ends.pop()!('remote');
      return open;
    },
  });
  return {
    clock,
    reopening,
    counts,
    /** A stream opened by demand (the set watched changed). */
    open: () => ends.push(reopening.opened()),
    /** The upstream ends the newest stream. */
    end: async () => {
      ends.pop()!('remote');
      await new Promise((resolve) => setImmediate(resolve));
    },
    reopened: () => reopened,
    /** The seconds a warning said the next try waits, if one did. */
    waits: () => lines.filter((line) => line.retryInSeconds !== undefined).map((line) => line.retryInSeconds),
  };
}

describe('ListenReopening', () => {
  let stop: (() => void) | undefined;
  afterEach(() => stop?.());

  it('opens a stream the upstream ended again at once, and waits the interval once ends come in a row', async () => {
    const h = harness();
    stop = () => h.reopening.stop();
    h.open();
    await h.end();
    assert.equal(h.reopened(), 1);
    await h.end();
    assert.equal(h.reopened(), 1);
    assert.deepEqual(h.waits(), [1]);
  });

  it('counts a refused reopen as a failure too', async () => {
    const h = harness([false]);
    stop = () => h.reopening.stop();
    h.open();
    await h.end();
    assert.equal(h.reopened(), 1);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(h.waits(), [1]);
  });

  it('takes a stream that stayed open for max as one that served: its end is opened again at once', async () => {
    const h = harness();
    stop = () => h.reopening.stop();
    h.open();
    await h.end();
    h.clock.advance(30_000);
    await h.end();
    assert.equal(h.reopened(), 2);
    assert.deepEqual(h.waits(), []);
  });

  it('counts a stream that ended before the attempt that opened it was done', async () => {
    const h = harness([], { endsAtOnce: true });
    stop = () => h.reopening.stop();
    h.open();
    await h.end();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(h.reopened(), 1);
    assert.deepEqual(h.waits(), [1]);
  });

  it("counts the route's ends, waits and reopenings, and no longer waits once stopped", async () => {
    const h = harness();
    h.open();
    assert.deepEqual(h.counts.status(), { open: 0, waiting: 0, ended: 0, reopened: 0 });
    await h.end();
    // Opened again at once: one end, one reopening, nothing waiting.
    assert.deepEqual(h.counts.status(), { open: 0, waiting: 0, ended: 1, reopened: 1 });
    await h.end();
    // The second end in a row waits the interval.
    assert.deepEqual(h.counts.status(), { open: 0, waiting: 1, ended: 2, reopened: 1 });
    h.clock.advance(1000);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.deepEqual(h.counts.status(), { open: 0, waiting: 0, ended: 2, reopened: 2 });
    await h.end();
    assert.equal(h.counts.waiting, 1);
    h.reopening.stop();
    assert.deepEqual(h.counts.status(), { open: 0, waiting: 0, ended: 3, reopened: 2 });
  });

  it('counts a stream open until it closes, however it closes', async () => {
    const counts = new ListenStreams();
    let close!: (how: string) => void;
    counts.track({ closed: new Promise((resolve) => (close = resolve)) });
    counts.track({ closed: new Promise(() => undefined) });
    assert.equal(counts.open, 2);
    close('local');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(counts.open, 1);
  });

  it('opens nothing once stopped', async () => {
    const h = harness();
    h.open();
    h.reopening.stop();
    await h.end();
    assert.equal(h.reopened(), 0);
  });
});
