/**
 * A local OpenID Connect issuer on 127.0.0.1 for tests: discovery and JWKS over real HTTP, tokens
 * signed with jose, key rotation, and switches to make it fail. Its issuer URL has a path, like
 * Entra ID's (`http://127.0.0.1:<port>/tenant/v2.0`), so discovery must append, not replace.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { base64url, exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

interface SigningKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: CryptoKey;
  publicJwk: JWK;
  publicPem: string;
}

export interface SignOptions {
  /** Sign with this key (default: the current one). */
  kid?: string;
  /** Seconds from now until `exp` (default 3600; negative for an expired token). Ignored when claims set `exp`. */
  expiresIn?: number;
  /** Omit these standard claims (`exp`, `sub`, …). */
  omit?: string[];
}

export interface OidcIssuer {
  /** The issuer identifier, exactly what tokens carry in `iss`. */
  readonly issuer: string;
  /** The origin it listens on. */
  readonly origin: string;
  readonly jwksUri: string;
  /** Requests seen, by kind. */
  readonly requests: { discovery: number; jwks: number };
  /** When set, discovery and JWKS answer this status instead (500, 404…). */
  failWith: number | undefined;
  /** The kid new tokens are signed with. */
  readonly currentKid: string;
  /** A token with `iss`, `aud`, `sub`, `iat`, `exp` filled in; `claims` add or override. */
  sign(claims?: JWTPayload, options?: SignOptions): Promise<string>;
  /** An unsecured token (`alg: none`) with the same default claims. */
  unsigned(claims?: JWTPayload): string;
  /** An HS256 token whose HMAC secret is the current public key (PEM): the classic key-confusion attack. */
  signHs256WithPublicKey(claims?: JWTPayload): Promise<string>;
  /** Adds a new signing key to the JWKS and makes it current; `dropOld` removes the others. Returns its kid. */
  rotate(options?: { dropOld?: boolean }): Promise<string>;
  close(): Promise<void>;
}

export interface OidcIssuerOptions {
  /** Path of the issuer identifier under the origin; default `/tenant/v2.0`. */
  path?: string;
  /** Default `aud` of signed tokens. */
  audience?: string;
  alg?: 'RS256' | 'ES256';
}

/** Starts an issuer on 127.0.0.1, ephemeral port. */
export async function startOidcIssuer({
  path = '/tenant/v2.0',
  audience = 'api://gateway-test',
  alg = 'RS256',
}: OidcIssuerOptions = {}): Promise<OidcIssuer> {
  const keys: SigningKey[] = [await makeKey(alg)];
  const requests = { discovery: 0, jwks: 0 };
  let failWith: number | undefined;

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (url.pathname === `${path}/.well-known/openid-configuration`) {
      requests.discovery++;
      if (failWith) return json(failWith, { error: 'unavailable' });
      return json(200, {
        issuer,
        jwks_uri: jwksUri,
        authorization_endpoint: `${issuer}/oauth2/authorize`,
        token_endpoint: `${issuer}/oauth2/token`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: [alg],
      });
    }
    if (url.pathname === `${path}/keys`) {
      requests.jwks++;
      if (failWith) return json(failWith, { error: 'unavailable' });
      return json(200, { keys: keys.map((k) => ({ ...k.publicJwk, kid: k.kid, alg: k.alg, use: 'sig' })) });
    }
    json(404, { error: 'not_found' });
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issuer = `${origin}${path}`;
  const jwksUri = `${issuer}/keys`;

  const claimsOf = (claims: JWTPayload, { expiresIn = 3600, omit = [] }: SignOptions = {}): JWTPayload => {
    const now = Math.floor(Date.now() / 1000);
    const all: JWTPayload = { iss: issuer, aud: audience, sub: 'user-1', iat: now, exp: now + expiresIn, ...claims };
    for (const name of omit) delete all[name];
    return all;
  };
  const current = () => keys.at(-1)!;

  return {
    issuer,
    origin,
    jwksUri,
    requests,
    get failWith() {
      return failWith;
    },
    set failWith(value) {
      failWith = value;
    },
    get currentKid() {
      return current().kid;
    },
    async sign(claims = {}, options = {}) {
      const key = options.kid ? keys.find((k) => k.kid === options.kid) : current();
      if (!key) throw new Error(`no key ${options.kid}`);
      return new SignJWT(claimsOf(claims, options)).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' }).sign(key.privateKey);
    },
    unsigned(claims = {}) {
      const encode = (value: unknown) => base64url.encode(JSON.stringify(value));
      return `${encode({ alg: 'none', typ: 'JWT' })}.${encode(claimsOf(claims))}.`;
    },
    async signHs256WithPublicKey(claims = {}) {
      const key = current();
      return new SignJWT(claimsOf(claims))
        .setProtectedHeader({ alg: 'HS256', kid: key.kid, typ: 'JWT' })
        .sign(new TextEncoder().encode(key.publicPem));
    },
    async rotate({ dropOld = false } = {}) {
      const key = await makeKey(alg);
      if (dropOld) keys.splice(0, keys.length);
      keys.push(key);
      return key.kid;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function makeKey(alg: 'RS256' | 'ES256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid: randomUUID(), alg, privateKey, publicJwk: await exportJWK(publicKey), publicPem: await exportSPKI(publicKey) };
}
