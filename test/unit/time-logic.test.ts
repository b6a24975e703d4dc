import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  convertTime,
  formatTimeDifference,
  getCurrentTime,
  isValidTimezone,
  TimeInputError,
  type Clock,
  type TimeErrorCode,
} from '../../servers/time/time.js';

const at =
  (iso: string): Clock =>
  () =>
    new Date(iso);

const SUMMER = at('2026-07-15T20:00:37Z'); // a Wednesday
const WINTER = at('2026-01-15T17:00:00Z'); // a Thursday

function assertInputError(fn: () => unknown, code: TimeErrorCode, ...fragments: string[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof TimeInputError, `expected TimeInputError, got ${String(error)}`);
    assert.equal(error.code, code);
    for (const fragment of fragments) assert.ok(error.message.includes(fragment), error.message);
    return true;
  });
}

describe('get_current_time', () => {
  it('gives UTC with a +00:00 offset, truncated to the second', () => {
    assert.deepEqual(getCurrentTime('UTC', at('2026-07-15T20:00:37.999Z')), {
      timezone: 'UTC',
      datetime: '2026-07-15T20:00:37+00:00',
      day_of_week: 'Wednesday',
      is_dst: false,
    });
  });

  it('reports daylight saving time in America/New_York in summer', () => {
    assert.deepEqual(getCurrentTime('America/New_York', SUMMER), {
      timezone: 'America/New_York',
      datetime: '2026-07-15T16:00:37-04:00',
      day_of_week: 'Wednesday',
      is_dst: true,
    });
  });

  it('reports standard time in America/New_York in winter', () => {
    assert.deepEqual(getCurrentTime('America/New_York', WINTER), {
      timezone: 'America/New_York',
      datetime: '2026-01-15T12:00:00-05:00',
      day_of_week: 'Thursday',
      is_dst: false,
    });
  });

  it('reports southern-hemisphere DST in Australia/Sydney in January, not July', () => {
    const january = getCurrentTime('Australia/Sydney', WINTER);
    assert.equal(january.datetime, '2026-01-16T04:00:00+11:00');
    assert.equal(january.day_of_week, 'Friday');
    assert.equal(january.is_dst, true);

    const july = getCurrentTime('Australia/Sydney', SUMMER);
    assert.equal(july.datetime, '2026-07-16T06:00:37+10:00');
    assert.equal(july.is_dst, false);
  });

  it('handles half-hour DST in Australia/Lord_Howe', () => {
    assert.equal(getCurrentTime('Australia/Lord_Howe', WINTER).datetime, '2026-01-16T04:00:00+11:00');
    assert.equal(getCurrentTime('Australia/Lord_Howe', WINTER).is_dst, true);
    assert.equal(getCurrentTime('Australia/Lord_Howe', SUMMER).datetime, '2026-07-16T06:30:37+10:30');
    assert.equal(getCurrentTime('Australia/Lord_Howe', SUMMER).is_dst, false);
  });

  it('gives fractional offsets for Asia/Kolkata and Asia/Kathmandu', () => {
    assert.equal(getCurrentTime('Asia/Kolkata', SUMMER).datetime, '2026-07-16T01:30:37+05:30');
    assert.equal(getCurrentTime('Asia/Kathmandu', SUMMER).datetime, '2026-07-16T01:45:37+05:45');
    assert.equal(getCurrentTime('Asia/Kathmandu', SUMMER).day_of_week, 'Thursday');
  });

  it('never reports DST in zones without it', () => {
    for (const zone of ['Asia/Tokyo', 'America/Phoenix', 'Asia/Kolkata', 'UTC']) {
      assert.equal(getCurrentTime(zone, SUMMER).is_dst, false, `${zone} in July`);
      assert.equal(getCurrentTime(zone, WINTER).is_dst, false, `${zone} in January`);
    }
    assert.equal(getCurrentTime('America/Phoenix', SUMMER).datetime, '2026-07-15T13:00:37-07:00');
  });

  it('accepts aliases and Etc zones, whose sign is inverted by POSIX convention', () => {
    assert.equal(getCurrentTime('Asia/Calcutta', SUMMER).datetime, '2026-07-16T01:30:37+05:30');
    assert.equal(getCurrentTime('US/Eastern', SUMMER).datetime, '2026-07-15T16:00:37-04:00');
    assert.equal(getCurrentTime('Etc/GMT+5', SUMMER).datetime, '2026-07-15T15:00:37-05:00');
  });

  it('prints a seconds offset for local mean time before standard zones existed', () => {
    assert.equal(getCurrentTime('Europe/Paris', at('1850-01-01T00:00:00Z')).datetime, '1850-01-01T00:09:21+00:09:21');
  });

  it('rejects an unknown zone, an offset and an empty name', () => {
    for (const zone of ['Mars/Base', '+05:00', '', 'America/New York']) {
      assertInputError(() => getCurrentTime(zone, SUMMER), 'invalid_timezone', `Invalid timezone: '${zone}'`, "'America/New_York'");
    }
  });

  it('reads the injected clock on every call', () => {
    let now = new Date('2026-07-15T20:00:00Z');
    const clock: Clock = () => now;
    assert.equal(getCurrentTime('UTC', clock).datetime, '2026-07-15T20:00:00+00:00');
    now = new Date('2026-07-15T20:05:00Z');
    assert.equal(getCurrentTime('UTC', clock).datetime, '2026-07-15T20:05:00+00:00');
  });

  it('denotes the clock instant, to the second, in any zone', () => {
    const zones = ['UTC', 'America/New_York', 'Australia/Sydney', 'Asia/Kathmandu', 'Pacific/Chatham'];
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1980, 0, 1), max: Date.UTC(2037, 11, 31) }), fc.constantFrom(...zones), (epochMs, zone) => {
        const { datetime } = getCurrentTime(zone, () => new Date(epochMs));
        assert.equal(Date.parse(datetime), Math.floor(epochMs / 1000) * 1000);
      }),
    );
  });
});

