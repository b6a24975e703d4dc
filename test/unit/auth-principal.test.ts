/**
 * How callers are named: a keyed principal for logs and modules, the same for one deployment's
 * secret and different for another; a plain session owner that no rotation changes.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac, createSecretKey, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createPrincipalNamer } from '../../src/gateway/auth/principal.js';
import { createSessionKeyring } from '../../src/gateway/sessions/session-keys.js';

const SECRET = Buffer.from('5e'.repeat(32), 'hex');
const OTHER_SECRET = Buffer.from('a7'.repeat(32), 'hex');
const API_KEY = 'weak-but-long-key-123456';

/** What principals were before they were keyed: a bare SHA-256 anyone can recompute from a guess. */
const bareHash = (kind: string, ...parts: string[]) =>
  `${kind}:${createHash('sha256')
    .update(`mcp-gateway principal\0${kind}\0${parts.join('\0')}`)
    .digest()
    .subarray(0, 16)
    .toString('base64url')}`;

describe('createPrincipalNamer', () => {
  it('names a caller with 128 bits of HMAC-SHA256 under the key, never the bare hash of what identifies it', () => {
    const key = createSecretKey(randomBytes(32));
    const { principal } = createPrincipalNamer(key)('apiKey', API_KEY);
    const mac = createHmac('sha256', key).update(`mcp-gateway principal\0apiKey\0${API_KEY}`).digest().subarray(0, 16);
    assert.equal(principal, `apiKey:${mac.toString('base64url')}`);
    assert.match(principal, /^apiKey:[A-Za-z0-9_-]{22}$/);
    assert.notEqual(principal, bareHash('apiKey', API_KEY));
  });

  it('binds sessions to the bare hash, the same under every key (and as in ids issued before principals were keyed)', () => {
    const a = createPrincipalNamer(createSecretKey(randomBytes(32)))('oauth', 'https://issuer.example', 'alice');
    const b = createPrincipalNamer(createSecretKey(randomBytes(32)))('oauth', 'https://issuer.example', 'alice');
    assert.equal(a.sessionOwner, bareHash('oauth', 'https://issuer.example', 'alice'));
    assert.equal(a.sessionOwner, b.sessionOwner);
    assert.notEqual(a.principal, b.principal);
  });

  it('keeps kinds and parts apart', () => {
    const names = createPrincipalNamer(createSecretKey(randomBytes(32)));
    const all = [names('apiKey', 'x'), names('oauth', 'x'), names('oauth', 'a', 'bc'), names('oauth', 'ab', 'c')];
    assert.equal(new Set(all.map((n) => n.principal)).size, all.length);
    assert.equal(new Set(all.map((n) => n.sessionOwner)).size, all.length);
  });
});

describe('keyring.principalKey', () => {
  it('is the same for the same secret, on any instance, and another for another secret', () => {
    const name = (secret: Buffer, previous: Buffer[] = []) =>
      createPrincipalNamer(createSessionKeyring(secret, previous).principalKey)('apiKey', API_KEY).principal;
    assert.equal(name(SECRET), name(Buffer.from(SECRET)));
    assert.equal(name(SECRET, [OTHER_SECRET]), name(SECRET), 'only the current secret keys principals');
    assert.notEqual(name(OTHER_SECRET), name(SECRET));
  });

  it('is a subkey of its own, not the key that seals session ids', () => {
    const keyring = createSessionKeyring(SECRET);
    assert.notDeepEqual(keyring.principalKey.export(), keyring.current.key.export());
    assert.equal(keyring.principalKey.symmetricKeySize, 32);
  });
});
