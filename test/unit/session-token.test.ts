/**
 * The session id codec: sealed ids that any instance can open, refused with a reason otherwise;
 * the keyring read from app settings. Time is a fake wall clock advanced by the tests.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { ClientCapabilities, Implementation } from '@modelcontextprotocol/server';
import { createSessionKeyring, sessionKeyringFromEnv, type SessionKeyring } from '../../src/gateway/sessions/session-keys.js';
import {
  SESSION_ID_MAX_LENGTH,
  createSessionTokens,
  type SessionClaims,
  type SessionIdRejection,
} from '../../src/gateway/sessions/session-token.js';

const MINUTE = 60_000;
const MAX_AGE = 24 * 60 * MINUTE;
const SECRET = Buffer.from('a3f1c0de'.repeat(8), 'hex'); // 32 bytes
const OTHER_SECRET = Buffer.alloc(32, 7);
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;
const REASONS: readonly SessionIdRejection[] = ['malformed', 'unknown_key', 'tampered', 'wrong_route', 'expired', 'not_yet_valid'];

const VSCODE: Omit<SessionClaims, 'issuedAt'> = {
  route: 'weather',
  protocolVersion: '2025-11-25',
  clientCapabilities: { roots: { listChanged: true }, sampling: {}, elicitation: { form: {}, url: {} } },
  clientInfo: { name: 'Visual Studio Code', version: '1.104.0' },
};

/** A codec on a fake wall clock; `clock.time` is what `now()` returns. */
function setup(keyring: SessionKeyring = createSessionKeyring(SECRET)) {
  const clock = { time: Date.UTC(2025, 5, 1, 12) };
  const tokens = createSessionTokens({ keyring, maxAge: MAX_AGE, now: () => clock.time });
  return { clock, tokens };
}

/** Deterministic incompressible text: a SHA-256 chain, hex. */
function noise(bytes: number, seed = 'seed'): string {
  let out = '';
  for (let block = createHash('sha256').update(seed).digest(); out.length < bytes; block = createHash('sha256').update(block).digest()) {
    out += block.toString('hex');
  }
  return out.slice(0, bytes);
}

function rejection(result: ReturnType<ReturnType<typeof createSessionTokens>['verify']>): SessionIdRejection | 'ok' {
  return result.ok ? 'ok' : result.reason;
}

