// time.* builtins beyond time.now_ns: RFC 3339 and duration parsing, calendar fields in a zone, date arithmetic.
import type { JsBuiltin } from '../builtins.js';
import { BuiltinError, guarded, jsonText, stringOperand } from './host-builtin.js';

const NS_PER_MS = 1_000_000n;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** An instant (ns) with the zone it is read in. */
interface ZonedTime {
  readonly ns: bigint;
  readonly zone: string;
}

/**
 * Zones a policy can name are unbounded, and building an Intl.DateTimeFormat is costly: each set of
 * time builtins keeps the formats of the first MAX_CACHED_ZONES zones it reads, then builds the
 * others per call.
 */
const MAX_CACHED_ZONES = 64;

/** The formats that read an instant's wall clock, by zone; owned by one set of time builtins. */
interface ZoneFormats {
  /** The zone's format; throws a BuiltinError for an unknown zone. */
  format(zone: string): Intl.DateTimeFormat;
}

function createZoneFormats(limit: number): ZoneFormats {
  const formats = new Map<string, Intl.DateTimeFormat>();
  return {
    format(zone) {
      let format = formats.get(zone);
      if (format === undefined) {
        format = newZoneFormat(zone);
        if (formats.size < limit) formats.set(zone, format);
      }
      return format;
    },
  };
}

function newZoneFormat(zone: string): Intl.DateTimeFormat {
  try {
    return new Intl.DateTimeFormat('en-US', {
      timeZone: zone === 'Local' ? undefined : zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
  } catch {
    throw new BuiltinError(`unknown time zone ${zone}`);
  }
}

/** Milliseconds the zone's wall clock is ahead of UTC at `ms`. */
function offsetMs(zones: ZoneFormats, zone: string, ms: number): number {
  if (zone === 'UTC') return 0;
  const fields: Record<string, string> = {};
  for (const part of zones.format(zone).formatToParts(new Date(ms))) fields[part.type] = part.value;
  let year = Number(fields.year);
  if (fields.era === 'BC') year = 1 - year;
  const wall = new Date(0);
  wall.setUTCFullYear(year, Number(fields.month) - 1, Number(fields.day));
  wall.setUTCHours(Number(fields.hour), Number(fields.minute), Number(fields.second), 0);
  const floorSecond = Math.floor(ms / 1000) * 1000;
  return wall.getTime() - floorSecond;
}

/** Reads OPA's time operand: a number of ns, or [ns, zone] ("" and "UTC" are UTC, "Local" the host's). */
function zonedTime(zones: ZoneFormats, value: unknown): ZonedTime {
  let ns: unknown = value;
  let zone = 'UTC';
  if (Array.isArray(value)) {
    if (value.length === 0)
      throw new BuiltinError('either number (ns) or [number (ns), string (tz)]');
    ns = value[0];
    if (typeof ns !== 'number') throw new BuiltinError('operand 1 must be number');
    if (value.length > 1) {
      const name = stringOperand(value[1], 1);
      zone = name === '' ? 'UTC' : name;
      if (zone !== 'UTC') zones.format(zone);
    }
    if (value.length > 2) stringOperand(value[2], 1);
  } else if (typeof value !== 'number') {
    throw new BuiltinError('either number (ns) or [number (ns), string (tz)]');
  }
  const number = ns as number;
  if (!Number.isInteger(number)) throw new BuiltinError('timestamp too big');
  const big = BigInt(number);
  if (big < INT64_MIN || big > INT64_MAX) throw new BuiltinError('timestamp too big');
  return { ns: big, zone };
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

/** Wall-clock fields of a zoned time (as a Date read with UTC getters), plus the sub-millisecond rest. */
function wall(zones: ZoneFormats, time: ZonedTime): { date: Date; subMs: bigint } {
  const ms = floorDiv(time.ns, NS_PER_MS);
  const subMs = time.ns - ms * NS_PER_MS;
  const msNumber = Number(ms);
  return { date: new Date(msNumber + offsetMs(zones, time.zone, msNumber)), subMs };
}

const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

function safeNs(ns: bigint): ArrayBuffer {
  if (ns < INT64_MIN || ns > INT64_MAX) throw new BuiltinError('time outside of valid range');
  return jsonText(ns.toString());
}

function intOperand(value: unknown, position: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new BuiltinError(`operand ${position} must be integer`);
  }
  return value;
}

/** The instant whose wall clock in `zone` reads `wallMs` (Go's time.Date: a gap or overlap picks one). */
function instantOf(zones: ZoneFormats, zone: string, wallMs: number): number {
  const guess = wallMs - offsetMs(zones, zone, wallMs);
  return wallMs - offsetMs(zones, zone, guess);
}

function addDate(
  zones: ZoneFormats,
  timeValue: unknown,
  years: unknown,
  months: unknown,
  days: unknown,
): ArrayBuffer {
  const time = zonedTime(zones, timeValue);
  const y = intOperand(years, 2);
  const m = intOperand(months, 3);
  const d = intOperand(days, 4);
  const { date, subMs } = wall(zones, time);
  const moved = new Date(date.getTime());
  moved.setUTCFullYear(date.getUTCFullYear() + y, date.getUTCMonth() + m, date.getUTCDate() + d);
  return safeNs(BigInt(instantOf(zones, time.zone, moved.getTime())) * NS_PER_MS + subMs);
}

function diff(zones: ZoneFormats, a: unknown, b: unknown): number[] {
  const first = zonedTime(zones, a);
  const second = { ...zonedTime(zones, b), zone: first.zone };
  const [early, late] = first.ns > second.ns ? [second, first] : [first, second];
  const x = wall(zones, early).date;
  const y = wall(zones, late).date;
  let year = y.getUTCFullYear() - x.getUTCFullYear();
  let month = y.getUTCMonth() - x.getUTCMonth();
  let day = y.getUTCDate() - x.getUTCDate();
  let hour = y.getUTCHours() - x.getUTCHours();
  let minute = y.getUTCMinutes() - x.getUTCMinutes();
  let second2 = y.getUTCSeconds() - x.getUTCSeconds();
  if (second2 < 0) {
    second2 += 60;
    minute--;
  }
  if (minute < 0) {
    minute += 60;
    hour--;
  }
  if (hour < 0) {
    hour += 24;
    day--;
  }
  if (day < 0) {
    // Days in the earlier month: day 32 of it rolls over by 32 minus that count.
    const probe = new Date(0);
    probe.setUTCFullYear(x.getUTCFullYear(), x.getUTCMonth(), 32);
    day += 32 - probe.getUTCDate();
    month--;
  }
  if (month < 0) {
    month += 12;
    year--;
  }
  return [year, month, day, hour, minute, second2];
}

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(?:(Z)|([+-])(\d{2}):(\d{2}))$/;

function daysIn(year: number, month: number): number {
  const probe = new Date(0);
  probe.setUTCFullYear(year, month, 0);
  return probe.getUTCDate();
}

/** Go's time.Parse(time.RFC3339, s) in nanoseconds: fields range-checked, a fraction of any length (9 digits kept). */
function parseRfc3339(value: unknown): ArrayBuffer {
  const text = stringOperand(value, 1);
  const match = RFC3339.exec(text);
  if (match === null) throw new BuiltinError('cannot parse as RFC3339');
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12) throw new BuiltinError('month out of range');
  if (day < 1 || day > daysIn(year, month)) throw new BuiltinError('day out of range');
  if (hour > 23) throw new BuiltinError('hour out of range');
  if (minute > 59) throw new BuiltinError('minute out of range');
  if (second > 59) throw new BuiltinError('second out of range');
  let offset = 0;
  if (match[8] === undefined) {
    const hours = Number(match[10]);
    const minutes = Number(match[11]);
    // Go accepts up to 24 hours and 60 minutes here.
    if (hours > 24 || minutes > 60) throw new BuiltinError('time zone offset out of range');
    offset = (hours * 60 + minutes) * (match[9] === '-' ? -1 : 1);
  }
  const fraction = BigInt((match[7] ?? '').slice(0, 9).padEnd(9, '0'));
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  const seconds = BigInt(date.getTime() / 1000 - offset * 60);
  return safeNs(seconds * 1_000_000_000n + fraction);
}

const DURATION_UNITS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n,
  μs: 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
  // OPA's parser also knows days, weeks and (365-day) years.
  d: 86_400_000_000_000n,
  w: 604_800_000_000_000n,
  y: 31_536_000_000_000_000n,
};

