/**
 * Per-route authentication: what each route requires ({@link createRouteAuthenticator}) and the
 * guard that refuses requests without it ({@link authGuard}), answering as the MCP
 * authorization spec and RFC 6750 say: 401 with a `WWW-Authenticate` challenge pointing at the
 * route's own metadata, 403 `insufficient_scope` naming the scopes, 503 when the issuer is down.
 */
import type { IncomingMessage } from 'node:http';
import type { AuthInfo, OAuthProtectedResourceMetadata } from '@modelcontextprotocol/server';
import { GatewayError } from '../errors.js';
import { createApiKeyVerifier } from './api-key.js';
import type { AuthConfig } from './auth-config.js';
import { createJwtVerifier, type IssuerKeys } from './oauth.js';
import { bearerToken, firstNonBlank, type AuthOutcome, type AuthRejection, type RequestHeaders } from './outcome.js';
import type { PrincipalNamer } from './principal.js';
import { protectedResourceMetadata, resourceMetadataUrl } from './protected-resource.js';
import { repeatedHeader } from '../protocol/headers.js';

/** What a route requires, as the status page shows it: never a key, a token or an audience secret. */
export type AuthSummary = { kind: 'none' } | { kind: 'apiKey'; header: string } | { kind: 'oauth'; issuer: string; scopes: string[] };

export interface RouteAuthenticator {
  readonly route: string;
  readonly summary: AuthSummary;
  /** The headers credentials come in, lowercase: the route's key header and `authorization`; none on an open route. */
  readonly credentialHeaders: readonly string[];
  /** Checks a request's credentials, from its {@link credentialHeaders} (one value each). Never throws. */
  authenticate(headers: RequestHeaders): Promise<AuthOutcome | undefined>;
  /** The RFC 9728 document of an OAuth route, for clients that reach it at `base`; else undefined. */
  metadata(base: string): OAuthProtectedResourceMetadata | undefined;
}

export interface RouteAuthenticatorOptions {
  /** The shared keys of an issuer (oauth.ts `createIssuerKeyCache`). */
  issuerKeys: (issuer: string, jwksUri?: string) => IssuerKeys;
  /** Clock in ms for token expiry; default `Date.now`. */
  now?: () => number;
  /** Names callers; one for every route of a gateway, keyed from its session keys (auth/principal.ts). */
  principals: PrincipalNamer;
}

/**
 * The authenticator of one route, built at start (bad options throw here, not on a request).
 * `authenticate` resolves to undefined on an open route.
 *
 * @example
 * const auth = createRouteAuthenticator('weather', authOf(config, entry), { issuerKeys: createIssuerKeyCache(), principals });
 * const outcome = await auth.authenticate(req);
 */
export function createRouteAuthenticator(route: string, auth: AuthConfig, options: RouteAuthenticatorOptions): RouteAuthenticator {
  switch (auth.kind) {
    case 'none':
      return { route, summary: { kind: 'none' }, credentialHeaders: [], authenticate: async () => undefined, metadata: () => undefined };
    case 'apiKey': {
      const verify = createApiKeyVerifier({ ...auth, principals: options.principals });
      return {
        route,
        summary: { kind: 'apiKey', header: auth.header },
        credentialHeaders: [auth.header.toLowerCase(), 'authorization'],
        authenticate: async (headers) => verify(headers),
        metadata: () => undefined,
      };
    }
    case 'oauth': {
      const verify = createJwtVerifier({
        ...auth,
        keys: options.issuerKeys(auth.issuer, auth.jwksUri),
        principals: options.principals,
        ...(options.now ? { now: options.now } : {}),
      });
      return {
        route,
        summary: { kind: 'oauth', issuer: auth.issuer, scopes: [...auth.scopes] },
        credentialHeaders: ['authorization'],
        async authenticate(headers) {
          const authorization = firstNonBlank(headers, 'authorization');
          const token = bearerToken(authorization);
          if (token === undefined) {
            if (!authorization) return { ok: false, reason: 'missing', message: 'a bearer token is required' };
            const message = 'the Authorization header must be Bearer <token>';
            const scheme = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+(?= |$)/.exec(authorization)?.[0];
            // Another scheme (Basic, Digest…) is no attempt at this route's credentials; a Bearer
            // header that is malformed (`Bearer a b`, `Bearer<token>`) is a refused token.
            return scheme && !scheme.toLowerCase().startsWith('bearer')
              ? { ok: false, reason: 'invalid', message, scheme }
              : { ok: false, reason: 'invalid', message };
          }
          return verify(token);
        },
        metadata: (base) => protectedResourceMetadata(base, route, auth),
      };
    }
  }
}

export interface AuthGuardOptions {
  /** The origin clients reach the gateway at, for `resource_metadata` in challenges. */
  publicBase: (req: IncomingMessage) => string;
}

/** A guard's verdict on one request: the caller as tools see it, or the error to answer with. */
export type AuthVerdict =
  | { ok: true; authInfo: AuthInfo | undefined; principal: string | undefined; sessionOwner: string | undefined }
  | { ok: false; error: GatewayError; failure: { reason: AuthRejection['reason']; detail: string } };