describe('session tokens', () => {
  it('round-trips the claims, capabilities and client info included, stamped with the issue time', () => {
    const { clock, tokens } = setup();
    const claims = { ...VSCODE, clientInfo: { ...VSCODE.clientInfo, title: 'VS Code' } };
    const result = tokens.verify(tokens.issue(claims), 'weather');
    assert.deepEqual(result, { ok: true, claims: { ...claims, issuedAt: clock.time } });
  });

  it('issues short visible-ASCII ids for a typical client', () => {
    const { tokens } = setup();
    const id = tokens.issue(VSCODE);
    assert.match(id, VISIBLE_ASCII);
    assert.ok(id.length < 300, `${id.length} characters`);
  });

  it('carries the principal of an authenticated session, and none when the route is open', () => {
    const { clock, tokens } = setup();
    const principal = 'oauth:3q2-7wAAAAAAAAAAAAAAAA';
    assert.deepEqual(tokens.verify(tokens.issue({ ...VSCODE, principal }), 'weather'), {
      ok: true,
      claims: { ...VSCODE, principal, issuedAt: clock.time },
    });
    const open = tokens.verify(tokens.issue(VSCODE), 'weather');
    assert.ok(open.ok);
    assert.equal('principal' in open.claims, false);
  });

  it('keeps the principal whole when the other claims are reduced to fit', () => {
    const { tokens } = setup();
    const principal = 'apiKey:AAAAAAAAAAAAAAAAAAAAAA';
    const clientInfo = { name: noise(5_000), version: '1.0.0' };
    const id = tokens.issue({ ...VSCODE, clientInfo, principal });
    assert.ok(id.length <= SESSION_ID_MAX_LENGTH);
    const result = tokens.verify(id, 'weather');
    assert.ok(result.ok, rejection(result));
    assert.equal(result.claims.principal, principal);
    assert.ok(result.claims.clientInfo.name.length <= 64);
  });

  it('issues different ids for identical claims', () => {
    const { tokens } = setup();
    const ids = new Set(Array.from({ length: 50 }, () => tokens.issue(VSCODE)));
    assert.equal(ids.size, 50);
  });

  describe('claims too big for an id', () => {
    it('keeps an id under 1 KB for 50 KB of capabilities, still saying which capabilities the client has', () => {
      const { tokens } = setup();
      const clientCapabilities = {
        experimental: { huge: { blob: noise(20_000, 'a') } },
        'vendor.unknown': { blob: noise(10_000, 'b') },
        sampling: { tools: {}, notInTheSpec: noise(10_000, 'c') },
        elicitation: { form: { applyDefaults: true, extra: noise(5_000, 'd') } },
        roots: { listChanged: true, extra: noise(5_000, 'e') },
      } as ClientCapabilities;
      assert.ok(JSON.stringify(clientCapabilities).length >= 50_000);
      const clientInfo: Implementation = {
        name: 'n'.repeat(5_000),
        version: '1.0.0',
        icons: [{ src: `data:image/png;base64,${noise(20_000, 'f')}` }],
      };

      const id = tokens.issue({ ...VSCODE, clientCapabilities, clientInfo });
      assert.match(id, VISIBLE_ASCII);
      assert.ok(id.length <= SESSION_ID_MAX_LENGTH && id.length < 1024, `${id.length} characters`);
      const result = tokens.verify(id, 'weather');
      assert.ok(result.ok, rejection(result));
      const caps = result.claims.clientCapabilities;
      assert.ok(caps.sampling && caps.elicitation, JSON.stringify(caps));
      assert.equal(caps.roots?.listChanged, true);
      assert.equal(caps.experimental, undefined);
      assert.equal(result.claims.clientInfo.version, '1.0.0');
      assert.ok(result.claims.clientInfo.name.startsWith('nnn') && result.claims.clientInfo.name.length <= 64);
    });

    it('drops experimental and unknown capabilities first, keeping the known ones whole', () => {
      const { tokens } = setup();
      const clientCapabilities = {
        experimental: { big: { blob: noise(4_000) } },
        unknownKey: { blob: noise(4_000, 'x') },
        sampling: { context: {}, tools: {} },
        elicitation: { form: { applyDefaults: true }, url: {} },
        roots: { listChanged: false },
      } as ClientCapabilities;
      const result = tokens.verify(tokens.issue({ ...VSCODE, clientCapabilities }), 'weather');
      assert.ok(result.ok, rejection(result));
      assert.deepEqual(result.claims.clientCapabilities, {
        sampling: { context: {}, tools: {} },
        elicitation: { form: { applyDefaults: true }, url: {} },
        roots: { listChanged: false },
      });
      assert.deepEqual(result.claims.clientInfo, VSCODE.clientInfo);
    });

    it('keeps only which capabilities the client has when even the known ones are too big', () => {
      const { tokens } = setup();
      const extensions = Object.fromEntries(
        Array.from({ length: 500 }, (_, i) => [`vendor-${noise(8, String(i))}/ext-${i}`, { setting: i }]),
      );
      const clientCapabilities = {
        extensions,
        sampling: { tools: {} },
        roots: { listChanged: true },
        tasks: { list: {} },
      } as ClientCapabilities;
      const clientInfo = { name: `\u0000${'é'.repeat(100)}`, version: '2'.repeat(100), title: 'dropped' };
      const id = tokens.issue({ ...VSCODE, clientCapabilities, clientInfo });
      assert.ok(id.length <= SESSION_ID_MAX_LENGTH, `${id.length} characters`);
      const result = tokens.verify(id, 'weather');
      assert.ok(result.ok, rejection(result));
      assert.deepEqual(result.claims.clientCapabilities, { extensions: {}, sampling: {}, roots: { listChanged: true }, tasks: {} });
      assert.deepEqual(result.claims.clientInfo, { name: `\ufffd${'é'.repeat(31)}`, version: '2'.repeat(32) });
    });

    it('refuses to issue when the route name alone cannot fit', () => {
      const { tokens } = setup();
      assert.throws(() => tokens.issue({ ...VSCODE, route: noise(2_000) }), RangeError);
    });
  });

  describe('verify', () => {
    it('never accepts an id with any one character changed', () => {
      const { tokens } = setup();
      const id = tokens.issue(VSCODE);
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      for (let i = 0; i < id.length; i++) {
        const next = alphabet[(alphabet.indexOf(id[i]!) + 1) % alphabet.length]!;
        const changed = id.slice(0, i) + next + id.slice(i + 1);
        assert.notEqual(rejection(tokens.verify(changed, 'weather')), 'ok', `position ${i}`);
      }
    });

    it('never accepts an id with any one bit of its bytes flipped', () => {
      const { tokens } = setup();
      const bytes = Buffer.from(tokens.issue(VSCODE), 'base64url');
      for (let i = 0; i < bytes.length; i++) {
        for (let bit = 0; bit < 8; bit++) {
          const changed = Buffer.from(bytes);
          changed[i]! ^= 1 << bit;
          assert.notEqual(rejection(tokens.verify(changed.toString('base64url'), 'weather')), 'ok', `byte ${i} bit ${bit}`);
        }
      }
    });

    it('never accepts a flipped, truncated or extended id (property)', () => {
      const { tokens } = setup();
      const ids = [tokens.issue(VSCODE), tokens.issue({ ...VSCODE, clientInfo: { name: 'x', version: noise(300) } })];
      const mutation = fc.oneof(
        fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
        fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat() }),
        fc.record({ kind: fc.constant('append' as const), extra: fc.string({ minLength: 1, maxLength: 8, unit: 'binary' }) }),
      );
      fc.assert(
        fc.property(fc.constantFrom(...ids), mutation, (id, m) => {
          let changed: string;
          if (m.kind === 'flip') {
            const bytes = Buffer.from(id, 'base64url');
            bytes[m.at % bytes.length]! ^= m.mask;
            changed = bytes.toString('base64url');
          } else if (m.kind === 'truncate') {
            changed = id.slice(0, m.keep % id.length);
          } else {
            changed = id + m.extra;
          }
          const result = tokens.verify(changed, 'weather');
          return !result.ok && REASONS.includes(result.reason);
        }),
        { numRuns: 500 },
      );
    });

    it('never throws and never accepts arbitrary strings (property)', () => {
      const { tokens } = setup();
      fc.assert(
        fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.base64String({ minLength: 40, maxLength: 400 })), (input) => {
          const result = tokens.verify(input.replace(/=+$/, ''), 'weather');
          return !result.ok && REASONS.includes(result.reason);
        }),
        { numRuns: 500 },
      );
    });

    it('reports an id from another route as wrong_route', () => {
      const { tokens } = setup();
      assert.equal(rejection(tokens.verify(tokens.issue(VSCODE), 'time')), 'wrong_route');
    });

    it('binds the route into the authentication: a forged route tag fails as tampered', () => {
      const { tokens } = setup();
      const bytes = Buffer.from(tokens.issue(VSCODE), 'base64url');
      createHash('sha256').update('time').digest().copy(bytes, 5, 0, 2);
      assert.equal(rejection(tokens.verify(bytes.toString('base64url'), 'time')), 'tampered');
    });

    it('reports an id sealed with another secret as unknown_key', () => {
      const { tokens } = setup();
      const other = setup(createSessionKeyring(OTHER_SECRET)).tokens;
      assert.equal(rejection(tokens.verify(other.issue(VSCODE), 'weather')), 'unknown_key');
    });

    it('expires ids older than maxAge', () => {
      const { clock, tokens } = setup();
      const id = tokens.issue(VSCODE);
      clock.time += MAX_AGE;
      assert.equal(rejection(tokens.verify(id, 'weather')), 'ok');
      clock.time += 1;
      assert.equal(rejection(tokens.verify(id, 'weather')), 'expired');
    });

    it('accepts ids from a clock up to 5 minutes ahead, refuses them beyond as not_yet_valid', () => {
      const { clock, tokens } = setup();
      const start = clock.time;
      clock.time = start + 5 * MINUTE;
      const slightlyAhead = tokens.issue(VSCODE);
      clock.time = start + 5 * MINUTE + 1;
      const tooFarAhead = tokens.issue(VSCODE);
      clock.time = start;
      assert.equal(rejection(tokens.verify(slightlyAhead, 'weather')), 'ok');
      assert.equal(rejection(tokens.verify(tooFarAhead, 'weather')), 'not_yet_valid');
    });

    it('reports malformed input as malformed', () => {
      const { tokens } = setup();
      const id = tokens.issue(VSCODE);
      const bytes = Buffer.from(id, 'base64url');
      bytes[0] = 2; // a format version this release does not know
      for (const input of [
        '',
        'abc',
        'A'.repeat(5 * 1024),
        `é${id}`,
        `${id}=`,
        ` ${id}`,
        id.replace(/./, '+'),
        bytes.toString('base64url'),
      ]) {
        assert.equal(rejection(tokens.verify(input, 'weather')), 'malformed', JSON.stringify(input.slice(0, 40)));
      }
      assert.equal(rejection(tokens.verify(undefined as unknown as string, 'weather')), 'malformed');
    });
  });

  it('rejects a maxAge that is not positive when built', () => {
    assert.throws(() => createSessionTokens({ keyring: createSessionKeyring(SECRET), maxAge: 0 }), /maxAge/);
  });
});

