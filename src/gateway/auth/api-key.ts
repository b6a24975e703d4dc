/**
 * API keys: shared secrets from app settings, several at once so a key can be rotated without a
 * gap. Compared in constant time, kept only as digests, never logged, never handed to modules.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiKeyAuthConfig } from './auth-config.js';
import { firstNonBlank, type AuthOutcome, type RequestHeaders } from './outcome.js';
import { ephemeralPrincipalNamer, type PrincipalNamer } from './principal.js';

/** Checks the credentials of one request (its credential headers, require-auth.ts `credentialsOf`). Never throws. */
export type ApiKeyVerifier = (headers: RequestHeaders) => AuthOutcome;

/**
 * A verifier for one route's keys. The key is read from `header` (default `x-api-key`) or, when
 * that header is absent or blank, from `Authorization: Bearer <key>`.
 *
 * Each key is its own principal (`principals` names it, auth/principal.ts): a session opened with
 * one key is refused to another, so a client that switches keys mid-session initializes again.
 *
 * @example
 * const verify = createApiKeyVerifier({ kind: 'apiKey', keys: [process.env.WEATHER_KEY!], header: 'x-api-key' });
 * verify({ 'x-api-key': req.headers['x-api-key'] }); // { ok: true, principal: 'apiKey:…', authInfo } or { ok: false, reason: 'missing' | 'invalid', … }
 */
export function createApiKeyVerifier({
  keys,
  header,
  principals = ephemeralPrincipalNamer(),
}: Pick<ApiKeyAuthConfig, 'keys' | 'header'> & { principals?: PrincipalNamer }): ApiKeyVerifier {
  if (keys.length === 0) throw new RangeError('an apiKey route needs at least one key');
  // Only digests are kept: equal length for timingSafeEqual, whatever the keys' lengths.
  const known = keys.map((key) => ({ digest: digest(key), ...principals('apiKey', key) }));

  return function verifyApiKey(headers) {
    const presented = firstNonBlank(headers, header) ?? bearerKey(firstNonBlank(headers, 'authorization'));
    if (presented === undefined) {
      return {
        ok: false,
        reason: 'missing',
        message: `an API key is required: send it in the ${header} header or as Authorization: Bearer <key>`,
      };
    }
    const candidate = digest(presented);
    let match: (typeof known)[number] | undefined;
    // Every key is compared, even after a match: the time taken says nothing about which one.
    for (const key of known) if (timingSafeEqual(candidate, key.digest) && !match) match = key;
    if (!match) return { ok: false, reason: 'invalid', message: 'the API key is not valid for this route' };
    const keyId = match.principal.slice('apiKey:'.length);
    return {
      ok: true,
      principal: match.principal,
      sessionOwner: match.sessionOwner,
      // The key itself stays in the gateway: modules see which key (its id), not the secret.
      authInfo: { token: '', clientId: match.principal, scopes: [], extra: { kind: 'apiKey', keyId } },
    };
  };
}

/**
 * The key of an `Authorization: Bearer <key>` header. Not RFC 6750's token syntax: gateway.yaml
 * takes keys of any characters (`p@ss:word…`, spaces inside), and each must pass here as it does
 * in the route's header; what follows `Bearer ` is compared to the keys, so nothing else gets in.
 */
function bearerKey(authorization: string | undefined): string | undefined {
  const key = /^Bearer +(.*)$/is.exec(authorization ?? '')?.[1]?.trim();
  return key || undefined;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
