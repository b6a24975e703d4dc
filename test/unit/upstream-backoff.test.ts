import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createUpstreamCache, type UpstreamCache, type UpstreamCacheOptions } from '../../src/gateway/cache/upstream-cache.js';
import { fakeClock, FakeUpstream, gate, read } from '../helpers/fake-upstream.js';

describe('createUpstreamCache backoff', () => {
  let upstream: FakeUpstream;
  let clock: ReturnType<typeof fakeClock>;
  let cache: UpstreamCache;
  const build = (options: UpstreamCacheOptions = {}) => (cache = createUpstreamCache({ now: clock.now, ...options }));
  const get = async (path: string, init?: RequestInit) => read(await cache.fetch(upstream.url(path), init));
  /** The answer's status, `x-gateway-cache` and `Retry-After`. */
  const brief = async (path: string, init?: RequestInit) => {
    const answer = await get(path, init);
    return [answer.status, answer.cache, answer.retryAfter];
  };
  /** Two 503s in a row: the host is backing off for 1 s. */
  const trip = async (path = '/a') => {
    upstream.on(path, { status: 503 });
    await get(path);
    await get(path);
  };

  beforeEach(async () => {
    upstream = await FakeUpstream.start();
    clock = fakeClock();
    build();
  });
  afterEach(() => upstream.stop());

  describe('when to back off', () => {
    it('keeps calling a host after one failure and stops after the second in a row', async () => {
      upstream.on('/a', { status: 503 });
      assert.deepEqual(await brief('/a'), [503, 'miss', null]);
      assert.deepEqual(await brief('/a'), [503, 'miss', null]);
      assert.deepEqual(await brief('/a'), [503, 'backoff', '1']);
      assert.equal(upstream.count('/a'), 2);
    });

    it('answers every request to the host at once, without a network call, while backing off', async () => {
      await trip();
      const answers = [];
      for (const path of ['/a', '/a', '/b', '/c?q=1', '/a']) answers.push(await get(path));

      assert.equal(upstream.total, 2);
      for (const answer of answers)
        assert.deepEqual([answer.status, answer.cache, answer.retryAfter, answer.age], [503, 'backoff', '1', '0']);
      assert.deepEqual(JSON.parse(answers[0]!.body), {
        type: 'about:blank',
        title: 'Service Unavailable',
        status: 503,
        detail: `${upstream.origin} failed 2 times in a row (last: 503); the gateway is backing off and will try it again in 1 s.`,
      });
      const { misses, upstreamErrors, backedOff, staleServed } = cache.stats();
      assert.deepEqual({ misses, upstreamErrors, backedOff, staleServed }, { misses: 2, upstreamErrors: 2, backedOff: 5, staleServed: 0 });
    });

    it('backs off one host, not the others', async () => {
      const other = await FakeUpstream.start();
      try {
        await trip();
        const answer = await read(await cache.fetch(other.url('/a')));
        assert.deepEqual([answer.status, answer.cache, other.count('/a')], [200, 'miss', 1]);
      } finally {
        await other.stop();
      }
    });

    it('counts refused connections and timeouts as failures', async () => {
      await upstream.stop();
      await assert.rejects(get('/a'), TypeError);
      await assert.rejects(get('/a'), TypeError);
      assert.deepEqual(await brief('/a'), [503, 'backoff', '1']);
      assert.equal(cache.upstreams()[0]?.lastError, 'ECONNREFUSED');

      upstream = await FakeUpstream.start();
      build();
      const held = gate();
      upstream.on('/slow', { gate: held.opened });
      for (let i = 0; i < 2; i++) {
        const caller = new AbortController();
        const answer = get('/slow', { signal: caller.signal });
        await upstream.until(() => upstream.count('/slow') === i + 1);
        caller.abort(new DOMException('the caller timed out', 'TimeoutError'));
        await assert.rejects(answer, { name: 'TimeoutError' });
        await upstream.until(() => upstream.abandoned === i + 1);
      }
      held.open();
      assert.deepEqual(await brief('/slow'), [503, 'backoff', '1']);
      assert.equal(cache.upstreams()[0]?.lastError, 'timeout');
    });

    it('does not count calls their callers cancelled against the host, cached or not', async () => {
      const held = gate();
      upstream.on('/slow', { gate: held.opened });
      let sent = 0;
      for (const init of [{}, {}, { method: 'POST' }, { method: 'POST' }]) {
        const caller = new AbortController();
        const answer = get('/slow', { ...init, signal: caller.signal });
        const arrived = await Promise.race([
          upstream.until(() => upstream.count('/slow') === sent + 1).then(() => true),
          answer.then(() => false),
        ]);
        assert.ok(arrived, `call ${sent + 1} reached the host`);
        sent++;
        caller.abort();
        await assert.rejects(answer, { name: 'AbortError' });
        await upstream.until(() => upstream.abandoned === sent);
      }
      held.open();
      assert.deepEqual(await brief('/a'), [200, 'miss', null]);
    });

    it('treats other 4xx answers as the host working', async () => {
      upstream.on('/a', { status: 503 });
      upstream.on('/missing', { status: 404 });
      upstream.on('/bad', { status: 400 });
      for (const path of ['/a', '/missing', '/a', '/bad', '/a']) await get(path);
      assert.equal((await get('/a')).cache, 'miss');
      assert.equal(upstream.count('/a'), 4);
    });

    it('counts a 429 without Retry-After as a failure like any other', async () => {
      upstream.on('/a', { status: 429 });
      assert.deepEqual(await brief('/a'), [429, 'miss', null]);
      assert.deepEqual(await brief('/a'), [429, 'miss', null]);
      assert.deepEqual(await brief('/a'), [503, 'backoff', '1']);
    });

    it('backs off at once for what a 429 or 503 asks in Retry-After, up to max', async () => {
      upstream.on('/a', { status: 429, headers: { 'retry-after': '10' } });
      assert.deepEqual(await brief('/a'), [429, 'miss', '10']);
      assert.deepEqual(await brief('/a'), [503, 'backoff', '10']);
      clock.advance(9_999);
      assert.deepEqual(await brief('/a'), [503, 'backoff', '1']);
      clock.advance(1);
      upstream.on('/a', { status: 503, headers: { 'retry-after': '3600' } });
      assert.deepEqual(await brief('/a'), [503, 'miss', '3600']);
      assert.deepEqual(await brief('/a'), [503, 'backoff', '30']);
      assert.equal(upstream.count('/a'), 2);
    });

    it('reads a Retry-After date against the response Date', async () => {
      const date = Date.UTC(2026, 6, 15, 20, 0, 0);
      upstream.on('/a', {
        status: 503,
        headers: { date: new Date(date).toUTCString(), 'retry-after': new Date(date + 20_000).toUTCString() },
      });
      await get('/a');
      assert.deepEqual(await brief('/a'), [503, 'backoff', '20']);
    });
  });

  describe('probes', () => {
    it('doubles the interval with each failed probe, from 1 s up to 30 s', async () => {
      await trip();
      const intervals: number[] = [];
      for (let probe = 0; probe < 7; probe++) {
        const interval = Number((await get('/a')).retryAfter);
        intervals.push(interval);
        clock.advance(interval * 1000 - 1);
        assert.deepEqual(await brief('/a'), [503, 'backoff', '1'], 'refused until the interval has passed');
        clock.advance(1);
        assert.deepEqual(await brief('/a'), [503, 'miss', null], 'the probe goes upstream');
      }

      assert.deepEqual(intervals, [1, 2, 4, 8, 16, 30, 30]);
      assert.equal(upstream.count('/a'), 2 + 7);
    });

    it('lets one request through as the probe and answers the others from backoff until it settles', async () => {
      await trip();
      const held = gate();
      upstream.on('/a', { status: 503, gate: held.opened });
      clock.advance(1000);
      const probe = get('/a');
      await upstream.until(() => upstream.count('/a') === 3);
      const sameUrl = get('/a');
      assert.deepEqual(await brief('/b'), [503, 'backoff', '1'], 'another URL on the host waits for the probe');
      assert.equal(cache.upstreams()[0]?.state, 'probing');
      held.open();

      assert.deepEqual([(await probe).cache, (await sameUrl).cache], ['miss', 'miss'], 'the same URL joined the probe');
      assert.deepEqual([upstream.count('/a'), upstream.count('/b'), cache.stats().coalesced], [3, 0, 1]);
      assert.deepEqual(await brief('/b'), [503, 'backoff', '2']);
    });

    it('resets on the first success: requests flow again and the next outage starts at 1 s', async () => {
      await trip();
      clock.advance(1000);
      await get('/a'); // a failed probe: 2 s
      clock.advance(2000);
      upstream.on('/a', {});
      assert.deepEqual(await brief('/a'), [200, 'miss', null]);
      upstream.on('/b', { status: 503 });
      assert.deepEqual(await brief('/b'), [503, 'miss', null], 'one failure after the reset is not an outage');
      assert.deepEqual(await brief('/a'), [200, 'hit', null]);
      upstream.on('/c', { status: 503 });
      assert.deepEqual(await brief('/c'), [503, 'miss', null], 'the second failure in a row since the reset');
      assert.deepEqual(await brief('/c'), [503, 'backoff', '1']);
    });

    it('lets another probe go once one has been in flight for max without settling', async () => {
      await trip();
      const held = gate();
      upstream.on('/a', { gate: held.opened });
      clock.advance(1000);
      const stuck = get('/a'); // no signal: it would wait for ever
      await upstream.until(() => upstream.count('/a') === 3);
      clock.advance(29_999);
      assert.deepEqual(await brief('/b'), [503, 'backoff', '1']);
      clock.advance(1);
      assert.deepEqual(await brief('/b'), [200, 'miss', null]);
      held.open();
      assert.equal((await stuck).status, 200);
      assert.equal(cache.upstreams()[0]?.state, 'ok');
    });
  });

  describe('what requests get meanwhile', () => {
    it('serves the stale copy within staleIfError instead of the 503', async () => {
      const fresh = await get('/a');
      clock.advance(61_000);
      await trip();
      const stale = await get('/a');
      const noCopy = await get('/b');

      assert.deepEqual([stale.status, stale.cache, stale.age, stale.body], [200, 'stale', '61', fresh.body]);
      assert.deepEqual([noCopy.status, noCopy.cache], [503, 'backoff']);
      assert.equal(upstream.count('/a'), 3);
      const { staleServed, backedOff, upstreamErrors } = cache.stats();
      assert.deepEqual({ staleServed, backedOff, upstreamErrors }, { staleServed: 3, backedOff: 2, upstreamErrors: 2 });
    });

    it('still answers fresh copies from the cache', async () => {
      await get('/fresh');
      await trip();
      assert.deepEqual(await brief('/fresh'), [200, 'hit', null]);
    });

    it('holds back requests that bypass the cache, which count as failures and successes too', async () => {
      await trip();
      for (const init of [{ method: 'POST', body: '{}' }, { headers: { Authorization: 'Bearer t' } }]) {
        assert.deepEqual(await brief('/a', init), [503, 'backoff', '1']);
      }
      assert.equal(upstream.count('/a'), 2);

      build({ enabled: false });
      upstream.on('/a', { status: 502 });
      assert.deepEqual(await brief('/a'), [502, 'bypass', null]);
      assert.deepEqual(await brief('/a'), [502, 'bypass', null]);
      assert.deepEqual(await brief('/a'), [503, 'backoff', '1']);
      clock.advance(1000);
      upstream.on('/a', {});
      assert.deepEqual(await brief('/a', { method: 'POST', body: '{}' }), [200, 'bypass', null]);
      assert.deepEqual(await brief('/a'), [200, 'bypass', null]);
      assert.deepEqual([cache.stats().bypassed, cache.stats().backedOff, upstream.count('/a')], [4, 1, 6]);
    });

    it('does not count a call whose signal was already aborted against the host', async () => {
      upstream.on('/a', { status: 503 });
      await get('/a');
      await assert.rejects(get('/a', { method: 'POST', signal: AbortSignal.abort() }), { name: 'AbortError' });
      assert.deepEqual(await brief('/a'), [503, 'miss', null]);
    });
  });

  describe('upstreams()', () => {
    it('reports each host by origin: state, failures, next attempt and last error', async () => {
      upstream.on('/a?api_key=secret', { status: 503 });
      await get('/a?api_key=secret');
      assert.deepEqual(cache.upstreams(), [{ origin: upstream.origin, state: 'ok', consecutiveFailures: 1, lastError: '503' }]);
      await get('/a?api_key=secret');
      clock.advance(400);
      assert.deepEqual(cache.upstreams(), [
        { origin: upstream.origin, state: 'backingOff', consecutiveFailures: 2, retryInSeconds: 1, intervalSeconds: 1, lastError: '503' },
      ]);
      clock.advance(600);
      upstream.on('/a', {});
      await get('/a');

      assert.deepEqual(cache.upstreams(), [{ origin: upstream.origin, state: 'ok', consecutiveFailures: 0, lastError: '503' }]);
      assert.doesNotMatch(JSON.stringify(cache.upstreams()), /secret/);
    });

    it('lists nothing before the first request', () => {
      assert.deepEqual(cache.upstreams(), []);
    });
  });

  describe('options', () => {
    const invalid: Array<[string, UpstreamCacheOptions, ErrorConstructor]> = [
      ['backoff', { backoff: 'on' as unknown as object }, TypeError],
      ['backoff.afterFailures', { backoff: { afterFailures: 0 } }, RangeError],
      ['backoff.afterFailures', { backoff: { afterFailures: 1.5 } }, RangeError],
      ['backoff.initial', { backoff: { initial: 0 } }, RangeError],
      ['backoff.initial', { backoff: { initial: '1s' as unknown as number } }, TypeError],
      ['backoff.max', { backoff: { max: Number.POSITIVE_INFINITY } }, RangeError],
      ['backoff.max', { backoff: { initial: 5000, max: 4999 } }, RangeError],
    ];
    for (const [name, options, type] of invalid) {
      it(`rejects an invalid ${name}: ${JSON.stringify(options)}`, () => {
        assert.throws(
          () => createUpstreamCache(options),
          (error: unknown) => {
            assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
            assert.match(error.message, new RegExp(`option "${name.replace(/[.]/g, '\\.')}"`));
            return true;
          },
        );
      });
    }

    it('backs off after afterFailures, from initial, up to max', async () => {
      build({ backoff: { afterFailures: 3, initial: 5000, max: 8000 } });
      upstream.on('/a', { status: 503 });
      for (let i = 0; i < 3; i++) assert.equal((await get('/a')).cache, 'miss');
      assert.deepEqual(await brief('/a'), [503, 'backoff', '5']);
      clock.advance(5000);
      await get('/a');
      assert.deepEqual(await brief('/a'), [503, 'backoff', '8']);
    });
  });
});
