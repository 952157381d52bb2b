// The time builtins read wall clocks in any number of zones correctly, past the per-instance format cache.
import { describe, expect, it } from 'vitest';
import { createTimeBuiltins } from '../../src/policy/builtins/time.js';

const NS = 1_700_000_000_000_000_000; // 2023-11-14T22:13:20Z in ns

function clockIn(zone: string): unknown {
  return createTimeBuiltins()['time.clock']!([NS, zone]);
}

describe('time builtins across many zones', () => {
  it('answers for every zone the same once its cache is full as a fresh set does', () => {
    const zones = Intl.supportedValuesOf('timeZone').slice(0, 200);
    expect(zones.length).toBeGreaterThan(64);
    const builtins = createTimeBuiltins();
    const clock = builtins['time.clock']!;
    for (const zone of zones) expect(clock([NS, zone]), zone).toEqual(clockIn(zone));
    // Read again, cached or not: the same answers.
    for (const zone of zones) expect(clock([NS, zone]), zone).toEqual(clockIn(zone));
    expect(clock([NS, 'Asia/Kolkata'])).toEqual([3, 43, 20]);
  });

  it('leaves an unknown zone undefined, in every set of builtins', () => {
    const builtins = createTimeBuiltins();
    for (let i = 0; i < 100; i++) {
      expect(builtins['time.date']!([NS, `Nowhere/Zone${i}`])).toBeUndefined();
    }
    expect(createTimeBuiltins()['time.date']!([NS, 'UTC'])).toEqual([2023, 11, 14]);
  });
});
