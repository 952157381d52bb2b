// Parses human durations ("90s", "10m", "1h", "2d", "3600") into whole seconds.

const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 };
const DURATION = /^(\d+)\s*([smhd])?$/;

/**
 * Parses a duration into seconds. A bare number is seconds; units are `s`, `m`, `h`, `d`
 * (lower-case, one unit, whole numbers). Throws a `TypeError` naming the input otherwise.
 */
export function parseDuration(input: string | number): number {
  if (typeof input === 'number') {
    if (Number.isSafeInteger(input) && input >= 0) return input;
    throw new TypeError(
      `invalid duration ${input}: expected a non-negative whole number of seconds`,
    );
  }
  const match = DURATION.exec(input.trim());
  const seconds = match ? Number(match[1]) * UNIT_SECONDS[match[2] ?? 's']! : Number.NaN;
  if (!Number.isSafeInteger(seconds)) {
    throw new TypeError(
      `invalid duration ${JSON.stringify(input)}: expected e.g. 90s, 10m, 1h, 2d or a number of seconds`,
    );
  }
  return seconds;
}
