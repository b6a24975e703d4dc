/**
 * The `Mcp-Session-Id` the gateway issues: a sealed token (AES-256-GCM) carrying what any instance
 * needs to recreate the session, because Flex Consumption sends a session's next request to any
 * instance, or to one that just started. The local session map is only the warm cache.
 *
 * Format, base64url without padding (visible ASCII, as MCP requires of session ids):
 * ```
 * byte 0      format version (1)
 * bytes 1-4   key id (session-keys.ts): verification picks its key without trying them all
 * bytes 5-6   route tag: first 2 bytes of SHA-256(route), so an id from another route is named as such
 * bytes 7-18  random 96-bit GCM nonce: also what makes two ids with identical claims differ
 * bytes 19-   ciphertext, then the 16-byte GCM tag
 * ```
 * The additional authenticated data is bytes 0-6 followed by the route name, so an id presented on
 * another route fails authentication even if its route tag were forged. The plaintext is one
 * encoding byte (0 = JSON, 1 = raw DEFLATE of the JSON, whichever is shorter) and the JSON array
 * `[route, protocolVersion, issuedAt, clientCapabilities, clientInfo]`, plus `principal` as a sixth
 * element on routes that authenticate their callers (optional, so the format version stays 1).
 * Compressing before encrypting leaks only the length of data the client itself sent; the payload
 * holds no secret (the principal is a hash).
 *
 * Ids stay at most {@link SESSION_ID_MAX_LENGTH} characters. When the claims are too big, they are
 * reduced step by step until they fit (the session created on another instance then sees the
 * reduced claims; the instance that issued the id keeps the originals):
 * 1. capabilities: only the keys MCP defines (`experimental` and unknown keys go);
 *    clientInfo: only `name`, `version`, `title` (icons can be large data URIs);
 * 2. capabilities: only the nested keys MCP defines (`sampling.tools`, `roots.listChanged`, …),
 *    `extensions` reduced to their ids; clientInfo strings cut to 64 characters;
 * 3. capabilities: presence only (`{ sampling: {}, elicitation: {}, roots: { listChanged: true } }`);
 *    clientInfo: `name` and `version` cut to 32 characters, no `title`.
 * The server still learns which capabilities the client has, which is what it acts on.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { ClientCapabilities, Implementation } from '@modelcontextprotocol/server';
import { KEY_ID_BYTES, type SessionKey, type SessionKeyring } from './session-keys.js';
import type { Bytes, Milliseconds } from '../config/units.js';

/** The format version written in byte 0; a new layout gets a new number, old ids then read as malformed. */
export const SESSION_ID_FORMAT_VERSION = 1;
/** Issued ids never exceed this many characters: well under the 1 KB any proxy passes in a header. */
export const SESSION_ID_MAX_LENGTH = 768;
/** Longer ids are refused before any decoding: room for future formats, none for abuse. */
export const SESSION_ID_MAX_ACCEPTED_LENGTH = 4096;
/** Default tolerance for ids issued "in the future" by an instance whose clock runs ahead. */
export const DEFAULT_MAX_CLOCK_SKEW: Milliseconds = 5 * 60_000;

const ROUTE_TAG_BYTES = 2;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + KEY_ID_BYTES + ROUTE_TAG_BYTES;
const OVERHEAD_BYTES = HEADER_BYTES + NONCE_BYTES + TAG_BYTES;
/** The plaintext (encoding byte included) that still fits in SESSION_ID_MAX_LENGTH characters. */
const MAX_PLAINTEXT_BYTES: Bytes = Math.floor((SESSION_ID_MAX_LENGTH * 3) / 4) - OVERHEAD_BYTES;
/** JSON beyond this is not even compressed: it cannot be meant to fit, and deflating it costs CPU. */
const MAX_JSON_TO_COMPRESS: Bytes = 64 * 1024;
/** Inflating stops here; only the gateway can have sealed the data, but a bug must not cost memory. */
const MAX_INFLATED_BYTES: Bytes = 64 * 1024;
const ENCODING_JSON = 0;
const ENCODING_DEFLATE = 1;

