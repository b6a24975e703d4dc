/**
 * What checking a request's credentials decides, as a value: who the caller is, or why not.
 * Rejections are expected outcomes, not exceptions; require-auth.ts turns them into 401/403/503.
 */
import type { AuthInfo } from '@modelcontextprotocol/server';

/** The caller, as the route and its tools see it. */
export interface Authenticated {
  ok: true;
  /** Handed to the SDK transport: tools read it as `extra.authInfo`. */
  authInfo: AuthInfo;
  /** The caller's name for logs and modules (auth/principal.ts): keyed, never a key or a token. */
  principal: string;
  /** What a session the caller opens is bound to (auth/principal.ts): sealed in the id, never shown. */
  sessionOwner: string;
}

/**
 * - `missing`: no credentials were presented (401).
 * - `invalid`: credentials were presented and refused: unknown key, bad signature, expired… (401).
 *   `scheme` names an Authorization scheme the route does not take (`Basic`): RFC 6750 §3.1 reads
 *   that as no credentials for it, so its challenge carries no error code.
 * - `insufficient_scope`: a valid token without a scope the route requires (403).
 * - `unavailable`: the issuer's metadata or keys could not be fetched, so no token can be checked (503).
 */
export type AuthRejection =
  | { ok: false; reason: 'missing'; message: string }
  | { ok: false; reason: 'invalid'; message: string; scheme?: string }
  | { ok: false; reason: 'insufficient_scope'; message: string; scopes: readonly string[] }
  | { ok: false; reason: 'unavailable'; message: string; retryAfterSeconds: number };

export type AuthOutcome = Authenticated | AuthRejection;

/**
 * A request's credential headers, by lowercase name: a value, or every value in order. The gateway
 * passes one value each: require-auth.ts refuses a credential header that came more than once.
 */
export type RequestHeaders = Readonly<Record<string, string | readonly string[] | undefined>>;

/**
 * The first value of a header that is not empty or blank, trimmed. A blank one is no credential
 * and must hide none: not a key sent as `Authorization: Bearer` behind an empty `x-api-key`. Only
 * the first non-blank value counts, so one request cannot try several keys.
 */
export function firstNonBlank(headers: RequestHeaders, name: string): string | undefined {
  const value = headers[name];
  for (const one of typeof value === 'string' ? [value] : (value ?? [])) {
    const trimmed = one.trim();
    if (trimmed !== '') return trimmed;
  }
  return undefined;
}

/** The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1), else undefined. */
export function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization ?? '');
  return match?.[1];
}
