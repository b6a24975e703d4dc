/**
 * Time arithmetic over IANA timezones for the time server: the current time in a zone, and a
 * wall-clock time converted from one zone to another. No MCP here; the clock is passed in.
 *
 * Built on `Intl.DateTimeFormat`, which carries the full tz database in Node's ICU build, so no
 * date library is needed. Output matches the reference Python server (modelcontextprotocol/servers
 * `src/time`): ISO 8601 to the second with a numeric offset, English weekday, and
 * `time_difference` formatted as Python's `f"{h:+.1f}h"` / `f"{h:+.2f}"` rule does.
 */

/** Returns the current instant; injected so tests can fix time instead of waiting for it. */
export type Clock = () => Date;

/** A UTC offset in seconds east of Greenwich (New York in winter is `-18000`). */
export type OffsetSeconds = number;

/** One instant as seen in one zone; the wire shape of `get_current_time`. */
export type ZonedTime = {
  /** The zone name as the caller gave it. */
  timezone: string;
  /** ISO 8601 local time to the second with its offset, e.g. `2026-07-15T16:00:37-04:00`. */
  datetime: string;
  /** English weekday name, e.g. `Wednesday`. */
  day_of_week: string;
  /** Whether the zone is ahead of its standard offset at that instant. */
  is_dst: boolean;
};

/** The wire shape of `convert_time`. */
export type TimeConversion = {
  source: ZonedTime;
  target: ZonedTime;
  /** Target offset minus source offset in hours, e.g. `+13.0h`, `+5.75h`, `-4.0h`. */
  time_difference: string;
};

/** Why a request was refused; stable, so callers and tests can branch on it. */
export type TimeErrorCode = 'invalid_timezone' | 'invalid_time' | 'nonexistent_local_time';

/** Bad input from the caller (not a bug): the message is written to be shown to the user. */
export class TimeInputError extends Error {
  override readonly name = 'TimeInputError';