/** What a session id carries: enough for any instance to recreate the session. */
export interface SessionClaims {
  /** The route (`/mcp/<route>`) the session belongs to. */
  route: string;
  /** The protocol version negotiated at initialize. */
  protocolVersion: string;
  /** The client's capabilities from initialize, possibly reduced (see the top of this file). */
  clientCapabilities: ClientCapabilities;
  /** The client's name and version from initialize, possibly reduced. */
  clientInfo: Implementation;
  /** When the id was issued, ms since the epoch (wall clock: comparable across instances). */
  issuedAt: number;
  /**
   * Who opened the session on a route that authenticates (auth/principal.ts `sessionOwner`: a
   * hash, never a key or a token). Another caller presenting the id is refused. Never reduced.
   */
  principal?: string;
  /**
   * The upstream's own state for this session, when the route's server is remote and keeps
   * sessions (upstreams/remote.ts: its session id and protocol version), so that any instance
   * reaches the same upstream session. Sealed like everything else; never reduced.
   */
  upstream?: string;
}

/** Why an id was refused. Every one means 404 to the client, which then initializes again. */
export type SessionIdRejection =
  /** Not an id of this format: wrong characters, too long or short, unknown version, bad payload. */
  | 'malformed'
  /** Sealed with a key this instance does not have: another deployment, or a secret rotated out. */
  | 'unknown_key'
  /** Failed authentication: changed in transit, forged, or its route tag forged. */
  | 'tampered'
  /** Issued for another route. */
  | 'wrong_route'
  /** Older than maxAge. */
  | 'expired'
  /** Issued further in the future than the clock skew allows. */
  | 'not_yet_valid';

export type SessionIdVerification = { ok: true; claims: SessionClaims } | { ok: false; reason: SessionIdRejection };

export interface SessionTokensOptions {
  /** Seals with `keyring.current`, opens with any of its keys. */
  keyring: SessionKeyring;
  /** Absolute lifetime of an id, however active the session: expired once `issuedAt + maxAge < now`. */
  maxAge: Milliseconds;
  /** Ids issued up to this far in the future are accepted (instances' clocks differ). Default 5 minutes. */
  maxClockSkew?: Milliseconds;
  /** Wall clock in ms since the epoch, injectable so tests advance time. Default `Date.now`. */
  now?: () => number;
}

export interface SessionTokens {
  /** A new id for these claims, stamped with the current time and sealed with the current key. */
  issue(claims: Omit<SessionClaims, 'issuedAt'>): string;
  /** The claims of an id presented on `route`, or why it is refused. Never throws, whatever the input. */
  verify(token: string, route: string): SessionIdVerification;
}

/**
 * The session id codec. Options are checked here, once: a bad maxAge throws a RangeError.
 *
 * @example
 * const { keyring } = sessionKeyringFromEnv(process.env);
 * const tokens = createSessionTokens({ keyring, maxAge: config.sessions.maxAge });
 * const id = tokens.issue({ route: 'weather', protocolVersion, clientCapabilities, clientInfo });
 * const result = tokens.verify(id, 'weather');
 * if (!result.ok) throw new GatewayError('session_not_found', `Session not found (${result.reason})`);
 */
export function createSessionTokens(options: SessionTokensOptions): SessionTokens {
  const { keyring, maxAge, maxClockSkew = DEFAULT_MAX_CLOCK_SKEW, now = Date.now } = options;
  if (!(maxAge > 0)) throw new RangeError('maxAge must be a positive number of milliseconds');
  if (!(maxClockSkew >= 0)) throw new RangeError('maxClockSkew must be a number of milliseconds, 0 or more');

  return {
    issue(claims) {
      const issuedAt = Math.floor(now());
      for (const reduce of REDUCTIONS) {
        const plaintext = encode({
          ...reduce(claims),
          route: claims.route,
          protocolVersion: claims.protocolVersion,
          issuedAt,
          principal: claims.principal,
          upstream: claims.upstream,
        });
        if (plaintext && plaintext.length <= MAX_PLAINTEXT_BYTES) return seal(keyring.current, claims.route, plaintext);
      }
      // Only the route name, protocol version and principal are left unbounded: all come from the gateway.
      throw new RangeError(
        `session claims do not fit in ${SESSION_ID_MAX_LENGTH} characters: route, protocol version or principal too long`,
      );
    },

    verify(token, route) {
      if (typeof token !== 'string' || token.length > SESSION_ID_MAX_ACCEPTED_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token)) {
        return rejected('malformed');
      }
      const bytes = Buffer.from(token, 'base64url');
      // Base64 leaves spare bits in the last character: a changed one must not decode to the same id.
      if (bytes.length < OVERHEAD_BYTES + 1 || bytes.toString('base64url') !== token) return rejected('malformed');
      if (bytes[0] !== SESSION_ID_FORMAT_VERSION) return rejected('malformed');

      const keys = keyring.find(bytes.subarray(1, 1 + KEY_ID_BYTES).toString('hex'));
      if (keys.length === 0) return rejected('unknown_key');
      if (!bytes.subarray(1 + KEY_ID_BYTES, HEADER_BYTES).equals(routeTag(route))) return rejected('wrong_route');

      const plaintext = keys.map((key) => open(key, route, bytes)).find((opened) => opened !== undefined);
      if (!plaintext) return rejected('tampered');
      const claims = decode(plaintext);
      if (!claims) return rejected('malformed');
      // Unreachable unless the route tag and the AAD both let a wrong route through; checked all the same.
      if (claims.route !== route) return rejected('wrong_route');

      const time = now();
      if (claims.issuedAt + maxAge < time) return rejected('expired');
      if (claims.issuedAt - time > maxClockSkew) return rejected('not_yet_valid');
      return { ok: true, claims };
    },
  };
}

