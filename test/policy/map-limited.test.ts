// The bounded parallel map used to compile policy units: order kept, limit respected, failures isolated.
import { describe, expect, it } from 'vitest';
import { mapSettledLimited } from '../../src/policy/map-limited.js';

describe('mapSettledLimited', () => {
  it('keeps at most `limit` tasks in flight and results in input order', async () => {
    let inFlight = 0;
    let peak = 0;
    const results = await mapSettledLimited([30, 5, 20, 1, 10], 2, async (ms) => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await new Promise((resolve) => setTimeout(resolve, ms));
      inFlight -= 1;
      if (ms === 20) throw new Error('twenty');
      return ms * 2;
    });
    expect(peak).toBe(2);
    expect(
      results.map((result) => (result.status === 'fulfilled' ? result.value : 'failed')),
    ).toEqual([60, 10, 'failed', 2, 20]);
  });

  it('handles no items', async () => {
    expect(await mapSettledLimited([], 2, async () => 1)).toEqual([]);
  });
});
