/**
 * Who a caller is, named two ways, both derived from what identifies it (an API key; an OAuth
 * issuer and subject) and neither revealing it:
 *
 * - `principal`, the name that leaves the gateway's core: the request log, `authInfo.clientId`
 *   and `extra.keyId` for modules. An HMAC keyed with a secret of the deployment (derived from
 *   `GATEWAY_SESSION_SECRET`, session-keys.ts), so a weak API key cannot be guessed offline from
 *   a log. The same on every instance of a deployment; a new one after the secret is rotated.
 * - `sessionOwner`, what a session is bound to: sealed inside the encrypted session id, compared
 *   when the id comes back (on any instance), never logged or handed to a module. A plain hash,
 *   so it does not change when the secret is rotated: a session opened before a rotation still
 *   belongs to its caller after it (an HMAC with the old key would not match the new one), and
 *   ids issued before principals were keyed keep working. Only the holder of the session key
 *   could read it, and that key opens every session anyway.
 */
import { createHash, createHmac, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';

export type PrincipalKind = 'oauth' | 'apiKey';

export interface CallerNames {
  /** `<kind>:` and 128 bits of HMAC-SHA256, base64url: for logs and modules. */
  principal: string;
  /** `<kind>:` and 128 bits of SHA-256, base64url: what sessions are bound to; never shown. */
  sessionOwner: string;
}

/** Names a caller from its kind and what identifies it (the key; the issuer and subject). */
export type PrincipalNamer = (kind: PrincipalKind, ...parts: string[]) => CallerNames;

/**
 * A namer keyed with `key` (the gateway passes the keyring's `principalKey`). 128 bits: collisions
 * are out of reach, and the names stay compact inside session ids.
 *
 * @example
 * const names = createPrincipalNamer(keyring.principalKey);
 * names('oauth', issuer, subject); // { principal: 'oauth:3q2-7w…', sessionOwner: 'oauth:Zx0…' }
 */
export function createPrincipalNamer(key: KeyObject): PrincipalNamer {
  return (kind, ...parts) => {
    // The input of the session owner is exactly what session ids carried before principals were keyed.
    const input = `mcp-gateway principal\0${kind}\0${parts.join('\0')}`;
    return {
      principal: `${kind}:${createHmac('sha256', key).update(input, 'utf8').digest().subarray(0, 16).toString('base64url')}`,
      sessionOwner: `${kind}:${createHash('sha256').update(input, 'utf8').digest().subarray(0, 16).toString('base64url')}`,
    };
  };
}

/** A namer with a random key: principals of this process only (the default of the verifiers, for tests and tools). */
export function ephemeralPrincipalNamer(): PrincipalNamer {
  return createPrincipalNamer(createSecretKey(randomBytes(32)));
}