const rejected = (reason: SessionIdRejection): SessionIdVerification => ({ ok: false, reason });

function routeTag(route: string): Buffer {
  return createHash('sha256').update(route, 'utf8').digest().subarray(0, ROUTE_TAG_BYTES);
}

function header(key: SessionKey, route: string): Buffer {
  return Buffer.concat([Buffer.of(SESSION_ID_FORMAT_VERSION), Buffer.from(key.id, 'hex'), routeTag(route)]);
}

function seal(key: SessionKey, route: string, plaintext: Buffer): string {
  const head = header(key, route);
  // Random 96-bit nonces are safe for about 2^32 ids per key; rotating the secret resets the count.
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.concat([head, Buffer.from(route, 'utf8')]));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([head, nonce, ciphertext, cipher.getAuthTag()]).toString('base64url');
}

function open(key: SessionKey, route: string, bytes: Buffer): Buffer | undefined {
  const nonce = bytes.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES);
  const ciphertext = bytes.subarray(HEADER_BYTES + NONCE_BYTES, bytes.length - TAG_BYTES);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    // The header as read from the id, not as rebuilt: a changed header must fail authentication.
    decipher.setAAD(Buffer.concat([bytes.subarray(0, HEADER_BYTES), Buffer.from(route, 'utf8')]));
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    return undefined;
  }
}

function encode(claims: SessionClaims): Buffer | undefined {
  const fields: unknown[] = [claims.route, claims.protocolVersion, claims.issuedAt, claims.clientCapabilities, claims.clientInfo];
  if (claims.upstream !== undefined) fields.push(claims.principal ?? null, claims.upstream);
  else if (claims.principal !== undefined) fields.push(claims.principal);
  const json = Buffer.from(JSON.stringify(fields), 'utf8');
  if (json.length > MAX_JSON_TO_COMPRESS) return undefined;
  const deflated = deflateRawSync(json);
  return deflated.length < json.length
    ? Buffer.concat([Buffer.of(ENCODING_DEFLATE), deflated])
    : Buffer.concat([Buffer.of(ENCODING_JSON), json]);
}

