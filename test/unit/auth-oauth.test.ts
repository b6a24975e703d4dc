/**
 * JWT bearer tokens against a real issuer on loopback (discovery and JWKS over HTTP): what is
 * accepted, every way a token is refused, key rotation, and an issuer that cannot be reached.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_ALGORITHMS } from '../../src/gateway/auth/auth-config.js';
import { createIssuerKeyCache, createIssuerKeys, createJwtVerifier, type JwtVerifierOptions } from '../../src/gateway/auth/oauth.js';
import type { AuthOutcome } from '../../src/gateway/auth/outcome.js';
import { startOidcIssuer, type OidcIssuer } from '../helpers/oidc-issuer.js';

const AUDIENCE = 'api://gateway-test';

let idp: OidcIssuer;
before(async () => {
  idp = await startOidcIssuer({ audience: AUDIENCE });
});
after(async () => {
  await idp.close();
});

function verifier(options: Partial<JwtVerifierOptions> = {}) {
  return createJwtVerifier({
    keys: createIssuerKeys({ issuer: idp.issuer }),
    audience: [AUDIENCE],
    algorithms: [...DEFAULT_ALGORITHMS],
    clockTolerance: 60_000,
    scopes: [],
    ...options,
  });
}

const outcomeOf = (outcome: AuthOutcome) => (outcome.ok ? 'ok' : `${outcome.reason}: ${outcome.message}`);

describe('createJwtVerifier', () => {
  it('accepts a valid token and describes the caller for tools', async () => {
    const token = await idp.sign({ sub: 'alice', azp: 'vscode-client', scp: 'weather.read weather.write' });
    const outcome = await verifier()(token);
    assert.ok(outcome.ok, outcomeOf(outcome));
    assert.equal(outcome.authInfo.token, token);
    assert.equal(outcome.authInfo.clientId, 'vscode-client');
    assert.deepEqual(outcome.authInfo.scopes, ['weather.read', 'weather.write']);
    assert.equal(typeof outcome.authInfo.expiresAt, 'number');
    assert.deepEqual(
      { ...outcome.authInfo.extra, claims: undefined },
      { kind: 'oauth', subject: 'alice', issuer: idp.issuer, claims: undefined },
    );
    assert.match(outcome.principal, /^oauth:[A-Za-z0-9_-]{22}$/);
    assert.ok(!outcome.principal.includes('alice'));
  });

  it('gives each subject its own principal, the same one for each of its tokens', async () => {
    const verify = verifier();
    const [a1, a2, b] = await Promise.all([
      verify(await idp.sign({ sub: 'alice' })),
      verify(await idp.sign({ sub: 'alice', jti: 'x' })),
      verify(await idp.sign({ sub: 'bob' })),
    ]);
    assert.ok(a1.ok && a2.ok && b.ok);
    assert.equal(a1.principal, a2.principal);
    assert.notEqual(a1.principal, b.principal);
  });

  it('refuses expired tokens, tolerating clock skew up to clockTolerance', async () => {
    const verify = verifier();
    assert.equal(outcomeOf(await verify(await idp.sign({}, { expiresIn: -30 }))), 'ok');
    assert.equal(outcomeOf(await verify(await idp.sign({}, { expiresIn: -120 }))), 'invalid: the token has expired');
  });

  it('refuses tokens that are not valid yet (nbf beyond the tolerance)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const verify = verifier();
    assert.equal(outcomeOf(await verify(await idp.sign({ nbf: now + 30 }))), 'ok');
    assert.equal(outcomeOf(await verify(await idp.sign({ nbf: now + 600 }))), 'invalid: the token is not valid yet');
  });

  it('uses the injected clock for exp and nbf', async () => {
    const token = await idp.sign({}, { expiresIn: 3600 });
    assert.equal(outcomeOf(await verifier({ now: () => Date.now() + 2 * 3_600_000 })(token)), 'invalid: the token has expired');
  });

  it('refuses a token for another audience, and accepts any audience of the list', async () => {
    const token = await idp.sign({ aud: 'api://another-app' });
    assert.equal(outcomeOf(await verifier()(token)), 'invalid: the token is for another audience');
    assert.equal(outcomeOf(await verifier({ audience: [AUDIENCE, 'api://another-app'] })(token)), 'ok');
  });

  it('refuses a token from another issuer, even signed with the right key', async () => {
    const token = await idp.sign({ iss: 'https://login.example.com/other-tenant/v2.0' });
    assert.equal(outcomeOf(await verifier()(token)), 'invalid: the token is from another issuer');
  });

  it('refuses tokens without exp or sub', async () => {
    assert.equal(outcomeOf(await verifier()(await idp.sign({}, { omit: ['exp'] }))), 'invalid: the token has no "exp" claim');
    assert.equal(outcomeOf(await verifier()(await idp.sign({}, { omit: ['sub'] }))), 'invalid: the token has no "sub" claim');
  });

  it('refuses a sub that is not a non-empty string: it names the caller, and 42 and "42" would be one', async () => {
    for (const sub of [42, '', ['alice', 'bob'], { id: 'alice' }, null]) {
      assert.equal(
        outcomeOf(await verifier()(await idp.sign({ sub: sub as string }))),
        'invalid: the token\'s "sub" claim is not valid',
        JSON.stringify(sub),
      );
    }
  });

  it('refuses alg none, without fetching any key', async () => {
    const before = idp.requests.jwks;
    const verify = verifier({ keys: createIssuerKeys({ issuer: idp.issuer }) });
    assert.equal(outcomeOf(await verify(idp.unsigned())), "invalid: the token's signature algorithm is not accepted");
    assert.equal(idp.requests.jwks, before);
  });

  it('refuses an HS256 token signed with the public key as the HMAC secret', async () => {
    assert.equal(
      outcomeOf(await verifier()(await idp.signHs256WithPublicKey())),
      "invalid: the token's signature algorithm is not accepted",
    );
  });

  it('refuses a token whose payload or signature was changed', async () => {
    const token = await idp.sign({ sub: 'alice' });
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), sub: 'admin' })).toString(
      'base64url',
    );
    const flipped = signature.slice(0, 10) + (signature[10] === 'A' ? 'B' : 'A') + signature.slice(11);
    assert.equal(outcomeOf(await verifier()(`${header}.${forged}.${signature}`)), "invalid: the token's signature is not valid");
    assert.equal(outcomeOf(await verifier()(`${header}.${payload}.${flipped}`)), "invalid: the token's signature is not valid");
    assert.equal(outcomeOf(await verifier()('not.a.jwt')), 'invalid: the token is not a valid signed JWT');
  });

  it('refuses algorithms outside the pinned list', async () => {
    assert.equal(
      outcomeOf(await verifier({ algorithms: ['ES256'] })(await idp.sign())),
      "invalid: the token's signature algorithm is not accepted",
    );
  });

  describe('scopes', () => {
    it('requires every configured scope, from scp or scope, and names what is missing (insufficient_scope)', async () => {
      const verify = verifier({ scopes: ['weather.read', 'weather.write'] });
      assert.equal(outcomeOf(await verify(await idp.sign({ scp: 'weather.read weather.write' }))), 'ok');
      assert.equal(outcomeOf(await verify(await idp.sign({ scope: 'weather.write weather.read' }))), 'ok');
      assert.equal(outcomeOf(await verify(await idp.sign({ scp: ['weather.read', 'weather.write'] }))), 'ok');
      const outcome = await verify(await idp.sign({ scp: 'weather.read' }));
      assert.deepEqual(outcome, {
        ok: false,
        reason: 'insufficient_scope',
        message: 'the token lacks the scope weather.write',
        scopes: ['weather.read', 'weather.write'],
      });
      assert.equal(outcomeOf(await verify(await idp.sign())), 'insufficient_scope: the token lacks the scope weather.read, weather.write');
    });

    it("matches Entra ID's short scp against a URI-form scope (api://app/scope)", async () => {
      const verify = verifier({ scopes: ['api://gateway-test/weather.read'] });
      assert.equal(outcomeOf(await verify(await idp.sign({ scp: 'weather.read' }))), 'ok');
      assert.equal(outcomeOf(await verify(await idp.sign({ scp: 'api://gateway-test/weather.read' }))), 'ok');
      assert.equal(
        outcomeOf(await verify(await idp.sign({ scp: 'time.read' }))),
        'insufficient_scope: the token lacks the scope api://gateway-test/weather.read',
      );
    });
  });
});

describe('createIssuerKeys', () => {
  it('discovers the JWKS once, on first use, and shares it between concurrent requests', async () => {
    const local = await startOidcIssuer();
    try {
      const keys = createIssuerKeys({ issuer: local.issuer });
      assert.deepEqual(local.requests, { discovery: 0, jwks: 0 });
      const verify = createJwtVerifier({ keys, audience: ['api://gateway-test'], algorithms: ['RS256'], clockTolerance: 0, scopes: [] });
      const outcomes = await Promise.all(Array.from({ length: 5 }, async () => verify(await local.sign())));
      assert.ok(outcomes.every((o) => o.ok));
      await verify(await local.sign());
      assert.deepEqual(local.requests, { discovery: 1, jwks: 1 });
    } finally {
      await local.close();
    }
  });

  it('skips discovery when jwksUri is given', async () => {
    const local = await startOidcIssuer();
    try {
      const verify = createJwtVerifier({
        keys: createIssuerKeys({ issuer: local.issuer, jwksUri: local.jwksUri }),
        audience: ['api://gateway-test'],
        algorithms: ['RS256'],
        clockTolerance: 0,
        scopes: [],
      });
      assert.equal(outcomeOf(await verify(await local.sign())), 'ok');
      assert.deepEqual(local.requests, { discovery: 0, jwks: 1 });
    } finally {
      await local.close();
    }
  });

  it('accepts a token signed with a new key after rotation: an unknown kid refetches the JWKS (at most every 30 s)', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const local = await startOidcIssuer();
    try {
      const verify = createJwtVerifier({
        keys: createIssuerKeys({ issuer: local.issuer }),
        audience: ['api://gateway-test'],
        algorithms: ['RS256'],
        clockTolerance: 0,
        scopes: [],
      });
      const oldToken = await local.sign();
      assert.equal(outcomeOf(await verify(oldToken)), 'ok');
      await local.rotate({ dropOld: true });
      const rotated = await local.sign();

      // Right after a fetch, an unknown kid does not make the gateway hammer the issuer.
      assert.equal(outcomeOf(await verify(rotated)), 'invalid: the token is signed with a key the issuer does not publish');
      assert.equal(local.requests.jwks, 1);

      t.mock.timers.tick(31_000);
      assert.equal(outcomeOf(await verify(rotated)), 'ok');
      assert.equal(local.requests.jwks, 2);
      // The old key is gone from the JWKS: its tokens no longer pass.
      assert.equal(outcomeOf(await verify(oldToken)), 'invalid: the token is signed with a key the issuer does not publish');
    } finally {
      await local.close();
    }
  });

  it('reports an unreachable issuer as unavailable, waits before retrying discovery, then recovers', async () => {
    const local = await startOidcIssuer();
    const clock = { now: 1_000_000 };
    try {
      local.failWith = 500;
      const verify = createJwtVerifier({
        keys: createIssuerKeys({ issuer: local.issuer, now: () => clock.now }),
        audience: ['api://gateway-test'],
        algorithms: ['RS256'],
        clockTolerance: 0,
        scopes: [],
      });
      const token = await local.sign();
      const first = await verify(token);
      assert.ok(!first.ok && first.reason === 'unavailable');
      assert.match(first.message, /OpenID discovery for http:\/\/127\.0\.0\.1:\d+\/tenant\/v2\.0 failed: .*answered HTTP 500/);
      assert.equal(first.retryAfterSeconds, 10);

      local.failWith = undefined;
      const second = await verify(token);
      assert.ok(!second.ok && second.reason === 'unavailable', 'within the retry delay, discovery is not tried again');
      assert.equal(local.requests.discovery, 1);

      clock.now += 10_000;
      assert.equal(outcomeOf(await verify(token)), 'ok');
      assert.equal(local.requests.discovery, 2);
    } finally {
      await local.close();
    }
  });

  it('keeps accepting tokens signed with known keys while a refresh of the JWKS fails, and leaves the issuer alone meanwhile', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const local = await startOidcIssuer();
    try {
      const verify = createJwtVerifier({
        keys: createIssuerKeys({ issuer: local.issuer, jwksUri: local.jwksUri }),
        audience: ['api://gateway-test'],
        algorithms: ['RS256'],
        clockTolerance: 0,
        scopes: [],
      });
      assert.equal(outcomeOf(await verify(await local.sign())), 'ok');
      // jose keeps keys 10 minutes; the refresh after that fails.
      local.failWith = 503;
      t.mock.timers.tick(11 * 60_000);
      assert.equal(outcomeOf(await verify(await local.sign())), 'ok');
      assert.equal(outcomeOf(await verify(await local.sign())), 'ok');
      assert.equal(local.requests.jwks, 2, 'one failed refresh, not one per request');
      // A kid the cached keys do not have may be a new key: that cannot be told while the issuer is down.
      await local.rotate();
      const rotated = await verify(await local.sign());
      assert.ok(!rotated.ok && rotated.reason === 'unavailable', outcomeOf(rotated));

      local.failWith = undefined;
      t.mock.timers.tick(10_000);
      assert.equal(outcomeOf(await verify(await local.sign())), 'ok');
      assert.equal(local.requests.jwks, 3);
    } finally {
      await local.close();
    }
  });

  it('waits before fetching keys again after a failed first fetch of the JWKS, then recovers', async () => {
    const local = await startOidcIssuer();
    const clock = { now: 1_000_000 };
    try {
      local.failWith = 500;
      const verify = createJwtVerifier({
        keys: createIssuerKeys({ issuer: local.issuer, jwksUri: local.jwksUri, now: () => clock.now }),
        audience: ['api://gateway-test'],
        algorithms: ['RS256'],
        clockTolerance: 0,
        scopes: [],
      });
      const token = await local.sign();
      const first = await verify(token);
      assert.ok(!first.ok && first.reason === 'unavailable', outcomeOf(first));
      assert.equal(first.retryAfterSeconds, 10);
      clock.now += 4_000;
      const second = await verify(token);
      assert.ok(!second.ok && second.reason === 'unavailable' && second.retryAfterSeconds === 6, outcomeOf(second));
      assert.equal(local.requests.jwks, 1, 'the issuer is not asked again within Retry-After');

      local.failWith = undefined;
      clock.now += 6_000;
      assert.equal(outcomeOf(await verify(token)), 'ok');
      assert.equal(local.requests.jwks, 2);
    } finally {
      await local.close();
    }
  });

  it('reports a refused connection as unavailable', async () => {
    const local = await startOidcIssuer();
    const { issuer } = local;
    const token = await local.sign();
    await local.close();
    const outcome = await createJwtVerifier({
      keys: createIssuerKeys({ issuer }),
      audience: ['api://gateway-test'],
      algorithms: ['RS256'],
      clockTolerance: 0,
      scopes: [],
    })(token);
    assert.ok(!outcome.ok && outcome.reason === 'unavailable', outcomeOf(outcome));
    assert.match(outcome.message, /could not be fetched \(ECONNREFUSED\)/);
  });

  it('refuses a discovery document that names another issuer', async () => {
    const local = await startOidcIssuer();
    try {
      const outcome = await createJwtVerifier({
        keys: createIssuerKeys({ issuer: `${local.issuer}/` }),
        audience: ['api://gateway-test'],
        algorithms: ['RS256'],
        clockTolerance: 0,
        scopes: [],
      })(await local.sign({ iss: `${local.issuer}/` }));
      assert.ok(!outcome.ok && outcome.reason === 'unavailable');
      assert.match(
        outcome.message,
        /names the issuer "http:\/\/127\.0\.0\.1:\d+\/tenant\/v2\.0", not "http:\/\/127\.0\.0\.1:\d+\/tenant\/v2\.0\/"/,
      );
    } finally {
      await local.close();
    }
  });

  it('is shared between routes with the same issuer', () => {
    const keysFor = createIssuerKeyCache();
    assert.equal(keysFor('https://a.example/t'), keysFor('https://a.example/t'));
    assert.notEqual(keysFor('https://a.example/t'), keysFor('https://b.example/t'));
    assert.notEqual(keysFor('https://a.example/t'), keysFor('https://a.example/t', 'https://a.example/keys'));
  });

  it('never throws for garbage input', async () => {
    const verify = verifier();
    for (const input of ['', '.', '..', 'a.b.c', 'eyJhbGciOiJSUzI1NiJ9.e30.', '\u0000']) {
      const outcome = await verify(input);
      assert.equal(outcome.ok, false, input);
    }
  });
});