describe('sessionKeyringFromEnv', () => {
  const fromEnv = (env: NodeJS.ProcessEnv) => sessionKeyringFromEnv(env);

  it('reads base64, base64url and hex secrets as the same key', () => {
    const secret = Buffer.from(noise(128), 'hex').subarray(0, 32); // has +, / or -, _ in base64
    const ids = ['base64', 'base64url', 'hex'].map((encoding) => {
      const { keyring, ephemeral } = fromEnv({ GATEWAY_SESSION_SECRET: secret.toString(encoding as BufferEncoding) });
      assert.equal(ephemeral, false);
      return keyring.current.id;
    });
    assert.deepEqual(ids, Array(3).fill(createSessionKeyring(secret).current.id));
  });

  it('opens ids sealed by a keyring built from the same secret in another process', () => {
    const value = Buffer.from(SECRET).toString('base64');
    const issuer = setup(fromEnv({ GATEWAY_SESSION_SECRET: value }).keyring).tokens;
    const verifier = setup(fromEnv({ GATEWAY_SESSION_SECRET: ` ${value}\n` }).keyring).tokens;
    assert.equal(rejection(verifier.verify(issuer.issue(VSCODE), 'weather')), 'ok');
  });

  it('accepts a passphrase of 32 bytes or more', () => {
    const { ephemeral } = fromEnv({ GATEWAY_SESSION_SECRET: 'correct horse battery staple, twice over!' });
    assert.equal(ephemeral, false);
  });

  it('rejects a short secret with a message naming the variable, not the value', () => {
    const value = Buffer.alloc(16, 9).toString('base64');
    assert.throws(
      () => fromEnv({ GATEWAY_SESSION_SECRET: value }),
      (error: Error) => /GATEWAY_SESSION_SECRET is too short: it gives 16 bytes/.test(error.message) && !error.message.includes(value),
    );
    assert.throws(() => fromEnv({ GATEWAY_SESSION_SECRET: 'short passphrase' }), /GATEWAY_SESSION_SECRET is too short/);
    assert.throws(
      () => fromEnv({ GATEWAY_SESSION_SECRET: SECRET.toString('hex'), GATEWAY_SESSION_SECRET_PREVIOUS: 'abcd' }),
      /GATEWAY_SESSION_SECRET_PREVIOUS is too short/,
    );
  });

  it('makes an ephemeral random key when no secret is set (or a blank one)', () => {
    const first = fromEnv({});
    const second = fromEnv({ GATEWAY_SESSION_SECRET: '  ' });
    assert.equal(first.ephemeral, true);
    assert.equal(second.ephemeral, true);
    assert.notEqual(first.keyring.current.id, second.keyring.current.id);
  });

  it('refuses a previous secret without a current one', () => {
    assert.throws(() => fromEnv({ GATEWAY_SESSION_SECRET_PREVIOUS: SECRET.toString('hex') }), /GATEWAY_SESSION_SECRET is not/);
  });

  it('rotates: old ids still open through _PREVIOUS, new ids are sealed with the new secret', () => {
    const oldValue = SECRET.toString('base64');
    const newValue = OTHER_SECRET.toString('base64');
    const before = setup(fromEnv({ GATEWAY_SESSION_SECRET: oldValue }).keyring).tokens;
    const during = setup(fromEnv({ GATEWAY_SESSION_SECRET: newValue, GATEWAY_SESSION_SECRET_PREVIOUS: oldValue }).keyring).tokens;
    const after = setup(fromEnv({ GATEWAY_SESSION_SECRET: newValue }).keyring).tokens;

    const oldId = before.issue(VSCODE);
    const newId = during.issue(VSCODE);
    assert.equal(rejection(during.verify(oldId, 'weather')), 'ok');
    assert.equal(rejection(during.verify(newId, 'weather')), 'ok');
    assert.equal(rejection(after.verify(newId, 'weather')), 'ok');
    assert.equal(rejection(before.verify(newId, 'weather')), 'unknown_key');
    assert.equal(rejection(after.verify(oldId, 'weather')), 'unknown_key');
  });
});