  constructor(
    readonly code: TimeErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Whether `name` is a timezone the runtime knows, aliases included (`Asia/Calcutta`, `US/Eastern`,
 * `Etc/GMT+5`). Matching is ASCII case-insensitive, as ECMA-402 specifies.
 *
 * `Intl.supportedValuesOf('timeZone')` cannot be the test: on Node 20 it lists only CLDR canonical
 * names, so it lacks `UTC`, `Asia/Kolkata` and `Asia/Kathmandu`.
 *
 * @example
 * ```ts
 * isValidTimezone('Europe/Paris'); // true
 * isValidTimezone('Mars/Base');    // false
 * ```
 */
export function isValidTimezone(name: string): boolean {
  return tryOpenZone(name) !== undefined;
}

/**
 * The current time in `timezone`.
 *
 * @throws {TimeInputError} `invalid_timezone`
 * @example
 * ```ts
 * getCurrentTime('America/New_York', () => new Date('2026-07-15T20:00:37Z'));
 * // { timezone: 'America/New_York', datetime: '2026-07-15T16:00:37-04:00',
 * //   day_of_week: 'Wednesday', is_dst: true }
 * ```
 */
export function getCurrentTime(timezone: string, now: Clock): ZonedTime {
  const zone = openZone(timezone);
  return describe(zone, now().getTime()).time;
}

/**
 * Converts `time` (`HH:MM`, 24-hour) on today's date in the source zone to the target zone.
 *
 * A time repeated when clocks go back resolves to the earlier instant (the first time the wall
 * clock shows it), as Python's `fold=0` does; a time skipped when clocks go forward is refused.
 *
 * @throws {TimeInputError} `invalid_timezone`, `invalid_time` or `nonexistent_local_time`
 * @example
 * ```ts
 * convertTime({ source_timezone: 'UTC', time: '12:00', target_timezone: 'Asia/Kathmandu' }, clock);
 * // { source: { datetime: '2026-07-15T12:00:00+00:00', … },
 * //   target: { datetime: '2026-07-15T17:45:00+05:45', … }, time_difference: '+5.75h' }
 * ```
 */
export function convertTime(request: { source_timezone: string; time: string; target_timezone: string }, now: Clock): TimeConversion {
  const sourceZone = openZone(request.source_timezone);
  const targetZone = openZone(request.target_timezone);
  const { hour, minute } = parseHhMm(request.time);

  const today = wallClock(sourceZone, now().getTime());
  const wanted: WallClock = { ...today, hour, minute, second: 0 };
  const instant = wallClockToInstant(sourceZone, wanted);
  if (instant === undefined) {
    throw new TimeInputError(
      'nonexistent_local_time',
      `Invalid time: '${request.time}' does not exist in ${request.source_timezone} on ` +
        `${isoDate(wanted)}: the clocks skip it when they change (e.g. to daylight saving time).`,
    );
  }

  const source = describe(sourceZone, instant);
  const target = describe(targetZone, instant);
  return {
    source: source.time,
    target: target.time,
    time_difference: formatTimeDifference(target.offset - source.offset),
  };
}

/**
 * Formats an offset difference the way the reference server does: whole hours with one decimal,
 * otherwise up to two decimals with trailing zeros dropped.
 *
 * @example
 * ```ts
 * formatTimeDifference(46_800);  // '+13.0h'
 * formatTimeDifference(20_700);  // '+5.75h'
 * formatTimeDifference(-14_400); // '-4.0h'
 * ```
 */
export function formatTimeDifference(seconds: OffsetSeconds): string {
  const hours = seconds / 3600;
  const sign = hours < 0 ? '-' : '+';
  const magnitude = Math.abs(hours);
  if (Number.isInteger(hours)) return `${sign}${magnitude.toFixed(1)}h`;
  // Python's `.rstrip('0').rstrip('.')`, kept literally so odd historical offsets format alike.
  return `${sign}${magnitude.toFixed(2).replace(/0+$/, '').replace(/\.$/, '')}h`;
}

type Zone = { readonly name: string; readonly formatter: Intl.DateTimeFormat };

type WallClock = {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
};

const DAY_MS = 86_400_000;

// Newer V8 also accepts offset zones such as `+05:00`; those are not IANA names, so a name must
// start with a letter. The character set is the tz database's own (theory.html, "Names").
const IANA_NAME = /^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*$/;

const HH_MM = /^([01]\d|2[0-3]):([0-5]\d)$/;

/**
 * Building an `Intl.DateTimeFormat` costs far more than using one (ICU loads the zone's rules), and
 * every call of every session needs one: keep them by name. Bounded, since names come from clients;
 * only valid zones are kept, and there are a few hundred of those.
 */
const zones = new Map<string, Zone>();
const MAX_CACHED_ZONES = 1000;

function tryOpenZone(name: string): Zone | undefined {
  const cached = zones.get(name);
  if (cached) return cached;
  const zone = buildZone(name);
  if (zone && zones.size < MAX_CACHED_ZONES) zones.set(name, zone);
  return zone;
}

function buildZone(name: string): Zone | undefined {
  if (!IANA_NAME.test(name)) return undefined;
  try {
    const formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: name,
      // 'h23', not `hour12: false`: some ICU versions print midnight as 24 under the latter.
      hourCycle: 'h23',
      weekday: 'long',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    return { name, formatter };
  } catch (error) {
    if (error instanceof RangeError) return undefined;
    throw error;
  }
}

function openZone(name: string): Zone {
  const zone = tryOpenZone(name);
  if (zone === undefined) {
    throw new TimeInputError('invalid_timezone', `Invalid timezone: '${name}'. Use an IANA name such as 'America/New_York' or 'UTC'.`);
  }
  return zone;
}

function parseHhMm(time: string): { hour: number; minute: number } {
  const match = HH_MM.exec(time);
  if (match === null) {
    throw new TimeInputError('invalid_time', `Invalid time format: '${time}'. Expected HH:MM in 24-hour format.`);
  }
  return { hour: Number(match[1]), minute: Number(match[2]) };
}

function formatParts(zone: Zone, epochMs: number): { wall: WallClock; weekday: string } {
  const wall: WallClock = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  let weekday = '';
  for (const part of zone.formatter.formatToParts(epochMs)) {
    if (part.type === 'weekday') weekday = part.value;
    else if (part.type in wall) wall[part.type as keyof WallClock] = Number(part.value);
  }
  return { wall, weekday };
}

function wallClock(zone: Zone, epochMs: number): WallClock {
  return formatParts(zone, epochMs).wall;
}

function wallAsUtc(wall: WallClock): number {
  return Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second);
}

function offsetAt(zone: Zone, epochMs: number): OffsetSeconds {
  // The wall clock has whole seconds, so compare it with the instant truncated to the second.
  const wholeSecond = Math.floor(epochMs / 1000) * 1000;
  return (wallAsUtc(wallClock(zone, wholeSecond)) - wholeSecond) / 1000;
}

/**
 * The instant at which `zone` shows `wall`: the earlier one if the wall time occurs twice, or
 * `undefined` if a clock change skips it.
 */
function wallClockToInstant(zone: Zone, wall: WallClock): number | undefined {
  const asUtc = wallAsUtc(wall);
  // Offsets span -12h..+14h, so a day either side of `asUtc` lies before and after any transition
  // near the answer; their offsets (and the one between) are the only candidates.
  const offsets = new Set([asUtc - DAY_MS, asUtc, asUtc + DAY_MS].map((t) => offsetAt(zone, t)));
  const matches = [...offsets]
    .map((offset) => asUtc - offset * 1000)
    .filter((instant) => wallAsUtc(wallClock(zone, instant)) === asUtc)
    .sort((a, b) => a - b);
  return matches[0];
}

/**
 * Daylight saving time means being ahead of the standard offset, taken as the smaller of the
 * January and July offsets of that year so that both hemispheres work. A zone without DST has
 * equal offsets and is never in DST. Limits: a zone that changes its standard offset during the
 * year reads as DST after a forward change, and Europe/Dublin's summer time counts as DST even
 * though tzdata models its winter as "negative DST".
 */
function isDst(zone: Zone, year: number, offset: OffsetSeconds): boolean {
  const january = offsetAt(zone, Date.UTC(year, 0, 1, 12));
  const july = offsetAt(zone, Date.UTC(year, 6, 1, 12));
  return offset > Math.min(january, july);
}

function describe(zone: Zone, epochMs: number): { time: ZonedTime; offset: OffsetSeconds } {
  const { wall, weekday } = formatParts(zone, epochMs);
  const offset = offsetAt(zone, epochMs);
  return {
    time: {
      timezone: zone.name,
      datetime: `${isoDate(wall)}T${pad(wall.hour)}:${pad(wall.minute)}:${pad(wall.second)}${isoOffset(offset)}`,
      day_of_week: weekday,
      is_dst: isDst(zone, wall.year, offset),
    },
    offset,
  };
}

function isoDate(wall: WallClock): string {
  return `${String(wall.year).padStart(4, '0')}-${pad(wall.month)}-${pad(wall.day)}`;
}

/** `+05:45`; `+00:00` for UTC (not `Z`, as Python's isoformat); seconds only when non-zero (LMT). */
function isoOffset(offset: OffsetSeconds): string {
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  const seconds = abs % 60;
  const hhmm = `${sign}${pad(Math.floor(abs / 3600))}:${pad(Math.floor((abs % 3600) / 60))}`;
  return seconds === 0 ? hhmm : `${hhmm}:${pad(seconds)}`;
}

function pad(value: number): string {
  return String(value).padStart(2, '0');
}
