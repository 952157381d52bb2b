// parseDuration (src/lib/duration.ts): the duration syntax of `token mint --ttl` and config values.
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/lib/duration.js';

describe('parseDuration', () => {
  it.each([
    ['3600', 3600],
    ['90s', 90],
    ['10m', 600],
    ['1h', 3600],
    ['2d', 172_800],
    [' 5 m ', 300],
    ['0', 0],
    [42, 42],
  ] as const)('%j → %d seconds', (input, seconds) => {
    expect(parseDuration(input)).toBe(seconds);
  });

  it.each(['', 'm', '10x', '-5s', '1.5h', '10M', '1h30m', 'ten', '99999999999999999999'])(
    'refuses %j with a TypeError naming it',
    (input) => {
      expect(() => parseDuration(input)).toThrow(TypeError);
      expect(() => parseDuration(input)).toThrow(JSON.stringify(input));
    },
  );

  it('refuses negative and fractional numbers', () => {
    expect(() => parseDuration(-1)).toThrow(TypeError);
    expect(() => parseDuration(1.5)).toThrow(TypeError);
  });
});
