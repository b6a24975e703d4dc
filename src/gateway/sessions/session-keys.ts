/**
 * The keys that seal session ids (see session-token.ts), read once from app settings.
 *
 * `GATEWAY_SESSION_SECRET` seals new ids and opens them; `GATEWAY_SESSION_SECRET_PREVIOUS` only
 * opens them, so ids issued before a rotation keep working until they expire. Every instance of a
 * scaled-out app must see the same values, or a session that lands on another instance is lost.
 *
 * How a setting becomes bytes (the first rule that matches wins), then at least 32 bytes are required:
 * 1. hex: only `0-9a-f` digits, even length (`openssl rand -hex 32`);
 * 2. base64 or base64url, padding optional (`openssl rand -base64 32`, what `azd` hooks generate);
 * 3. anything else is taken as text, its UTF-8 bytes (a long passphrase).
 * A value of hex or base64 characters is always decoded, so 32 such characters are not enough:
 * they decode to 16 or 24 bytes. The AES key and the key id are derived from those bytes with
 * HKDF-SHA256, so a text secret is usable too and the key id reveals nothing about the key; the
 * key of callers' principals (auth/principal.ts) is derived from the current AES key the same way.
 */
import { createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';

/** The app setting holding the current secret. */
export const SESSION_SECRET_ENV = 'GATEWAY_SESSION_SECRET';
/** The app setting holding the secret before the last rotation: opens ids, never seals them. */
export const SESSION_SECRET_PREVIOUS_ENV = 'GATEWAY_SESSION_SECRET_PREVIOUS';
/** Fewer bytes than this leave a secret guessable; 32 matches the AES-256 key it becomes. */
export const MIN_SECRET_BYTES = 32;
/** Bytes of the key id written in front of every session id. */
export const KEY_ID_BYTES = 4;

// Changing these labels changes every key and id: all sessions issued before would be lost.
const AES_KEY_INFO = 'mcp-gateway session-id v1 aes-256-gcm key';
const KEY_ID_INFO = 'mcp-gateway session-id v1 key id';
// Changing this one changes every principal in logs and in what modules see (auth/principal.ts).
const PRINCIPAL_KEY_INFO = 'mcp-gateway principal v1 hmac-sha256 key';

/** One derived key. The key material is a KeyObject, so it never shows up in logs or JSON. */
export interface SessionKey {
  /** Short public name of the key, hex; written into every id so verification picks its key. */
  readonly id: string;
  readonly key: KeyObject;
}

/** The keys in use: one to seal new ids, all of them to open ids. Built once at start. */
export interface SessionKeyring {
  /** Seals new ids. */
  readonly current: SessionKey;
  /** Open ids too (rotation); never used to seal. */
  readonly previous: readonly SessionKey[];
  /** The keys whose id matches, current first; empty when the id names no key of this ring. */
  find(id: string): readonly SessionKey[];
  /**
   * Keys the principals of callers (auth/principal.ts): a subkey of the current key, derived with
   * HKDF under its own label, so the key that seals ids is never used for anything else. The same
   * on every instance with the same secret; a new one when the secret is rotated.
   */
  readonly principalKey: KeyObject;
  /**
   * Secrets for another use of the deployment's secret (`info` names the use, so no two uses share
   * a key): the current secret's first, then the previous ones' (to accept, while keys rotate,
   * what was sealed before). 32 bytes each, the same on every instance with the same secrets.
   */
  derive(info: string): readonly Buffer[];
}

/**
 * A keyring from secret bytes (already decoded). Throws a RangeError for a secret under 32 bytes.
 *
 * @example
 * const keyring = createSessionKeyring(randomBytes(32), [oldSecret]);
 */
export function createSessionKeyring(current: Uint8Array, previous: readonly Uint8Array[] = []): SessionKeyring {
  const currentKey = deriveKey(current, 'the current secret');
  // A previous secret equal to the current one (a rotation half done) would only be tried twice.
  const previousKeys = previous
    .map((secret, i) => deriveKey(secret, `previous secret #${i + 1}`))
    .filter((key, i, all) => key.id !== currentKey.id && all.findIndex((other) => other.id === key.id) === i);
  const all = [currentKey, ...previousKeys];
  return Object.freeze({
    current: currentKey,
    previous: Object.freeze(previousKeys),
    // Ids are 32 bits: two different secrets can share one, so every match is returned and tried.
    find: (id: string) => all.filter((key) => key.id === id),
    principalKey: createSecretKey(Buffer.from(hkdfSync('sha256', currentKey.key, Buffer.alloc(0), PRINCIPAL_KEY_INFO, 32))),
    derive: (info: string) =>
      [currentKey, ...previousKeys].map((key) => Buffer.from(hkdfSync('sha256', key.key, Buffer.alloc(0), `mcp-gateway ${info}`, 32))),
  });
}

/**
 * The keyring from `GATEWAY_SESSION_SECRET` and `GATEWAY_SESSION_SECRET_PREVIOUS` (empty or blank
 * values count as unset). Without a current secret a random one is made and `ephemeral` is true:
 * the caller should warn that sessions will not survive a restart or reach another instance.
 * Throws an Error naming the variable when a value is too short, or when only the previous
 * secret is set.
 *
 * @example
 * const { keyring, ephemeral } = sessionKeyringFromEnv(process.env);
 * if (ephemeral) logger.warn(`${SESSION_SECRET_ENV} is not set: sessions will not survive a restart or reach other instances`);
 */
export function sessionKeyringFromEnv(env: NodeJS.ProcessEnv): { keyring: SessionKeyring; ephemeral: boolean } {
  const current = setting(env, SESSION_SECRET_ENV);
  const previous = setting(env, SESSION_SECRET_PREVIOUS_ENV);
  if (current === undefined) {
    if (previous !== undefined) {
      throw new Error(
        `${SESSION_SECRET_PREVIOUS_ENV} is set but ${SESSION_SECRET_ENV} is not: during a rotation both are set ` +
          `(the new secret in ${SESSION_SECRET_ENV}, the old one in ${SESSION_SECRET_PREVIOUS_ENV})`,
      );
    }
    return { keyring: createSessionKeyring(randomBytes(MIN_SECRET_BYTES)), ephemeral: true };
  }
  const previousBytes = previous === undefined ? [] : [parseSessionSecret(previous, SESSION_SECRET_PREVIOUS_ENV)];
  return { keyring: createSessionKeyring(parseSessionSecret(current, SESSION_SECRET_ENV), previousBytes), ephemeral: false };
}

/**
 * A secret setting's bytes, by the rules at the top of this file. Throws an Error naming
 * `variable` when it yields fewer than 32 bytes; the message never contains the value.
 *
 * @example parseSessionSecret(randomBytes(32).toString('hex'), 'GATEWAY_SESSION_SECRET').length // 32
 */
export function parseSessionSecret(value: string, variable: string): Buffer {
  const text = value.trim();
  let bytes: Buffer;
  let read: string;
  if (/^(?:[0-9a-fA-F]{2})+$/.test(text)) {
    bytes = Buffer.from(text, 'hex');
    read = 'as hex';
  } else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(text) && text.replace(/=+$/, '').length % 4 !== 1) {
    bytes = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    read = 'as base64';
  } else {
    bytes = Buffer.from(text, 'utf8');
    read = 'as text';
  }
  if (bytes.length < MIN_SECRET_BYTES) {
    throw new Error(
      `${variable} is too short: it gives ${bytes.length} bytes (read ${read}), at least ${MIN_SECRET_BYTES} are needed. ` +
        `Generate one with: openssl rand -base64 32`,
    );
  }
  return bytes;
}

function setting(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function deriveKey(secret: Uint8Array, what: string): SessionKey {
  if (secret.length < MIN_SECRET_BYTES) {
    throw new RangeError(`${what} has ${secret.length} bytes; at least ${MIN_SECRET_BYTES} are needed`);
  }
  // HKDF without salt is fine for high-entropy input; for a passphrase it is what the user chose.
  const key = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), AES_KEY_INFO, 32));
  const id = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), KEY_ID_INFO, KEY_ID_BYTES)).toString('hex');
  return Object.freeze({ id, key: createSecretKey(key) });
}
