/**
 * Units used in gateway.yaml. Durations and sizes are written the way people write them
 * (`30m`, `24h`, `4MiB`) and become numbers in one unit here, so no other file parses them.
 */
import { z } from 'zod';

/** A duration in milliseconds. */
export type Milliseconds = number;
/** A size in bytes. */
export type Bytes = number;

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1_000,
  mb: 1_000_000,
  gb: 1_000_000_000,
  kib: 1_024,
  mib: 1_048_576,
  gib: 1_073_741_824,
};

/**
 * Parses `500ms`, `90s`, `30m`, `24h`, `7d` (or a bare number of milliseconds).
 * Returns undefined for anything else, so the caller can say where the bad value is.
 *
 * @example parseDuration('30m') // 1_800_000
 */
export function parseDuration(input: string | number): Milliseconds | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? input : undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/i.exec(input);
  if (!match) return undefined;
  return Math.round(Number(match[1]) * DURATION_UNITS[match[2]!.toLowerCase()]!);
}

/**
 * Parses `512KiB`, `4MiB`, `50MB`, `1GiB` (or a bare number of bytes). SI and binary units both,
 * because people write both and mean different things.
 *
 * @example parseSize('4MiB') // 4_194_304
 */
export function parseSize(input: string | number): Bytes | undefined {
  if (typeof input === 'number') return Number.isSafeInteger(input) && input >= 0 ? input : undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|kib|mib|gib)\s*$/i.exec(input);
  if (!match) return undefined;
  return Math.round(Number(match[1]) * SIZE_UNITS[match[2]!.toLowerCase()]!);
}

/** zod type for a duration field: accepts `30m` or milliseconds, yields milliseconds. */
export const duration = z.union([z.string(), z.number()]).transform((value, ctx): Milliseconds => {
  const parsed = parseDuration(value);
  if (parsed === undefined) {
    ctx.addIssue({ code: 'custom', message: `invalid duration ${JSON.stringify(value)}: use e.g. 500ms, 90s, 30m, 24h, 7d` });
    return z.NEVER;
  }
  return parsed;
});

/** A size as gateway.yaml would say it, for messages: `1 MiB`, `512 KiB`, `1500 bytes`. */
export function describeSize(bytes: Bytes): string {
  if (bytes % 1_048_576 === 0) return `${bytes / 1_048_576} MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

/** zod type for a size field: accepts `4MiB` or bytes, yields bytes. */
export const size = z.union([z.string(), z.number()]).transform((value, ctx): Bytes => {
  const parsed = parseSize(value);
  if (parsed === undefined) {
    ctx.addIssue({ code: 'custom', message: `invalid size ${JSON.stringify(value)}: use e.g. 512KiB, 4MiB, 50MB` });
    return z.NEVER;
  }
  return parsed;
});

/** The longest a Node timer waits: `setTimeout` and `AbortSignal.timeout` fire after 1 ms beyond it. */
export const MAX_TIMER_MS: Milliseconds = 2_147_483_647;

/**
 * zod type for a duration that ends up in a timer (a timeout, an idle timer, a backoff interval):
 * refused beyond {@link MAX_TIMER_MS}, where Node would fire it at once with only a warning.
 */
export const timerDuration = (key: string) =>
  duration.refine(
    (ms) => ms <= MAX_TIMER_MS,
    `${key} must be at most ${MAX_TIMER_MS} ms (24.8d), the longest a Node timer waits (a longer one fires at once)`,
  );
