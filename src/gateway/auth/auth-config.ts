/**
 * The `auth:` block of gateway.yaml, per server and as a top-level default for servers that have
 * none. One discriminated union, so a route is exactly one of: open, API keys, OAuth bearer tokens.
 * Everything is checked at start (config.ts reports each problem at its position); nothing here
 * touches the network.
 */
import { z } from 'zod';
import { duration, type Milliseconds } from '../config/units.js';

/** The header an API key is read from unless `header` says otherwise (`Authorization: Bearer` works too). */
export const DEFAULT_API_KEY_HEADER = 'x-api-key';
/** Shorter keys are refused at start: a key is a password that scripts, not people, type. */
export const MIN_API_KEY_LENGTH = 16;
/**
 * Signature algorithms accepted by default: asymmetric only. `none` and the HS* family are never
 * accepted, so a token "signed" with a public key used as an HMAC secret cannot pass.
 */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
export const DEFAULT_ALGORITHMS: readonly (typeof ASYMMETRIC_ALGORITHMS)[number][] = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
];
/** How far `exp` / `nbf` may be off, for clocks that differ between the issuer and the gateway. */
export const DEFAULT_CLOCK_TOLERANCE: Milliseconds = 60_000;
const MAX_CLOCK_TOLERANCE: Milliseconds = 5 * 60_000;

/** HTTP header names are tokens; the Authorization header is already read for `Bearer <key>`. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
/** RFC 6749 scope-token: visible ASCII except space, `"` and `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/**
 * An issuer or JWKS URL: https, or http on the loopback interface only (development, tests).
 * Query and fragment are refused: an OIDC issuer has neither, and discovery appends a path.
 */
const secureUrl = (what: string) =>
  z.string().superRefine((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: `${what} must be an absolute URL, e.g. https://login.example.com/tenant/v2.0` });
      return;
    }
    const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
      ctx.addIssue({ code: 'custom', message: `${what} must use https (http only on localhost, 127.0.0.1 or [::1])` });
    } else if (url.search || url.hash || value.includes('#')) {
      ctx.addIssue({ code: 'custom', message: `${what} must not have a query or fragment` });
    }
  });

const noneSchema = z.object({ kind: z.literal('none') }).strict();

const apiKeySchema = z
  .object({
    kind: z.literal('apiKey'),
    /**
     * The accepted keys, usually `${VAR}` references to app settings (Key Vault references work
     * there). Several for rotation; empty strings (an unset `${OLD:-}`) are ignored.
     */
    keys: z
      .array(z.string())
      .transform((keys) => [...new Set(keys.map((key) => key.trim()).filter((key) => key !== ''))])
      .refine((keys) => keys.length > 0, 'at least one non-empty key is required (is its environment variable or app setting set?)')
      // The message names no key: configuration errors are printed and logged.
      .refine(
        (keys) => keys.every((key) => key.length >= MIN_API_KEY_LENGTH),
        `every key must be at least ${MIN_API_KEY_LENGTH} characters (generate one with: openssl rand -base64 32)`,
      ),
    /** The request header holding the key, besides `Authorization: Bearer <key>`. */
    header: z
      .string()
      .transform((name) => name.toLowerCase())
      .refine((name) => HEADER_NAME.test(name), 'header must be an HTTP header name, e.g. x-api-key')
      .refine((name) => name !== 'authorization', 'keys are always accepted as Authorization: Bearer <key>; header names another header')
      .default(DEFAULT_API_KEY_HEADER),
  })
  .strict();

const oauthSchema = z
  .object({
    kind: z.literal('oauth'),
    /** Exactly the `iss` of the tokens; also where `/.well-known/openid-configuration` is found. */
    issuer: secureUrl('issuer'),
    /** Accepted `aud` values (one is enough): the app ID URI and/or the client id for Entra ID. */
    audience: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1, 'list at least one audience')])
      .transform((value) => (Array.isArray(value) ? value : [value])),
    /** The JWKS; default: `jwks_uri` from the issuer's OpenID configuration, fetched on first use. */
    jwksUri: secureUrl('jwksUri').optional(),
    /** Every one of these must be in the token's `scp` or `scope` claim; published in the metadata. */
    scopes: z.array(z.string().regex(SCOPE_TOKEN, 'a scope is one word without spaces or quotes')).default([]),
    /** Accepted signature algorithms (asymmetric only). */
    algorithms: z
      .array(z.enum(ASYMMETRIC_ALGORITHMS, { message: `algorithms are ${ASYMMETRIC_ALGORITHMS.join(', ')} (no none, no HS*)` }))
      .min(1)
      .default(() => [...DEFAULT_ALGORITHMS]),
    /** Leeway for `exp` and `nbf`. */
    clockTolerance: duration
      .refine((ms) => ms <= MAX_CLOCK_TOLERANCE, 'clockTolerance must be at most 5m')
      .default(DEFAULT_CLOCK_TOLERANCE),
  })
  .strict();

/** `auth:` as written: `none`, or an object with `kind`. */
export const authSchema = z.preprocess(
  (value) => (value === 'none' ? { kind: 'none' } : value),
  z.discriminatedUnion('kind', [noneSchema, apiKeySchema, oauthSchema], {
    message: 'auth.kind must be none, apiKey or oauth',
  }),
);

export type AuthConfig = z.infer<typeof authSchema>;
export type ApiKeyAuthConfig = Extract<AuthConfig, { kind: 'apiKey' }>;
export type OAuthConfig = Extract<AuthConfig, { kind: 'oauth' }>;

/** The default when neither the server nor the top level says anything. */
export const NO_AUTH: AuthConfig = Object.freeze({ kind: 'none' });
