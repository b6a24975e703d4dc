import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  freshnessLifetime,
  parseCacheControl,
  requestDirectives,
  upstreamAge,
  varyingHeaders,
} from '../../src/gateway/cache/cache-control.js';

describe('parseCacheControl', () => {
  it('reads the directives a shared cache acts on, case-insensitively', () => {
    assert.deepEqual(parseCacheControl('Public, MAX-AGE=3600, s-maxage="600", proxy-revalidate'), {
      noStore: false,
      private: false,
      noCache: false,
      mustRevalidate: true,
      sMaxAge: 600,
      maxAge: 3600,
    });
  });

  it('treats qualified private and no-cache like the plain ones', () => {
    const directives = parseCacheControl('private="set-cookie", no-cache="x-a, x-b", no-store');
    assert.deepEqual([directives.private, directives.noCache, directives.noStore], [true, true, true]);
  });

  it('keeps the first of repeated directives and marks malformed values', () => {
    assert.equal(parseCacheControl('max-age=10, max-age=20').maxAge, 10);
    assert.ok(Number.isNaN(parseCacheControl('max-age=-1').maxAge));
    assert.ok(Number.isNaN(parseCacheControl('max-age').maxAge));
  });

  it('returns no directives for a missing header', () => {
    assert.deepEqual(parseCacheControl(null), {
      noStore: false,
      private: false,
      noCache: false,
      mustRevalidate: false,
    });
  });
});

describe('freshnessLifetime', () => {
  const lifetime = (headers: Record<string, string>) =>
    freshnessLifetime(parseCacheControl(headers['cache-control'] ?? null), new Headers(headers));
  const date = 'Wed, 15 Jul 2026 20:00:00 GMT';

  it('prefers s-maxage, then max-age, then Expires minus Date', () => {
    assert.equal(lifetime({ 'cache-control': 'max-age=60, s-maxage=5', expires: 'x' }), 5_000);
    assert.equal(lifetime({ 'cache-control': 'max-age=60', date, expires: 'Wed, 15 Jul 2026 21:00:00 GMT' }), 60_000);
    assert.equal(lifetime({ date, expires: 'Wed, 15 Jul 2026 20:02:00 GMT' }), 120_000);
  });

  it('is 0 for no-cache, malformed or missing information', () => {
    assert.equal(lifetime({ 'cache-control': 'no-cache, max-age=60' }), 0);
    assert.equal(lifetime({ 'cache-control': 'max-age=soon' }), 0);
    assert.equal(lifetime({ date, expires: '0' }), 0);
    assert.equal(lifetime({ expires: 'Wed, 15 Jul 2026 20:02:00 GMT' }), 0);
    assert.equal(lifetime({ date, expires: 'Wed, 15 Jul 2026 19:00:00 GMT' }), 0);
    assert.equal(lifetime({}), 0);
  });
});

describe('upstreamAge', () => {
  it('reads Age in seconds and ignores malformed values', () => {
    assert.equal(upstreamAge(new Headers({ age: '42' })), 42_000);
    assert.equal(upstreamAge(new Headers({ age: '42, 7' })), 42_000);
    assert.equal(upstreamAge(new Headers({ age: '-3' })), 0);
    assert.equal(upstreamAge(new Headers()), 0);
  });
});

describe('varyingHeaders', () => {
  it('lists the request headers a response varies on, or * when it can never be reused', () => {
    const headers = new Headers({ vary: 'Accept, Feature-Flags,accept' });
    assert.deepEqual(varyingHeaders(headers), ['accept', 'feature-flags']);
    assert.deepEqual(varyingHeaders(new Headers()), []);
    assert.equal(varyingHeaders(new Headers({ vary: 'Accept, *' })), '*');
  });
});

describe('requestDirectives', () => {
  const of = (headers: Record<string, string>) => requestDirectives(new Headers(headers));

  it('reads no-store, no-cache, max-age and min-fresh, and takes max-age=0 as no-cache', () => {
    assert.deepEqual(of({ 'cache-control': 'No-Store' }), { noStore: true, noCache: false });
    assert.deepEqual(of({ 'cache-control': 'no-cache' }), { noStore: false, noCache: true });
    assert.deepEqual(of({ 'cache-control': 'max-age=0' }), { noStore: false, noCache: true, maxAge: 0 });
    assert.deepEqual(of({ 'cache-control': 'max-age=30, min-fresh=5' }), { noStore: false, noCache: false, maxAge: 30, minFresh: 5 });
  });

  it('reads Pragma: no-cache only when there is no Cache-Control (RFC 9111 §5.4)', () => {
    assert.deepEqual(of({ pragma: 'no-cache' }), { noStore: false, noCache: true });
    assert.deepEqual(of({ pragma: 'no-cache', 'cache-control': 'max-age=60' }), { noStore: false, noCache: false, maxAge: 60 });
    assert.deepEqual(of({}), { noStore: false, noCache: false });
  });

  it('asks the origin when max-age or min-fresh is malformed', () => {
    assert.equal(of({ 'cache-control': 'max-age=soon' }).noCache, true);
    assert.equal(of({ 'cache-control': 'min-fresh=-1' }).noCache, true);
  });
});