describe('convert_time', () => {
  it('converts New York to London in summer', () => {
    assert.deepEqual(convertTime({ source_timezone: 'America/New_York', time: '16:00', target_timezone: 'Europe/London' }, SUMMER), {
      source: {
        timezone: 'America/New_York',
        datetime: '2026-07-15T16:00:00-04:00',
        day_of_week: 'Wednesday',
        is_dst: true,
      },
      target: {
        timezone: 'Europe/London',
        datetime: '2026-07-15T21:00:00+01:00',
        day_of_week: 'Wednesday',
        is_dst: true,
      },
      time_difference: '+5.0h',
    });
  });

  it('gives fractional differences to Asia/Kolkata and Asia/Kathmandu', () => {
    const toKolkata = convertTime({ source_timezone: 'UTC', time: '12:00', target_timezone: 'Asia/Kolkata' }, SUMMER);
    assert.equal(toKolkata.target.datetime, '2026-07-15T17:30:00+05:30');
    assert.equal(toKolkata.time_difference, '+5.5h');

    const toKathmandu = convertTime({ source_timezone: 'UTC', time: '12:00', target_timezone: 'Asia/Kathmandu' }, SUMMER);
    assert.equal(toKathmandu.target.datetime, '2026-07-15T17:45:00+05:45');
    assert.equal(toKathmandu.time_difference, '+5.75h');

    const back = convertTime({ source_timezone: 'Asia/Kolkata', time: '12:00', target_timezone: 'UTC' }, SUMMER);
    assert.equal(back.time_difference, '-5.5h');
  });

  it('crosses the date line forward to Pacific/Auckland in its summer', () => {
    const result = convertTime({ source_timezone: 'UTC', time: '20:00', target_timezone: 'Pacific/Auckland' }, WINTER);
    assert.equal(result.source.datetime, '2026-01-15T20:00:00+00:00');
    assert.equal(result.source.day_of_week, 'Thursday');
    assert.equal(result.target.datetime, '2026-01-16T09:00:00+13:00');
    assert.equal(result.target.day_of_week, 'Friday');
    assert.equal(result.target.is_dst, true);
    assert.equal(result.time_difference, '+13.0h');
  });

  it("uses today's date in the source zone, not in UTC", () => {
    // 23:30 UTC on the 15th is already the 16th in Auckland.
    const result = convertTime({ source_timezone: 'Pacific/Auckland', time: '09:00', target_timezone: 'UTC' }, at('2026-07-15T23:30:00Z'));
    assert.equal(result.source.datetime, '2026-07-16T09:00:00+12:00');
    assert.equal(result.target.datetime, '2026-07-15T21:00:00+00:00');
    assert.equal(result.target.day_of_week, 'Wednesday');
    assert.equal(result.time_difference, '-12.0h');
  });

  it('gives negative and zero differences', () => {
    const westward = convertTime({ source_timezone: 'Europe/London', time: '09:00', target_timezone: 'America/New_York' }, WINTER);
    assert.equal(westward.target.datetime, '2026-01-15T04:00:00-05:00');
    assert.equal(westward.time_difference, '-5.0h');

    const same = convertTime({ source_timezone: 'Europe/Paris', time: '00:00', target_timezone: 'Europe/Berlin' }, SUMMER);
    assert.equal(same.source.datetime, '2026-07-15T00:00:00+02:00');
    assert.equal(same.time_difference, '+0.0h');
  });

  it('rejects a local time skipped by a DST change', () => {
    assertInputError(
      () => convertTime({ source_timezone: 'America/New_York', time: '02:30', target_timezone: 'UTC' }, at('2026-03-08T12:00:00Z')),
      'nonexistent_local_time',
      "'02:30' does not exist in America/New_York on 2026-03-08",
    );
    assertInputError(
      () => convertTime({ source_timezone: 'Australia/Sydney', time: '02:00', target_timezone: 'UTC' }, at('2026-10-04T06:00:00Z')),
      'nonexistent_local_time',
      "'02:00' does not exist in Australia/Sydney on 2026-10-04",
    );
  });

  it('accepts the times either side of a DST gap', () => {
    const spring = at('2026-03-08T12:00:00Z');
    const before = convertTime({ source_timezone: 'America/New_York', time: '01:59', target_timezone: 'UTC' }, spring);
    assert.equal(before.source.datetime, '2026-03-08T01:59:00-05:00');
    assert.equal(before.target.datetime, '2026-03-08T06:59:00+00:00');
    const after = convertTime({ source_timezone: 'America/New_York', time: '03:00', target_timezone: 'UTC' }, spring);
    assert.equal(after.source.datetime, '2026-03-08T03:00:00-04:00');
    assert.equal(after.target.datetime, '2026-03-08T07:00:00+00:00');
    assert.equal(after.source.is_dst, true);
  });

  it('resolves a time repeated by a fall-back change to the earlier instant', () => {
    const newYork = convertTime({ source_timezone: 'America/New_York', time: '01:30', target_timezone: 'UTC' }, at('2026-11-01T12:00:00Z'));
    assert.equal(newYork.source.datetime, '2026-11-01T01:30:00-04:00');
    assert.equal(newYork.source.is_dst, true);
    assert.equal(newYork.target.datetime, '2026-11-01T05:30:00+00:00');
    assert.equal(newYork.time_difference, '+4.0h');

    const sydney = convertTime({ source_timezone: 'Australia/Sydney', time: '02:30', target_timezone: 'UTC' }, at('2026-04-05T06:00:00Z'));
    assert.equal(sydney.source.datetime, '2026-04-05T02:30:00+11:00');
    assert.equal(sydney.target.datetime, '2026-04-04T15:30:00+00:00');
  });

  it('rejects malformed times', () => {
    for (const time of ['24:00', '7:5', 'ab:cd', '12:60', '', ' 12:00', '12:00:00', '1200']) {
      assertInputError(
        () => convertTime({ source_timezone: 'UTC', time, target_timezone: 'UTC' }, SUMMER),
        'invalid_time',
        `Invalid time format: '${time}'. Expected HH:MM in 24-hour format.`,
      );
    }
  });

  it('accepts the ends of the day', () => {
    const request = { source_timezone: 'UTC', target_timezone: 'UTC' };
    assert.equal(convertTime({ ...request, time: '00:00' }, SUMMER).source.datetime, '2026-07-15T00:00:00+00:00');
    assert.equal(convertTime({ ...request, time: '23:59' }, SUMMER).source.datetime, '2026-07-15T23:59:00+00:00');
  });

  it('names whichever zone is invalid', () => {
    assertInputError(
      () => convertTime({ source_timezone: 'Mars/Base', time: '12:00', target_timezone: 'UTC' }, SUMMER),
      'invalid_timezone',
      "'Mars/Base'",
    );
    assertInputError(
      () => convertTime({ source_timezone: 'UTC', time: '12:00', target_timezone: 'Moon/Tranquility' }, SUMMER),
      'invalid_timezone',
      "'Moon/Tranquility'",
    );
  });

  it('keeps source and target on one instant, at the requested wall time, on the source date', () => {
    const zones = [
      'UTC',
      'America/New_York',
      'America/Sao_Paulo',
      'Europe/London',
      'Australia/Sydney',
      'Australia/Lord_Howe',
      'Asia/Kathmandu',
      'Pacific/Auckland',
      'Pacific/Chatham',
      'Pacific/Kiritimati',
      'Pacific/Pago_Pago',
    ];
    const hhmm = fc
      .tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }))
      .map(([h, m]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`);
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2037, 11, 31) }),
        fc.constantFrom(...zones),
        fc.constantFrom(...zones),
        hhmm,
        (epochMs, source, target, time) => {
          const clock = () => new Date(epochMs);
          let result;
          try {
            result = convertTime({ source_timezone: source, time, target_timezone: target }, clock);
          } catch (error) {
            assert.ok(error instanceof TimeInputError && error.code === 'nonexistent_local_time', String(error));
            return;
          }
          const today = getCurrentTime(source, clock).datetime.slice(0, 10);
          assert.equal(result.source.datetime.slice(0, 16), `${today}T${time}`);
          assert.equal(Date.parse(result.source.datetime), Date.parse(result.target.datetime));
          const offsetMinutes = (iso: string) => {
            const [, sign, hh, mm] = /([+-])(\d\d):(\d\d)$/.exec(iso) ?? [];
            return (sign === '-' ? -1 : 1) * (Number(hh) * 60 + Number(mm));
          };
          const difference = offsetMinutes(result.target.datetime) - offsetMinutes(result.source.datetime);
          assert.equal(result.time_difference, formatTimeDifference(difference * 60));
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('formatTimeDifference', () => {
  it('matches the reference formatting', () => {
    const cases: Array<[number, string]> = [
      [0, '+0.0h'],
      [46_800, '+13.0h'],
      [-14_400, '-4.0h'],
      [19_800, '+5.5h'],
      [20_700, '+5.75h'],
      [-34_200, '-9.5h'],
      [-45_900, '-12.75h'],
      [36, '+0.01h'],
      // 0.001h rounds to '+0.00', which Python's rstrip('0').rstrip('.') turns into '+0'.
      [3.6, '+0h'],
    ];
    for (const [seconds, expected] of cases) assert.equal(formatTimeDifference(seconds), expected, `${seconds}s`);
  });
});

describe('isValidTimezone', () => {
  it('knows canonical names, aliases and UTC, case-insensitively', () => {
    for (const zone of ['UTC', 'Etc/UTC', 'Asia/Kolkata', 'Asia/Kathmandu', 'Europe/Kyiv', 'US/Eastern', 'utc']) {
      assert.equal(isValidTimezone(zone), true, zone);
    }
  });

  it('refuses names that are not IANA zones', () => {
    for (const zone of ['Mars/Base', '+05:00', 'Z', '', '../etc/passwd', 'America/New_York ']) {
      assert.equal(isValidTimezone(zone), false, zone);
    }
  });
});
