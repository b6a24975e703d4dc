import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import {
  createUpstreamCache,
  DEFAULT_CACHE_RULES,
  type UpstreamCache,
  type UpstreamCacheOptions,
} from '../../src/gateway/cache/upstream-cache.js';
import { CACHE_STATUS_HEADER } from '../../src/gateway/module-contract.js';
import { fakeClock, FakeUpstream, gate, read } from '../helpers/fake-upstream.js';

const nOf = (body: string): unknown => (JSON.parse(body) as { n: unknown }).n;

describe('createUpstreamCache', () => {
  let upstream: FakeUpstream;
  let clock: ReturnType<typeof fakeClock>;
  let cache: UpstreamCache;
  const build = (options: UpstreamCacheOptions = {}) => (cache = createUpstreamCache({ now: clock.now, ...options }));
  const get = async (path: string, init?: RequestInit) => read(await cache.fetch(upstream.url(path), init));

  beforeEach(async () => {
    upstream = await FakeUpstream.start();
    clock = fakeClock();
    build();
  });
  afterEach(() => upstream.stop());

  describe('freshness', () => {
    it('answers a repeated request from the cache with one upstream request', async () => {
      const first = await get('/a');
      const second = await get('/a');

      assert.deepEqual([first.status, first.cache, nOf(first.body)], [200, 'miss', 1]);
      assert.deepEqual([second.status, second.cache, second.body], [200, 'hit', first.body]);
      assert.equal(upstream.count('/a'), 1);
      const stats = cache.stats();
      assert.deepEqual(
        { ...stats, bytes: 0 },
        {
          hits: 1,
          misses: 1,
          coalesced: 0,
          staleServed: 0,
          upstreamErrors: 0,
          revalidated: 0,
          bypassed: 0,
          backedOff: 0,
          entries: 1,
          bytes: 0,
        },
      );
      assert.ok(stats.bytes > first.body.length);
    });

    it('serves a copy while max-age lasts and refetches once it has passed', async () => {
      await get('/a');
      clock.advance(59_999);
      assert.equal((await get('/a')).cache, 'hit');
      clock.advance(1);
      const refetched = await get('/a');

      assert.deepEqual([refetched.cache, nOf(refetched.body)], ['miss', 2]);
      assert.equal(upstream.count('/a'), 2);
    });

    it('prefers s-maxage to max-age', async () => {
      upstream.on('/a', { headers: { 'cache-control': 'max-age=600, s-maxage=10' } });
      await get('/a');
      clock.advance(10_000);
      assert.equal((await get('/a')).cache, 'miss');
    });

    it('caps freshness with the first matching rule, else defaultMaxAge', async () => {
      build({
        rules: [
          { path: '/capped/*', maxAge: 10_000 },
          { path: '/capped/**', maxAge: 3_600_000 },
        ],
        defaultMaxAge: 20_000,
      });
      for (const path of ['/capped/x', '/capped/x/y', '/other']) {
        upstream.on(path, { headers: { 'cache-control': 'max-age=3600' } });
        await get(path);
      }
      clock.advance(10_000);
      assert.deepEqual([(await get('/capped/x')).cache, (await get('/capped/x/y')).cache], ['miss', 'hit']);
      assert.equal((await get('/other')).cache, 'hit');
      clock.advance(10_000);
      assert.deepEqual([(await get('/other')).cache, (await get('/capped/x/y')).cache], ['miss', 'hit']);
    });

    it('caps /alerts/** at 60 s with the default rules', async () => {
      assert.deepEqual(
        DEFAULT_CACHE_RULES.map((rule) => rule.path),
        ['/points/**', '/gridpoints/**', '/alerts/**'],
      );
      upstream.on('/alerts/active?area=PA', { headers: { 'cache-control': 'public, max-age=300' } });
      await get('/alerts/active?area=PA');
      clock.advance(59_999);
      assert.equal((await get('/alerts/active?area=PA')).cache, 'hit');
      clock.advance(1);
      assert.equal((await get('/alerts/active?area=PA')).cache, 'miss');
    });

    it('takes the lifetime from Expires minus Date when there is no max-age', async () => {
      const date = Date.UTC(2026, 6, 15, 20, 0, 0);
      upstream.on('/e', {
        headers: {
          'cache-control': 'public',
          date: new Date(date).toUTCString(),
          expires: new Date(date + 120_000).toUTCString(),
        },
      });
      await get('/e');
      clock.advance(119_999);
      assert.equal((await get('/e')).cache, 'hit');
      clock.advance(1);
      assert.equal((await get('/e')).cache, 'miss');
    });

    it('stores a response without freshness information but does not serve it as fresh', async () => {
      upstream.on('/e', { headers: { 'cache-control': '', expires: '0' } });
      await get('/e');
      assert.equal(cache.stats().entries, 1);
      assert.equal((await get('/e')).cache, 'miss');
      assert.equal(upstream.count('/e'), 2);
    });

    it('never stores no-store or private responses', async () => {
      upstream.on('/ns', { headers: { 'cache-control': 'no-store' } });
      upstream.on('/p', { headers: { 'cache-control': 'private, max-age=60' } });
      for (const path of ['/ns', '/p', '/ns', '/p']) assert.equal((await get(path)).cache, 'miss');

      assert.deepEqual([upstream.count('/ns'), upstream.count('/p'), cache.stats().entries], [2, 2, 0]);
    });

    it('stores no-cache responses but revalidates them every time', async () => {
      upstream.on('/nc', { headers: { 'cache-control': 'no-cache, max-age=60' } });
      await get('/nc');
      assert.equal(cache.stats().entries, 1);
      assert.equal((await get('/nc')).cache, 'miss');
      assert.equal(upstream.count('/nc'), 2);
      // Stored all the same: a failing upstream gets the copy served instead.
      upstream.on('/nc', { status: 503 });
      assert.equal((await get('/nc')).cache, 'stale');
    });

    it('does not reuse a response for a request that differs in a header it varies on', async () => {
      upstream.on('/v', { headers: { vary: 'Accept, Feature-Flags' } });
      const flags = (value: string) => ({ headers: { 'Feature-Flags': value } });
      assert.equal((await get('/v', flags('a'))).cache, 'miss');
      assert.equal((await get('/v', flags('a'))).cache, 'hit');
      assert.equal((await get('/v', flags('b'))).cache, 'miss');
      assert.equal(upstream.count('/v'), 2);
    });
  });

  describe('keys and bypass', () => {
    it('passes requests with Authorization, non-GET and no-store requests straight through', async () => {
      const inits: RequestInit[] = [
        { headers: { Authorization: 'Bearer t' } },
        { method: 'POST', body: '{}' },
        { method: 'HEAD' },
        { headers: { 'Cache-Control': 'no-store' } },
      ];
      const answers = [];
      for (const init of [...inits, ...inits]) answers.push(await get('/a', init));

      assert.ok(answers.every((answer) => answer.cache === 'bypass' && answer.age === '0'));
      assert.equal(upstream.count('/a'), 8);
      assert.deepEqual([cache.stats().bypassed, cache.stats().entries], [8, 0]);
    });

    it('never hands an answer to a request with a Cookie to another caller, nor one to it', async () => {
      const alice = await get('/me', { headers: { Cookie: 'session=alice' } });
      const anonymous = await get('/me');
      const bob = await get('/me', { headers: { Cookie: 'session=bob' } });

      assert.deepEqual(
        [alice, anonymous, bob].map((answer) => [answer.cache, nOf(answer.body)]),
        [
          ['bypass', 1],
          ['miss', 2],
          ['bypass', 3],
        ],
      );
      assert.equal(cache.stats().entries, 1);
    });

    it('keys by Accept as well as URL', async () => {
      const accept = (type: string) => ({ headers: { Accept: type } });
      const geo = await get('/points/1,2', accept('application/geo+json'));
      const ld = await get('/points/1,2', accept('application/ld+json'));
      const geoAgain = await get('/points/1,2', accept('application/geo+json'));

      assert.deepEqual(JSON.parse(geo.body), { path: '/points/1,2', n: 1, accept: 'application/geo+json' });
      assert.deepEqual(JSON.parse(ld.body), { path: '/points/1,2', n: 2, accept: 'application/ld+json' });
      assert.deepEqual([geoAgain.cache, geoAgain.body], ['hit', geo.body]);
      assert.equal(upstream.count('/points/1,2'), 2);
    });

    it('passes everything through when disabled', async () => {
      build({ enabled: false });
      const answers = [await get('/a'), await get('/a')];

      assert.deepEqual(
        answers.map((answer) => [answer.cache, nOf(answer.body)]),
        [
          ['bypass', 1],
          ['bypass', 2],
        ],
      );
      assert.deepEqual([cache.stats().bypassed, cache.stats().entries, upstream.count('/a')], [2, 0, 2]);
    });
  });

  describe('request directives', () => {
    it('goes to the origin for a request with no-cache, max-age=0 or Pragma: no-cache, and stores what comes back', async () => {
      assert.equal(nOf((await get('/a')).body), 1);
      const demands: RequestInit[] = [
        { headers: { 'Cache-Control': 'no-cache' } },
        { headers: { 'Cache-Control': 'max-age=0' } },
        { headers: { Pragma: 'no-cache' } },
        { cache: 'no-cache' },
        { cache: 'reload' },
      ];
      for (const [i, init] of demands.entries()) {
        const answer = await get('/a', init);
        assert.deepEqual([answer.cache, nOf(answer.body)], ['miss', i + 2], JSON.stringify(init));
        const after = await get('/a');
        assert.deepEqual([after.cache, nOf(after.body)], ['hit', i + 2], 'the new answer replaced the stored one');
      }
      assert.equal(upstream.count('/a'), 1 + demands.length);
    });

    it('serves a copy to a request whose max-age or min-fresh it meets, and asks the origin otherwise', async () => {
      await get('/a'); // fresh for 60 s
      clock.advance(20_000);
      const maxAge = (seconds: number) => ({ headers: { 'Cache-Control': `max-age=${seconds}` } });
      const minFresh = (seconds: number) => ({ headers: { 'Cache-Control': `min-fresh=${seconds}` } });
      assert.equal((await get('/a', maxAge(30))).cache, 'hit');
      assert.equal((await get('/a', minFresh(30))).cache, 'hit');
      assert.equal((await get('/a', minFresh(45))).cache, 'miss');
      clock.advance(20_000);
      assert.equal((await get('/a', maxAge(10))).cache, 'miss');
      assert.equal(upstream.count('/a'), 3);
    });

    it('lets Cache-Control win over Pragma (RFC 9111 §5.4)', async () => {
      await get('/a');
      const answer = await get('/a', { headers: { Pragma: 'no-cache', 'Cache-Control': 'max-age=3600' } });
      assert.deepEqual([answer.cache, upstream.count('/a')], ['hit', 1]);
    });

    it('neither serves a stored copy to a no-store request nor stores its answer', async () => {
      const stored = await get('/a');
      for (const init of [{ headers: { 'Cache-Control': 'no-store' } }, { cache: 'no-store' as const }]) {
        const answer = await get('/a', init);
        assert.equal(answer.cache, 'bypass');
        assert.notEqual(answer.body, stored.body);
      }
      const after = await get('/a');
      assert.deepEqual([after.cache, after.body], ['hit', stored.body]);
      assert.equal(upstream.count('/a'), 3);
    });

    it('does not answer a request that demands validation with an unvalidated copy when the upstream fails', async () => {
      await get('/s');
      upstream.on('/s', { status: 503, body: 'down' });
      clock.advance(90_000);
      const demanded = await get('/s', { headers: { 'Cache-Control': 'no-cache' } });
      assert.deepEqual([demanded.status, demanded.body], [503, 'down']);
      assert.equal((await get('/s')).cache, 'stale', 'a request that does not demand it still gets the copy');
    });
  });

  describe('redirect mode', () => {
    beforeEach(() => {
      upstream.on('/old', { status: 302, headers: { location: '/new' } });
    });

    it('never serves a followed redirect to a request that asked to see the redirect, or to fail on it', async () => {
      const followed = await get('/old');
      assert.deepEqual([followed.status, (JSON.parse(followed.body) as { path: string }).path], [200, '/new']);
      const manual = await cache.fetch(upstream.url('/old'), { redirect: 'manual' });
      assert.deepEqual([manual.status, manual.headers.get('location')], [302, '/new']);
      await assert.rejects(cache.fetch(upstream.url('/old'), { redirect: 'error' }), TypeError);
      assert.equal((await get('/old', { redirect: 'follow' })).cache, 'hit');
    });

    it('does not let a manual request and a following one share an upstream request', async () => {
      const [manual, followed] = await Promise.all([
        cache.fetch(upstream.url('/old'), { redirect: 'manual' }),
        cache.fetch(upstream.url('/old')),
      ]);
      assert.deepEqual([manual.status, followed.status], [302, 200]);
      assert.equal(cache.stats().coalesced, 0);
    });
  });

  describe('revalidation', () => {
    const conditionalHeaders = () => upstream.headersSeen.map((h) => [h['if-none-match'] ?? null, h['if-modified-since'] ?? null]);

    it('revalidates a stale copy with If-None-Match and serves the stored body on 304, fresh again', async () => {
      upstream.on('/r', { validators: { etag: '"v1"' } });
      const first = await get('/r');
      clock.advance(61_000);
      const revalidated = await get('/r');
      assert.deepEqual([revalidated.status, revalidated.cache, revalidated.age, revalidated.body], [200, 'revalidated', '0', first.body]);
      assert.deepEqual(conditionalHeaders(), [
        [null, null],
        ['"v1"', null],
      ]);
      clock.advance(59_000);
      assert.equal((await get('/r')).cache, 'hit', 'the 304 made the copy fresh for another max-age');
      assert.deepEqual([upstream.count('/r'), cache.stats().revalidated, cache.stats().misses], [2, 1, 2]);
    });

    it('revalidates with If-Modified-Since when the copy has only Last-Modified', async () => {
      const lastModified = 'Wed, 15 Jul 2026 20:00:37 GMT';
      upstream.on('/r', { validators: { lastModified } });
      await get('/r');
      clock.advance(61_000);
      assert.equal((await get('/r')).cache, 'revalidated');
      assert.deepEqual(conditionalHeaders()[1], [null, lastModified]);
    });

    it('updates the stored headers from the 304 (RFC 9111 §4.3.4), its freshness included', async () => {
      upstream.on('/r', { validators: { etag: '"v1"' }, headers: { 'x-generation': '1' } });
      await get('/r');
      clock.advance(61_000);
      upstream.on('/r', { validators: { etag: '"v1"' }, headers: { 'x-generation': '2', 'cache-control': 'max-age=600' } });
      const revalidated = await cache.fetch(upstream.url('/r'));
      assert.equal(revalidated.headers.get('x-generation'), '2');
      clock.advance(200_000); // past the first max-age=60, within the 304's 600 (and defaultMaxAge's 300)
      const later = await cache.fetch(upstream.url('/r'));
      assert.deepEqual([later.headers.get('x-gateway-cache'), later.headers.get('x-generation')], ['hit', '2']);
    });

    it('replaces the stored copy with any other answer to the conditional request', async () => {
      upstream.on('/r', { validators: { etag: '"v1"' } });
      await get('/r');
      clock.advance(61_000);
      upstream.on('/r', { validators: { etag: '"v2"' } });
      const replaced = await get('/r');
      assert.deepEqual([replaced.cache, nOf(replaced.body)], ['miss', 2]);
      const again = await get('/r');
      assert.deepEqual([again.cache, nOf(again.body)], ['hit', 2]);
    });

    it('keeps a copy with validators for revalidation past staleIfError, and for must-revalidate', async () => {
      build({ staleIfError: 0 });
      upstream.on('/r', { validators: { etag: '"v1"' }, headers: { 'cache-control': 'max-age=60, must-revalidate' } });
      await get('/r');
      clock.advance(3_600_000);
      assert.equal((await get('/r')).cache, 'revalidated');
    });

    it('revalidates for a request with no-cache, even while the copy is fresh', async () => {
      upstream.on('/r', { validators: { etag: '"v1"' } });
      const first = await get('/r');
      const answer = await get('/r', { headers: { 'Cache-Control': 'no-cache' } });
      assert.deepEqual([answer.cache, answer.body, conditionalHeaders()[1]?.[0]], ['revalidated', first.body, '"v1"']);
    });

    it('turns concurrent requests for a stale copy into one conditional request', async () => {
      upstream.on('/r', { validators: { etag: '"v1"' } });
      const first = await get('/r');
      clock.advance(61_000);
      const answers = await Promise.all(Array.from({ length: 20 }, () => get('/r')));
      assert.ok(answers.every((answer) => answer.cache === 'revalidated' && answer.body === first.body));
      assert.deepEqual([upstream.count('/r'), cache.stats().coalesced, cache.stats().revalidated], [2, 19, 1]);
    });

    it('serves the stale copy when the conditional request fails, as without validators', async () => {
      upstream.on('/r', { validators: { etag: '"v1"' } });
      const first = await get('/r');
      clock.advance(61_000);
      upstream.on('/r', { status: 503 });
      const stale = await get('/r');
      assert.deepEqual([stale.cache, stale.body], ['stale', first.body]);
    });

    it('passes a 304 to a caller that sent its own validators, and leaves the copy alone', async () => {
      upstream.on('/r', { validators: { etag: '"v1"' } });
      const first = await get('/r');
      clock.advance(61_000);
      const own = await get('/r', { headers: { 'If-None-Match': '"v1"' } });
      assert.deepEqual([own.status, own.body], [304, '']);
      assert.deepEqual(conditionalHeaders()[1], ['"v1"', null]);
      const after = await get('/r');
      assert.deepEqual([after.cache, after.body], ['revalidated', first.body]);
    });
  });

  describe('coalescing', () => {
    it('turns 100 concurrent identical requests into one upstream request', async () => {
      const body = JSON.stringify({ text: 'x'.repeat(64 * 1024) });
      upstream.on('/big', { body });
      const answers = await Promise.all(Array.from({ length: 100 }, () => get('/big')));

      assert.equal(upstream.count('/big'), 1);
      assert.ok(answers.every((answer) => answer.status === 200 && answer.cache === 'miss' && answer.body === body));
      assert.deepEqual([cache.stats().misses, cache.stats().coalesced], [1, 99]);
    });

    it('lets one caller abort without failing the others waiting on the same request', async () => {
      const held = gate();
      upstream.on('/slow', { gate: held.opened });
      const quitter = new AbortController();
      const patient = new AbortController();
      const answers = [get('/slow', { signal: quitter.signal }), get('/slow', { signal: patient.signal }), get('/slow')];
      await upstream.until(() => upstream.count('/slow') === 1);
      quitter.abort();
      await assert.rejects(answers[0]!, { name: 'AbortError' });
      held.open();
      const [second, third] = await Promise.all(answers.slice(1));

      assert.deepEqual([second?.cache, nOf(second!.body)], ['miss', 1]);
      assert.deepEqual([third?.cache, third?.body], ['miss', second?.body]);
      assert.deepEqual([upstream.count('/slow'), upstream.abandoned, cache.stats().entries], [1, 0, 1]);
    });

    it('aborts the shared upstream request once every caller has gone, and starts afresh after', async () => {
      const held = gate();
      upstream.on('/slow', { gate: held.opened });
      const callers = [new AbortController(), new AbortController()];
      const answers = callers.map((caller) => get('/slow', { signal: caller.signal }));
      await upstream.until(() => upstream.count('/slow') === 1);
      callers[0]!.abort();
      callers[1]!.abort(new Error('timed out'));
      await assert.rejects(answers[0]!, { name: 'AbortError' });
      await assert.rejects(answers[1]!, { message: 'timed out' });
      await upstream.until(() => upstream.abandoned === 1);

      const next = get('/slow');
      await upstream.until(() => upstream.count('/slow') === 2);
      held.open();
      assert.deepEqual([(await next).cache, nOf((await next).body)], ['miss', 2]);
    });

    it('rejects a call whose signal is already aborted, as fetch does', async () => {
      await assert.rejects(get('/a', { signal: AbortSignal.abort() }), { name: 'AbortError' });
      assert.equal(upstream.total, 0);
    });
  });

  describe('404 and errors', () => {
    it('remembers a 404 for notFoundTtl, whatever its Cache-Control says', async () => {
      build({ notFoundTtl: 30_000 });
      const problem = JSON.stringify({ title: 'Data Unavailable For Requested Point', status: 404 });
      upstream.on('/points/51.5,-0.12', {
        status: 404,
        body: problem,
        headers: { 'content-type': 'application/problem+json', 'cache-control': 'max-age=86400' },
      });
      const first = await get('/points/51.5,-0.12');
      clock.advance(29_999);
      const second = await get('/points/51.5,-0.12');
      clock.advance(1);
      const third = await get('/points/51.5,-0.12');

      assert.deepEqual([first.status, first.cache, first.body], [404, 'miss', problem]);
      assert.deepEqual([second.status, second.cache, second.body], [404, 'hit', problem]);
      assert.deepEqual([third.status, third.cache], [404, 'miss']);
      assert.equal(upstream.count('/points/51.5,-0.12'), 2);
    });

    it('drops the stored copy for a newer one it may not keep, but not for a 429', async () => {
      build({ backoff: { afterFailures: 100 } }); // four answers in a row, two of them failures
      await get('/s');
      clock.advance(61_000);
      upstream.on('/s', { status: 429 });
      assert.equal((await get('/s')).cache, 'stale');
      upstream.on('/s', { status: 503 });
      assert.equal((await get('/s')).cache, 'stale');
      upstream.on('/s', { headers: { 'cache-control': 'no-store' } });
      assert.equal((await get('/s')).status, 200);
      upstream.on('/s', { status: 503 });
      assert.deepEqual([(await get('/s')).status, cache.stats().entries], [503, 0]);
    });

    it('does not cache other 4xx responses', async () => {
      upstream.on('/bad', { status: 400 });
      assert.deepEqual([(await get('/bad')).status, (await get('/bad')).cache], [400, 'miss']);
      assert.deepEqual([upstream.count('/bad'), cache.stats().entries], [2, 0]);
    });

    it('serves the expired copy with its age when the upstream answers 503', async () => {
      const fresh = await get('/s');
      upstream.on('/s', { status: 503, body: 'down' });
      clock.advance(90_000);
      const stale = await get('/s');

      assert.deepEqual([stale.status, stale.cache, stale.age, stale.body], [200, 'stale', '90', fresh.body]);
      assert.deepEqual([cache.stats().staleServed, cache.stats().upstreamErrors, cache.stats().entries], [1, 1, 1]);
    });

    it('serves the expired copy when the upstream answers 429, as the backoff that follows does', async () => {
      const fresh = await get('/s');
      upstream.on('/s', { status: 429, body: 'slow down' });
      clock.advance(90_000);
      const stale = await get('/s');

      assert.deepEqual([stale.status, stale.cache, stale.age, stale.body], [200, 'stale', '90', fresh.body]);
      assert.deepEqual([cache.stats().staleServed, cache.stats().upstreamErrors, cache.stats().entries], [1, 1, 1]);
    });

    it('passes a 503 through and stores nothing when there is no copy', async () => {
      upstream.on('/s', { status: 503, body: 'down', headers: { 'cache-control': 'max-age=60' } });
      const first = await get('/s');
      const second = await get('/s');

      assert.deepEqual([first.status, first.cache, first.body], [503, 'miss', 'down']);
      assert.equal(second.status, 503);
      assert.deepEqual([upstream.count('/s'), cache.stats().entries, cache.stats().upstreamErrors], [2, 0, 2]);
    });

    it('serves the expired copy when the upstream cannot be reached', async () => {
      const fresh = await get('/s');
      clock.advance(61_000);
      await upstream.stop();
      const stale = await get('/s');

      assert.deepEqual([stale.status, stale.cache, stale.age, stale.body], [200, 'stale', '61', fresh.body]);
      assert.deepEqual([cache.stats().staleServed, cache.stats().upstreamErrors], [1, 1]);
    });

    it("rejects a request fetch refuses to send (a GET with a body) with fetch's error, never a stale copy or an upstream error", async () => {
      const fresh = await get('/s');
      clock.advance(61_000);
      // The same URL, expired, with a copy that staleIfError would serve for a failing upstream.
      await assert.rejects(get('/s', { body: 'a body' }), (error: Error) => error instanceof TypeError && /body/i.test(error.message));
      assert.deepEqual([upstream.count('/s'), cache.stats().staleServed, cache.stats().upstreamErrors], [1, 0, 0]);
      assert.deepEqual(
        cache.upstreams().map((host) => host.consecutiveFailures),
        [0],
      );
      // The upstream is asked as before: the copy was not used up, nor the host held back.
      const next = await get('/s');
      assert.deepEqual([next.status, next.cache, nOf(next.body)], [200, 'miss', 2]);
      assert.notEqual(next.body, fresh.body);
    });

    it('rejects as fetch does when the upstream cannot be reached and there is no copy', async () => {
      upstream.on('/reset', { reset: true });
      await assert.rejects(get('/reset'), TypeError);
      await upstream.stop();
      await assert.rejects(get('/refused'), TypeError);
      assert.deepEqual([cache.stats().upstreamErrors, cache.stats().entries], [2, 0]);
    });

    it('serves the expired copy to a caller that gives up waiting on a slow upstream', async () => {
      const fresh = await get('/s');
      clock.advance(61_000);
      const held = gate();
      upstream.on('/s', { gate: held.opened });
      const caller = new AbortController();
      const answer = get('/s', { signal: caller.signal });
      await upstream.until(() => upstream.count('/s') === 2);
      caller.abort();
      const stale = await answer;
      held.open();

      assert.deepEqual([stale.cache, stale.body], ['stale', fresh.body]);
    });

    it('gives up on copies expired longer than staleIfError', async () => {
      build({ staleIfError: 60_000, backoff: { afterFailures: 100 } }); // four failures in a row
      await get('/s');
      upstream.on('/s', { status: 503 });
      clock.advance(119_999);
      assert.equal((await get('/s')).cache, 'stale');
      clock.advance(1);
      assert.deepEqual([(await get('/s')).status, (await get('/s')).cache], [503, 'miss']);
      await upstream.stop();
      await assert.rejects(get('/s'), TypeError);
    });

    it('does not serve must-revalidate copies stale', async () => {
      upstream.on('/m', { headers: { 'cache-control': 'max-age=60, must-revalidate' } });
      await get('/m');
      upstream.on('/m', { status: 503 });
      clock.advance(60_000);
      assert.equal((await get('/m')).status, 503);
    });
  });

  describe('bounds', () => {
    it('evicts the least recently used entry beyond maxEntries', async () => {
      build({ maxEntries: 2 });
      await get('/a');
      await get('/b');
      await get('/a');
      await get('/c');

      assert.deepEqual([(await get('/a')).cache, (await get('/b')).cache], ['hit', 'miss']);
      assert.equal(cache.stats().entries, 2);
    });

    it('evicts the least recently used entries beyond maxBytes', async () => {
      for (const path of ['/b/1', '/b/2', '/b/3']) upstream.on(path, { body: 'x'.repeat(1000) });
      await get('/b/1');
      const size = cache.stats().bytes;
      build({ maxBytes: Math.floor(2.5 * size) });
      for (const path of ['/b/1', '/b/2', '/b/3']) await get(path);

      assert.deepEqual([cache.stats().entries, cache.stats().bytes], [2, 2 * size]);
      assert.deepEqual([(await get('/b/3')).cache, (await get('/b/1')).cache], ['hit', 'miss']);
    });

    it('passes bodies larger than maxEntryBytes through without storing them', async () => {
      build({ maxEntryBytes: 1000 });
      upstream.on('/fits', { body: 'x'.repeat(1000) });
      upstream.on('/huge', { body: 'x'.repeat(1001) });
      const huge = await get('/huge');
      await get('/fits');

      assert.deepEqual([huge.cache, huge.body.length], ['miss', 1001]);
      assert.deepEqual([(await get('/huge')).cache, (await get('/fits')).cache], ['miss', 'hit']);
      assert.equal(cache.stats().entries, 1);
    });

    it('streams a body too large to store instead of holding it whole, to each caller', async () => {
      // An upstream that sends 3 MiB and then holds the body open: a cache that read bodies whole
      // before answering would never answer, and would hold all of an endless one in memory.
      const held = gate();
      const server = http.createServer((req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.write(Buffer.alloc(3 * 1024 * 1024, 'x'));
        void held.opened.then(() => res.end('end'));
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      try {
        build({ maxEntryBytes: 1000 });
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/stream`;
        const [first, second] = await Promise.all([cache.fetch(url), cache.fetch(url)]);
        held.open();
        const bodies = await Promise.all([first!.text(), second!.text()]);

        assert.deepEqual(
          [first!.status, second!.status, ...bodies.map((body) => body.length)],
          [200, 200, 3 * 1024 * 1024 + 3, 3 * 1024 * 1024 + 3],
        );
        assert.equal(cache.stats().entries, 0);
      } finally {
        server.closeAllConnections();
        server.close();
      }
    });

    it('forgets everything on clear()', async () => {
      await get('/a');
      cache.clear();
      assert.deepEqual([cache.stats().entries, cache.stats().bytes, (await get('/a')).cache], [0, 0, 'miss']);
    });
  });

  describe('the Response it answers with', () => {
    it('says the length of the body it holds on a miss, a hit, a revalidated and a stale copy', async () => {
      const body = JSON.stringify({ forecast: 'Sunny, 75°F' });
      upstream.on('/len', { body, validators: { etag: '"v1"' } });
      const answers = [await cache.fetch(upstream.url('/len'))];
      answers.push(await cache.fetch(upstream.url('/len')));
      clock.advance(61_000);
      answers.push(await cache.fetch(upstream.url('/len')));
      clock.advance(61_000);
      upstream.on('/len', { status: 503 });
      answers.push(await cache.fetch(upstream.url('/len')));

      const length = String(Buffer.byteLength(body));
      assert.deepEqual(
        answers.map((r) => [r.headers.get(CACHE_STATUS_HEADER), r.headers.get('content-length')]),
        [
          ['miss', length],
          ['hit', length],
          ['revalidated', length],
          ['stale', length],
        ],
      );
      for (const answer of answers) assert.equal(await answer.text(), body);
    });

    it('says the decoded length of a compressed upstream body, which is what it holds', async () => {
      const body = JSON.stringify({ text: 'rain '.repeat(200) });
      const gzipped = gzipSync(body);
      const server = http.createServer((_req, res) => {
        res.writeHead(200, {
          'content-type': 'application/json',
          'cache-control': 'max-age=60',
          'content-encoding': 'gzip',
          'content-length': gzipped.byteLength,
        });
        res.end(gzipped);
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      try {
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/z`;
        await (await cache.fetch(url)).arrayBuffer();
        const hit = await cache.fetch(url);
        assert.equal(hit.headers.get(CACHE_STATUS_HEADER), 'hit');
        assert.equal(hit.headers.get('content-encoding'), null, 'the held body is not encoded');
        assert.equal(hit.headers.get('content-length'), String(body.length));
        assert.equal(await hit.text(), body);
      } finally {
        server.closeAllConnections();
        server.close();
      }
    });

    it('gives each caller a body of its own: read as a stream, cloned, altered, the next hit is the same', async () => {
      const first = await cache.fetch(upstream.url('/own'));
      const expected = await first.clone().text();
      const streamed = (await first.body!.getReader().read()).value!;
      streamed.fill(0);
      assert.equal(first.bodyUsed, true);
      await assert.rejects(first.text(), { name: 'TypeError', message: 'Body is unusable: Body has already been read' });

      const hit = await cache.fetch(upstream.url('/own'));
      const copy = hit.clone();
      new Uint8Array(await hit.arrayBuffer()).fill(0);
      assert.equal(await copy.text(), expected);
      assert.equal(await (await cache.fetch(upstream.url('/own'))).text(), expected);
      assert.equal(upstream.count('/own'), 1);
    });
  });

  describe('age header', () => {
    it('counts whole seconds since the upstream produced the response, its own Age included', async () => {
      upstream.on('/aged', { headers: { age: '30', 'cache-control': 'max-age=60' } });
      const ages = [(await get('/aged')).age];
      clock.advance(12_500);
      ages.push((await get('/aged')).age);
      clock.advance(17_499);
      ages.push((await get('/aged')).age);
      clock.advance(1);
      const refetched = await get('/aged');

      assert.deepEqual(ages, ['30', '42', '59']);
      assert.deepEqual([refetched.cache, refetched.age], ['miss', '30']);
    });

    it('passes the upstream Age through on bypass', async () => {
      upstream.on('/aged', { headers: { age: '7' } });
      assert.equal((await get('/aged', { method: 'POST' })).age, '7');
    });
  });

  describe('options', () => {
    const invalid: Array<[string, UpstreamCacheOptions, ErrorConstructor]> = [
      ['maxEntries', { maxEntries: 0 }, RangeError],
      ['maxEntries', { maxEntries: 1.5 }, RangeError],
      ['maxBytes', { maxBytes: -1 }, RangeError],
      ['maxEntryBytes', { maxEntryBytes: Number.NaN }, RangeError],
      ['defaultMaxAge', { defaultMaxAge: Number.POSITIVE_INFINITY }, RangeError],
      ['staleIfError', { staleIfError: -1 }, RangeError],
      ['notFoundTtl', { notFoundTtl: '10m' as unknown as number }, TypeError],
      ['enabled', { enabled: 'yes' as unknown as boolean }, TypeError],
      ['fetch', { fetch: 'fetch' as unknown as typeof fetch }, TypeError],
      ['rules', { rules: {} as unknown as [] }, TypeError],
      [
        'rules[1].path',
        {
          rules: [
            { path: '/a/**', maxAge: 1 },
            { path: 'points/**', maxAge: 1 },
          ],
        },
        RangeError,
      ],
      ['rules[0].path', { rules: [{ path: '/a/***', maxAge: 1 }] }, RangeError],
      ['rules[0].path', { rules: [{ path: '/a?b', maxAge: 1 }] }, RangeError],
      ['rules[0].maxAge', { rules: [{ path: '/a', maxAge: -5 }] }, RangeError],
    ];
    for (const [name, options, type] of invalid) {
      it(`rejects an invalid ${name}: ${JSON.stringify(options)}`, () => {
        assert.throws(
          () => createUpstreamCache(options),
          (error: unknown) => {
            assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
            assert.match(error.message, new RegExp(`option "${name.replace(/[[\].]/g, '\\$&')}"`));
            return true;
          },
        );
      });
    }

    it('accepts zero durations and an empty rule list', () => {
      assert.doesNotThrow(() => createUpstreamCache({ rules: [], defaultMaxAge: 0, staleIfError: 0, notFoundTtl: 0, maxEntryBytes: 0 }));
    });
  });
});
