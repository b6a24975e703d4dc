/**
 * OAuth bearer tokens: JWTs checked with `jose` against the issuer's published keys. Discovery
 * (`/.well-known/openid-configuration` → `jwks_uri`) happens on first use, never at start, so a
 * gateway starts even while the issuer is unreachable; those requests get 503 instead.
 */
import type {
  createLocalJWKSet,
  createRemoteJWKSet,
  FlattenedJWSInput,
  JSONWebKeySet,
  JWTHeaderParameters,
  JWTPayload,
  JWTVerifyGetKey,
} from 'jose';
import type { FetchLike } from '../module-contract.js';
import type { Milliseconds } from '../config/units.js';
import type { OAuthConfig } from './auth-config.js';
import type { AuthOutcome } from './outcome.js';
import { ephemeralPrincipalNamer, type PrincipalNamer } from './principal.js';

type Jose = typeof import('jose');
let jose: Jose | undefined;

/**
 * jose is loaded on first use, not at start: most gateways have no OAuth route, and it is a good
 * share of the start-up time the Functions host waits for.
 */
async function loadJose(): Promise<Jose> {
  jose ??= await import('jose');
  return jose;
}

/** jose's error classes; only called once a verification or discovery has loaded it. */
function joseErrors(): Jose['errors'] {
  if (!jose) throw new Error('jose is not loaded yet');
  return jose.errors;
}

/** How long a discovery request may take before the issuer counts as unavailable. */
export const DISCOVERY_TIMEOUT: Milliseconds = 5_000;
/** After a failed discovery, requests are answered 503 this long before it is tried again. */
export const DISCOVERY_RETRY_AFTER: Milliseconds = 10_000;

/** The issuer's metadata or keys could not be fetched: no token can be checked now. */
export class IssuerUnavailableError extends Error {
  constructor(
    message: string,
    /** Seconds until the gateway tries the issuer again. */
    readonly retryAfterSeconds: number,
  ) {
    super(message);
    this.name = 'IssuerUnavailableError';
  }
}

export interface IssuerKeysOptions {
  issuer: string;
  /** Skips discovery when given. */
  jwksUri?: string | undefined;
  /** Default `globalThis.fetch`. */
  fetch?: FetchLike;
  /** Clock in ms for the discovery retry delay; default `Date.now`. */
  now?: () => number;
  discoveryTimeout?: Milliseconds;
  retryAfter?: Milliseconds;
}

/** One issuer's signing keys, discovered on first use and cached (jose refetches on an unknown `kid`). */
export interface IssuerKeys {
  readonly issuer: string;
  /** For `jwtVerify`; throws {@link IssuerUnavailableError} when the keys cannot be fetched. */
  readonly getKey: JWTVerifyGetKey;
}

/**
 * The keys of one issuer.
 *
 * @example
 * const keys = createIssuerKeys({ issuer: 'https://login.microsoftonline.com/<tenant>/v2.0' });
 * await jwtVerify(token, keys.getKey, { issuer: keys.issuer, audience, algorithms });
 */
