/**
 * Telling the user when an answer came from the gateway cache's expired copy (NWS was failing).
 */
import type { Staleness } from './nws-client.js';

/** What a tool result carries when any upstream response behind it was stale. */
export interface StaleNotice {
  /** Age of the oldest copy used, when known. */
  readonly ageSeconds?: number;
  /** A sentence for the user, e.g. "NWS is not answering; this forecast is from a copy 2 h 5 min old …". */
  readonly notice: string;
}

/**
 * Folds the staleness of every upstream response used for one result into one notice, or
 * `undefined` when all were fresh. The oldest known age wins.
 *
 * @example
 * ```ts
 * staleNotice('this forecast', [undefined, { ageSeconds: 7500 }])?.notice
 * // 'NWS is not answering; this forecast is from a copy 2 h 5 min old and may be out of date.'
 * ```
 */
export function staleNotice(what: string, parts: ReadonlyArray<Staleness | undefined>): StaleNotice | undefined {
  const stale = parts.filter((part): part is Staleness => part !== undefined);
  if (stale.length === 0) return undefined;
  const ages = stale.flatMap((part) => (part.ageSeconds === undefined ? [] : [part.ageSeconds]));
  if (ages.length === 0) {
    return { notice: `NWS is not answering; ${what} is from an earlier copy of unknown age and may be out of date.` };
  }
  const ageSeconds = Math.max(...ages);
  return {
    ageSeconds,
    notice: `NWS is not answering; ${what} is from a copy ${formatDuration(ageSeconds)} old and may be out of date.`,
  };
}

/**
 * A short human duration, two units at most: `45 s`, `12 min`, `2 h 5 min`, `3 d 4 h`.
 */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return joinUnits(hours, 'h', minutes % 60, 'min');
  return joinUnits(Math.floor(hours / 24), 'd', hours % 24, 'h');
}

function joinUnits(major: number, majorUnit: string, minor: number, minorUnit: string): string {
  return minor === 0 ? `${major} ${majorUnit}` : `${major} ${majorUnit} ${minor} ${minorUnit}`;
}