const OPEN: AuthVerdict = Object.freeze({ ok: true, authInfo: undefined, principal: undefined, sessionOwner: undefined });

/**
 * Guards `/mcp/<route>`: an open route lets everyone in; otherwise the verdict carries the accepted
 * caller, or a {@link GatewayError} (`unauthorized`, `forbidden`, `auth_unavailable`) with its
 * challenge headers and, for the request log, why. Throws `invalid_header` for a credential header
 * that came more than once, before any credential is checked.
 *
 * @example
 * const guard = authGuard(gateway.authenticators, { publicBase });
 * const verdict = await guard('weather', req);
 * if (!verdict.ok) throw verdict.error;
 */
export function authGuard(
  authenticators: ReadonlyMap<string, RouteAuthenticator>,
  { publicBase }: AuthGuardOptions,
): (route: string, req: IncomingMessage) => Promise<AuthVerdict> {
  return async function guard(route, req) {
    const authenticator = authenticators.get(route);
    const outcome = authenticator && (await authenticator.authenticate(credentialsOf(req, authenticator.credentialHeaders)));
    if (!authenticator || !outcome) return OPEN;
    if (outcome.ok) return { ok: true, authInfo: outcome.authInfo, principal: outcome.principal, sessionOwner: outcome.sessionOwner };
    // An issuer that cannot be reached is logged by the caller: once per request, however many routes it asked.
    return {
      ok: false,
      error: rejection(authenticator, outcome, publicBase(req)),
      failure: { reason: outcome.reason, detail: outcome.message },
    };
  };
}

/**
 * The values of a request's credential headers, refusing one that came more than once: Node keeps
 * only the first `Authorization` in `req.headers` and joins other repeated fields with `, `, which
 * a key may contain, so only the raw fields tell how many came. One lookup each; the raw fields are
 * read (once, for every name) only when one is present. The refusal names the header, never a
 * value: they are secrets.
 */
function credentialsOf(req: IncomingMessage, names: readonly string[]): RequestHeaders {
  if (names.every((name) => req.headers[name] === undefined)) return {};
  const values: Record<string, string[]> = {};
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const field = raw[i]!;
    const name = names.find((one) => one.length === field.length && one === field.toLowerCase());
    if (name !== undefined) (values[name] ??= []).push(raw[i + 1]!);
  }
  for (const name of names) {
    const times = values[name]?.length ?? 0;
    if (times > 1) throw repeatedHeader(name === 'authorization' ? 'Authorization' : name, times);
  }
  return values;
}

function rejection(authenticator: RouteAuthenticator, outcome: AuthRejection, base: string): GatewayError {
  const { route, summary } = authenticator;
  if (outcome.reason === 'unavailable') {
    return new GatewayError(
      'auth_unavailable',
      `Service Unavailable: the authorization server of /mcp/${route} cannot be reached to check the token; retry later`,
      {},
      { 'Retry-After': String(outcome.retryAfterSeconds) },
    );
  }
  if (summary.kind === 'apiKey') {
    return new GatewayError(
      'unauthorized',
      `Unauthorized: ${outcome.message}`,
      { reason: outcome.reason },
      { 'WWW-Authenticate': `ApiKey header="${summary.header}"` },
    );
  }
  const metadataUrl = resourceMetadataUrl(base, route);
  const scopes = summary.kind === 'oauth' ? summary.scopes : [];
  const params: Array<[string, string]> = [['resource_metadata', metadataUrl]];
  if (outcome.reason === 'insufficient_scope') {
    params.push(['error', 'insufficient_scope'], ['scope', outcome.scopes.join(' ')], ['error_description', outcome.message]);
    const challenge = { 'WWW-Authenticate': bearerChallenge(params) };
    return new GatewayError(
      'forbidden',
      `Forbidden: ${outcome.message}`,
      { reason: outcome.reason, scopes: [...outcome.scopes], resource_metadata: metadataUrl },
      challenge,
    );
  }
  if (scopes.length > 0) params.push(['scope', scopes.join(' ')]);
  // RFC 6750 §3.1: a request without credentials, or with another scheme's, gets no error code; a
  // refused token invalid_token.
  if (outcome.reason === 'invalid' && outcome.scheme === undefined)
    params.push(['error', 'invalid_token'], ['error_description', outcome.message]);
  return new GatewayError(
    'unauthorized',
    `Unauthorized: ${outcome.message}`,
    { reason: outcome.reason, resource_metadata: metadataUrl },
    { 'WWW-Authenticate': bearerChallenge(params) },
  );
}

/** `Bearer name="value", …`; values are the gateway's own words and URLs, quotes and backslashes replaced. */
function bearerChallenge(params: ReadonlyArray<[string, string]>): string {
  return `Bearer ${params.map(([name, value]) => `${name}="${value.replace(/["\\]/g, "'")}"`).join(', ')}`;
}