export function createIssuerKeys(options: IssuerKeysOptions): IssuerKeys {
  const { issuer, fetch = globalThis.fetch, now = Date.now } = options;
  const timeout = options.discoveryTimeout ?? DISCOVERY_TIMEOUT;
  const retryAfter = options.retryAfter ?? DISCOVERY_RETRY_AFTER;
  let jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  let pending: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;
  let failure: { at: number; message: string } | undefined;

  async function jwksUri(): Promise<URL> {
    if (options.jwksUri) return new URL(options.jwksUri);
    // OpenID Connect Discovery 1.0 §4: the issuer, without a trailing slash, + the well-known path.
    const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    let response: Response;
    try {
      response = await fetch(url, { headers: { accept: 'application/json' }, redirect: 'manual', signal: AbortSignal.timeout(timeout) });
    } catch (error) {
      throw new Error(`${url} could not be fetched (${describeFetchError(error)})`, { cause: error });
    }
    if (response.status !== 200) throw new Error(`${url} answered HTTP ${response.status}`);
    const metadata = (await response.json().catch(() => undefined)) as { issuer?: unknown; jwks_uri?: unknown } | undefined;
    if (typeof metadata !== 'object' || metadata === null) throw new Error(`${url} is not a JSON object`);
    // §4.3: the issuer in the document must be exactly the one it was found under.
    if (metadata.issuer !== issuer)
      throw new Error(`${url} names the issuer ${JSON.stringify(metadata.issuer)}, not ${JSON.stringify(issuer)}`);
    if (typeof metadata.jwks_uri !== 'string' || !isSecureUrl(metadata.jwks_uri)) {
      throw new Error(`${url} has no usable jwks_uri (an https URL)`);
    }
    return new URL(metadata.jwks_uri);
  }

  async function keySet(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    if (jwks) return jwks;
    const elapsed = failure ? now() - failure.at : Infinity;
    if (failure && elapsed < retryAfter) throw new IssuerUnavailableError(failure.message, Math.ceil((retryAfter - elapsed) / 1000));
    // Concurrent first requests share one discovery.
    pending ??= loadJose()
      .then(async ({ createRemoteJWKSet, customFetch }) => {
        const url = await jwksUri();
        // Defaults kept: 5 s timeout, keys cached 10 min, an unknown kid refetches at most every 30 s.
        jwks = createRemoteJWKSet(url, { [customFetch]: fetch, timeoutDuration: timeout });
        failure = undefined;
        return jwks;
      })
      .catch((error: Error) => {
        failure = { at: now(), message: `OpenID discovery for ${issuer} failed: ${error.message}` };
        throw new IssuerUnavailableError(failure.message, Math.ceil(retryAfter / 1000));
      })
      .finally(() => {
        pending = undefined;
      });
    return pending;
  }

  // jose refetches keys older than 10 minutes before every verification, and throws when that
  // fails: without this, one failed refresh would refuse every caller whose key the gateway
  // already holds, and every request would ask the failing issuer again.
  let keysFailure: { at: number; message: string } | undefined;
  let stale: { jwks: JSONWebKeySet; getKey: ReturnType<typeof createLocalJWKSet> } | undefined;

  /** The last keys fetched, for while the issuer cannot be asked; an unknown kid is then unavailable. */
  async function withStaleKeys(set: ReturnType<typeof createRemoteJWKSet>, header: JWTHeaderParameters, token: FlattenedJWSInput) {
    const failure = keysFailure!;
    const retryIn = Math.max(1, Math.ceil((retryAfter - (now() - failure.at)) / 1000));
    const cached = set.jwks();
    if (!cached) throw new IssuerUnavailableError(failure.message, retryIn);
    if (stale?.jwks !== cached) stale = { jwks: cached, getKey: (await loadJose()).createLocalJWKSet(cached) };
    try {
      return await stale.getKey(header, token);
    } catch (error) {
      if (error instanceof joseErrors().JWKSNoMatchingKey) throw new IssuerUnavailableError(failure.message, retryIn);
      throw error;
    }
  }

  return {
    issuer,
    async getKey(header, token) {
      const set = await keySet();
      if (keysFailure && now() - keysFailure.at < retryAfter) return withStaleKeys(set, header, token);
      try {
        const key = await set(header, token);
        keysFailure = undefined;
        return key;
      } catch (error) {
        if (!isFetchFailure(error)) throw error;
        keysFailure = { at: now(), message: `the keys of ${issuer} could not be fetched (${describeFetchError(error)})` };
        return withStaleKeys(set, header, token);
      }
    },
  };
}

export interface JwtVerifierOptions extends Pick<OAuthConfig, 'audience' | 'algorithms' | 'clockTolerance' | 'scopes'> {
  keys: IssuerKeys;
  /** Clock in ms for `exp` and `nbf`; default `Date.now`. */
  now?: () => number;
  /** Names callers (issuer and subject); default: keyed with a random key, this process only. */
  principals?: PrincipalNamer;
}

/** Checks one bearer token. Never throws. */
export type JwtVerifier = (token: string) => Promise<AuthOutcome>;

/**
 * A verifier for one route: signature (pinned algorithms), `iss`, `aud` (any of the list), `exp`
 * and `nbf` with leeway, then the route's scopes.
 *
 * A required scope is satisfied by the same string in the token's `scp` or `scope` claim, or, for
 * a URI-form scope such as Entra ID's `api://<app>/weather.read`, by its last segment
 * (`weather.read`): Entra writes scopes without the resource prefix, and the audience check has
 * already tied the token to this resource.
 *
 * @example
 * const verify = createJwtVerifier({ keys, audience: ['api://weather'], algorithms: ['RS256'], clockTolerance: 60_000, scopes: ['weather.read'] });
 * const outcome = await verify(token);
 */
