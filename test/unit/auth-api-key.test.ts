/**
 * API key verification: the right key from the header or as a bearer token, rotation, and what
 * the caller becomes (a principal per key; the key itself never leaves the verifier).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createApiKeyVerifier } from '../../src/gateway/auth/api-key.js';

const NEW_KEY = 'weather-key-2026-new-0123456789';
const OLD_KEY = 'weather-key-2025-old-9876543210';
const OTHER_ROUTE_KEY = 'time-key-abcdefghijklmnop';

describe('createApiKeyVerifier', () => {
  const verify = createApiKeyVerifier({ keys: [NEW_KEY, OLD_KEY], header: 'x-api-key' });

  it('accepts a listed key from the configured header or as Authorization: Bearer', () => {
    const fromHeader = verify({ 'x-api-key': NEW_KEY });
    const fromBearer = verify({ authorization: `Bearer ${NEW_KEY}` });
    assert.ok(fromHeader.ok && fromBearer.ok);
    assert.equal(fromHeader.principal, fromBearer.principal);
    assert.match(fromHeader.principal, /^apiKey:[A-Za-z0-9_-]{22}$/);
  });

  it('accepts the old key while it is still listed, as a principal of its own', () => {
    const current = verify({ 'x-api-key': NEW_KEY });
    const old = verify({ 'x-api-key': OLD_KEY });
    assert.ok(current.ok && old.ok);
    assert.notEqual(current.principal, old.principal);
    const afterRotation = createApiKeyVerifier({ keys: [NEW_KEY], header: 'x-api-key' });
    assert.deepEqual(afterRotation({ 'x-api-key': OLD_KEY }), {
      ok: false,
      reason: 'invalid',
      message: 'the API key is not valid for this route',
    });
  });

  it("refuses a wrong key, another route's key and a near miss as invalid", () => {
    for (const key of ['nope', OTHER_ROUTE_KEY, NEW_KEY.slice(0, -1), `${NEW_KEY}x`, NEW_KEY.toUpperCase()]) {
      const outcome = verify({ 'x-api-key': key });
      assert.equal(outcome.ok ? 'ok' : outcome.reason, 'invalid', key);
    }
    assert.equal((verify({ authorization: `Bearer ${OTHER_ROUTE_KEY}` }) as { reason: string }).reason, 'invalid');
  });

  it('reports a request without a key as missing, naming where to put it', () => {
    for (const headers of [{}, { 'x-api-key': '' }, { authorization: 'Basic dXNlcjpwYXNz' }, { 'x-other': NEW_KEY }]) {
      const outcome = verify(headers);
      assert.ok(!outcome.ok);
      assert.equal(outcome.reason, 'missing', JSON.stringify(headers));
      assert.match(outcome.message, /x-api-key header or as Authorization: Bearer <key>/);
    }
  });

  it('never lets a blank header hide another credential', () => {
    const accepted: Array<Record<string, string | string[]>> = [
      { 'x-api-key': '', authorization: `Bearer ${NEW_KEY}` },
      { 'x-api-key': ' \t ', authorization: `Bearer ${NEW_KEY}` },
      // As req.headersDistinct has them: a repeated header with a blank value first.
      { 'x-api-key': ['', NEW_KEY] },
      { authorization: ['', `Bearer ${NEW_KEY}`] },
      { 'x-api-key': [' '], authorization: ['  ', `Bearer ${NEW_KEY}`] },
    ];
    for (const headers of accepted) assert.ok(verify(headers).ok, JSON.stringify(headers));
  });

  it('takes only the first non-blank value, so one request cannot try several keys', () => {
    for (const headers of [
      { 'x-api-key': ['not-the-key-0123456789', NEW_KEY] },
      { 'x-api-key': 'nope', authorization: `Bearer ${NEW_KEY}` },
    ]) {
      assert.equal((verify(headers) as { reason: string }).reason, 'invalid', JSON.stringify(headers));
    }
  });

  it('reads the configured header, and then only the Bearer form besides it', () => {
    const custom = createApiKeyVerifier({ keys: [NEW_KEY], header: 'x-weather-key' });
    assert.ok(custom({ 'x-weather-key': NEW_KEY }).ok);
    assert.ok(custom({ authorization: `bearer ${NEW_KEY}` }).ok);
    assert.equal((custom({ 'x-api-key': NEW_KEY }) as { reason: string }).reason, 'missing');
  });

  it('accepts as Authorization: Bearer every key it accepts in its header, whatever characters it has', () => {
    // gateway.yaml takes any key of 16 characters or more, not only RFC 6750's token characters.
    const keys = ['p@ss:w0rd!2026$%^&*(){}', 'correct horse battery staple', 'key,with;separators"and\\'];
    const verifyAny = createApiKeyVerifier({ keys, header: 'x-api-key' });
    for (const key of keys) {
      const fromHeader = verifyAny({ 'x-api-key': key });
      const fromBearer = verifyAny({ authorization: `Bearer ${key}` });
      assert.ok(fromHeader.ok, key);
      assert.ok(fromBearer.ok, `${key}: ${fromBearer.ok ? '' : fromBearer.message}`);
      assert.equal(fromBearer.principal, fromHeader.principal);
    }
    assert.equal((verifyAny({ authorization: 'Bearer ' }) as { reason: string }).reason, 'missing');
    assert.equal((verifyAny({ authorization: 'Bearer correct horse' }) as { reason: string }).reason, 'invalid');
  });

  it('hands tools the key id, never the key', () => {
    const outcome = verify({ 'x-api-key': NEW_KEY });
    assert.ok(outcome.ok);
    assert.equal(outcome.authInfo.token, '');
    assert.deepEqual(outcome.authInfo.scopes, []);
    assert.equal(outcome.authInfo.clientId, outcome.principal);
    assert.deepEqual(outcome.authInfo.extra, { kind: 'apiKey', keyId: outcome.principal.slice('apiKey:'.length) });
    assert.ok(!JSON.stringify(outcome).includes(NEW_KEY));
  });

  it('refuses to be built without keys', () => {
    assert.throws(() => createApiKeyVerifier({ keys: [], header: 'x-api-key' }), RangeError);
  });
});