/** OPA's duration parsing (Go's time.ParseDuration plus d, w, y): signed sequence of decimal numbers with units; fractions are scaled in float64 as Go does. */
function parseDuration(value: unknown): ArrayBuffer {
  const text = stringOperand(value, 1);
  let rest = text;
  let negative = false;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    negative = rest.startsWith('-');
    rest = rest.slice(1);
  }
  if (rest === '0') return jsonText('0');
  if (rest === '') throw new BuiltinError('invalid duration');
  let total = 0n;
  const part = /^(\d*)(?:\.(\d*))?([^\d.]+)/;
  while (rest !== '') {
    const match = part.exec(rest);
    if (match === null) throw new BuiltinError('invalid duration');
    const whole = match[1]!;
    const fraction = match[2] ?? '';
    if (whole === '' && fraction === '') throw new BuiltinError('invalid duration');
    const unitText = /^[^\d.]+/.exec(match[3]!)![0];
    const unit = DURATION_UNITS[unitText];
    if (unit === undefined) throw new BuiltinError(`unknown unit ${unitText} in duration`);
    let amount = BigInt(whole === '' ? '0' : whole) * unit;
    if (fraction !== '') {
      const digits = fraction.replace(/^(\d{0,18}).*$/, '$1');
      const f = Number(digits === '' ? '0' : digits);
      const scale = 10 ** digits.length;
      amount += BigInt(Math.trunc(f * (Number(unit) / scale)));
    }
    total += amount;
    if (total > 2n ** 63n) throw new BuiltinError('invalid duration');
    rest = rest.slice(match[0].length);
  }
  if (!negative && total > INT64_MAX) throw new BuiltinError('invalid duration');
  return jsonText((negative ? -total : total).toString());
}

/** The time builtins mandate implements (time.now_ns is the decision clock's). */
export function createTimeBuiltins(): Record<string, JsBuiltin> {
  const zones = createZoneFormats(MAX_CACHED_ZONES);
  const wallOf = (value: unknown) => wall(zones, zonedTime(zones, value)).date;
  return {
    'time.parse_rfc3339_ns': guarded(parseRfc3339),
    'time.parse_duration_ns': guarded(parseDuration),
    'time.date': guarded((value: unknown) => {
      const date = wallOf(value);
      return [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate()];
    }),
    'time.clock': guarded((value: unknown) => {
      const date = wallOf(value);
      return [date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds()];
    }),
    'time.weekday': guarded((value: unknown) => WEEKDAYS[wallOf(value).getUTCDay()]),
    'time.add_date': guarded((time, years, months, days) =>
      addDate(zones, time, years, months, days),
    ),
    'time.diff': guarded((a, b) => diff(zones, a, b)),
  };
}