export function createJwtVerifier(options: JwtVerifierOptions): JwtVerifier {
  const { keys, audience, algorithms, clockTolerance, scopes: required, now = Date.now, principals = ephemeralPrincipalNamer() } = options;
  return async function verifyJwt(token) {
    let payload: JWTPayload;
    try {
      const { jwtVerify } = await loadJose();
      ({ payload } = await jwtVerify(token, keys.getKey, {
        issuer: keys.issuer,
        audience: [...audience],
        algorithms: [...algorithms],
        clockTolerance: Math.round(clockTolerance / 1000),
        currentDate: new Date(now()),
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (error) {
      if (error instanceof IssuerUnavailableError)
        return { ok: false, reason: 'unavailable', message: error.message, retryAfterSeconds: error.retryAfterSeconds };
      return { ok: false, reason: 'invalid', message: describeJoseError(error) };
    }
    // jose checks iat only against a maxTokenAge: a token issued later than now (beyond the clock
    // tolerance) was not issued by a working issuer, or was minted ahead to outlive a key rotation.
    if (typeof payload.iat === 'number' && payload.iat * 1000 > now() + clockTolerance)
      return { ok: false, reason: 'invalid', message: 'the token was issued in the future' };
    // jose checks that sub is there, not what it is; it names the caller (principals, sessions, tools).
    if (typeof payload.sub !== 'string' || payload.sub === '')
      return { ok: false, reason: 'invalid', message: 'the token\'s "sub" claim is not valid' };
    const scopes = scopesOf(payload);
    const missing = required.filter((scope) => !hasScope(scopes, scope));
    if (missing.length > 0) {
      return { ok: false, reason: 'insufficient_scope', message: `the token lacks the scope ${missing.join(', ')}`, scopes: required };
    }
    const subject = payload.sub;
    const clientId = [payload.azp, payload.appid, payload.client_id].find((value): value is string => typeof value === 'string') ?? '';
    return {
      ok: true,
      ...principals('oauth', keys.issuer, subject),
      authInfo: {
        token,
        clientId,
        scopes,
        expiresAt: payload.exp,
        extra: { kind: 'oauth', subject, issuer: keys.issuer, claims: payload },
      },
    };
  };
}

/** `scp` (Entra ID: space-separated, some issuers: an array) and `scope` (RFC 9068), together. */
function scopesOf(payload: JWTPayload): string[] {
  const words = (value: unknown): string[] =>
    typeof value === 'string'
      ? value.split(' ').filter(Boolean)
      : Array.isArray(value)
        ? value.filter((v): v is string => typeof v === 'string')
        : [];
  return [...new Set([...words(payload.scp), ...words(payload.scope)])];
}

/** Whether `granted` (a token's scopes) satisfies `required`: the same string, or a URI-form scope's last segment. */
export function hasScope(granted: readonly string[], required: string): boolean {
  if (granted.includes(required)) return true;
  const short = shortScope(required);
  return short !== undefined && granted.includes(short);
}

/** The last segment of a URI-form scope (`api://<app>/weather.read` → `weather.read`), as Entra ID writes it in `scp`. */
export function shortScope(scope: string): string | undefined {
  return /^[a-z][a-z0-9+.-]*:\/\/.+\/([^/]+)$/i.exec(scope)?.[1];
}

/** What went wrong, in words safe to send to the client and to log: never the token or its claims. */
function describeJoseError(error: unknown): string {
  const errors = joseErrors();
  if (error instanceof errors.JWTExpired) return 'the token has expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case 'nbf':
        return 'the token is not valid yet';
      case 'iss':
        return 'the token is from another issuer';
      case 'aud':
        return 'the token is for another audience';
      default:
        return error.reason === 'missing' ? `the token has no "${error.claim}" claim` : `the token's "${error.claim}" claim is not valid`;
    }
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return "the token's signature algorithm is not accepted";
  if (error instanceof errors.JWSSignatureVerificationFailed) return "the token's signature is not valid";
  if (error instanceof errors.JWKSNoMatchingKey) return 'the token is signed with a key the issuer does not publish';
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return 'the token is not a valid signed JWT';
  return 'the token is not valid';
}

/** Failures to reach or read the JWKS, as opposed to a token that does not match it. */
function isFetchFailure(error: unknown): boolean {
  const errors = joseErrors();
  return (
    error instanceof errors.JWKSTimeout ||
    error instanceof errors.JWKSInvalid ||
    (error instanceof errors.JOSEError && error.code === 'ERR_JOSE_GENERIC') ||
    error instanceof TypeError ||
    (error as { name?: string } | null)?.name === 'AbortError'
  );
}

function describeFetchError(error: unknown): string {
  if (error instanceof joseErrors().JWKSTimeout || (error as { name?: string } | null)?.name === 'TimeoutError') return 'timed out';
  const cause = (error as { cause?: { code?: string } } | null)?.cause?.code;
  return cause ?? (error instanceof Error ? error.message : String(error));
}

function isSecureUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || (url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname));
  } catch {
    return false;
  }
}

/**
 * Shares one {@link IssuerKeys} between routes with the same issuer (and JWKS URL): one discovery,
 * one key cache.
 */
export function createIssuerKeyCache(
  options: Omit<IssuerKeysOptions, 'issuer' | 'jwksUri'> = {},
): (issuer: string, jwksUri?: string) => IssuerKeys {
  const cache = new Map<string, IssuerKeys>();
  return (issuer, jwksUri) => {
    const key = `${issuer}\n${jwksUri ?? ''}`;
    let keys = cache.get(key);
    if (!keys) cache.set(key, (keys = createIssuerKeys({ ...options, issuer, jwksUri })));
    return keys;
  };
}