function decode(plaintext: Buffer): SessionClaims | undefined {
  try {
    const body = plaintext.subarray(1);
    const json =
      plaintext[0] === ENCODING_JSON
        ? body
        : plaintext[0] === ENCODING_DEFLATE
          ? inflateRawSync(body, { maxOutputLength: MAX_INFLATED_BYTES })
          : undefined;
    if (!json) return undefined;
    const value: unknown = JSON.parse(json.toString('utf8'));
    // Authenticated, so the gateway wrote it; checked anyway because another release may have.
    if (!Array.isArray(value) || value.length < 5 || value.length > 7) return undefined;
    const [route, protocolVersion, issuedAt, clientCapabilities, clientInfo, principal, upstream] = value as unknown[];
    if (typeof route !== 'string' || typeof protocolVersion !== 'string' || !Number.isSafeInteger(issuedAt)) return undefined;
    if (!isObject(clientCapabilities) || !isObject(clientInfo)) return undefined;
    if (typeof clientInfo.name !== 'string' || typeof clientInfo.version !== 'string') return undefined;
    if (value.length === 6 && typeof principal !== 'string') return undefined;
    if (value.length === 7 && ((principal !== null && typeof principal !== 'string') || typeof upstream !== 'string')) return undefined;
    return {
      route,
      protocolVersion,
      issuedAt: issuedAt as number,
      clientCapabilities: clientCapabilities as ClientCapabilities,
      clientInfo: clientInfo as Implementation,
      ...(typeof principal === 'string' ? { principal } : {}),
      ...(typeof upstream === 'string' ? { upstream } : {}),
    };
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Reducing claims that are too big (the rules are listed at the top of this file).

type Reduced = Pick<SessionClaims, 'clientCapabilities' | 'clientInfo'>;
type Reduction = (claims: Omit<SessionClaims, 'issuedAt'>) => Reduced;

/**
 * The client capabilities MCP defines (2025-11-25), as far as a server acts on them: a nested
 * shape is kept key by key, `boolean` keeps a flag, `ids` keeps a record's keys with `{}` values.
 */
type Shape = { readonly [key: string]: Shape | 'boolean' | 'ids' };
const CAPABILITIES: Shape = {
  sampling: { context: {}, tools: {} },
  elicitation: { form: { applyDefaults: 'boolean' }, url: {} },
  roots: { listChanged: 'boolean' },
  tasks: { list: {}, cancel: {}, requests: { sampling: { createMessage: {} }, elicitation: { create: {} } } },
  extensions: 'ids',
};

const REDUCTIONS: readonly Reduction[] = [
  ({ clientCapabilities, clientInfo }) => ({ clientCapabilities, clientInfo }),
  ({ clientCapabilities, clientInfo }) => ({
    clientCapabilities: pick(clientCapabilities, Object.keys(CAPABILITIES)) as ClientCapabilities,
    clientInfo: info(clientInfo, ['name', 'version', 'title'], Infinity),
  }),
  ({ clientCapabilities, clientInfo }) => ({
    clientCapabilities: prune(clientCapabilities, CAPABILITIES) as ClientCapabilities,
    clientInfo: info(clientInfo, ['name', 'version', 'title'], 64),
  }),
  ({ clientCapabilities, clientInfo }) => ({
    clientCapabilities: presence(clientCapabilities),
    clientInfo: info(clientInfo, ['name', 'version'], 32),
  }),
];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function pick(value: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((key) => value[key] !== undefined).map((key) => [key, value[key]]));
}

function prune(value: Record<string, unknown>, shape: Shape): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [key, rule] of Object.entries(shape)) {
    const child = value[key];
    if (rule === 'boolean') {
      if (typeof child === 'boolean') result[key] = child;
    } else if (!isObject(child)) {
      continue;
    } else if (rule === 'ids') {
      result[key] = Object.fromEntries(Object.keys(child).map((id) => [id, {}]));
    } else {
      result[key] = prune(child, rule);
    }
  }
  return result;
}

function presence(capabilities: ClientCapabilities): ClientCapabilities {
  const result: Record<string, unknown> = {};
  for (const key of Object.keys(CAPABILITIES)) if (isObject((capabilities as Record<string, unknown>)[key])) result[key] = {};
  // The one flag kept: without it a server would not know to listen for roots/list_changed.
  if (capabilities.roots?.listChanged === true) result.roots = { listChanged: true };
  return result as ClientCapabilities;
}

function info(clientInfo: Implementation, keys: readonly ('name' | 'version' | 'title')[], maxChars: number): Implementation {
  const result: Record<string, string> = {};
  for (const key of keys) {
    const value = clientInfo[key];
    if (typeof value === 'string') result[key] = maxChars === Infinity ? value : truncate(value, maxChars);
  }
  return { name: result.name ?? '', version: result.version ?? '', ...(result.title === undefined ? {} : { title: result.title }) };
}

/**
 * The first `maxChars` code points, control characters and lone surrogates replaced by U+FFFD:
 * JSON would escape each of those as six bytes, and a bounded string must stay bounded in bytes.
 */
function truncate(value: string, maxChars: number): string {
  return (
    Array.from(value)
      .slice(0, maxChars)
      .join('')
      // Control characters and lone surrogates are exactly what must not survive into an id.
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')
  );
}
