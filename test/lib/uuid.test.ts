// Decision ids: RFC 9562 version 4 UUIDs, lower-case, unique across pool refills, every random digit used.
import { describe, expect, it } from 'vitest';
import { createRandomUuid } from '../../src/lib/uuid.js';

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('createRandomUuid', () => {
  it('gives distinct version 4 UUIDs, also across many refills of its random pool', () => {
    const randomUuid = createRandomUuid();
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const id = randomUuid();
      expect(id).toMatch(V4);
      seen.add(id);
    }
    expect(seen.size).toBe(20_000);
  });

  it('fills every random position with all sixteen digits (none stuck, none left over from the last id)', () => {
    const randomUuid = createRandomUuid();
    const digitsAt = Array.from({ length: 36 }, () => new Set<string>());
    for (let i = 0; i < 5_000; i++) {
      const id = randomUuid();
      for (let p = 0; p < 36; p++) digitsAt[p]?.add(id[p] as string);
    }
    for (let p = 0; p < 36; p++) {
      const expected = [8, 13, 18, 23].includes(p) ? 1 : p === 14 ? 1 : p === 19 ? 4 : 16;
      expect(digitsAt[p]?.size, `position ${p}`).toBe(expected);
    }
  });

  it('gives each source its own pool: two sources never hand out the same id', () => {
    const a = createRandomUuid();
    const b = createRandomUuid();
    const seen = new Set<string>();
    for (let i = 0; i < 1_000; i++) {
      seen.add(a());
      seen.add(b());
    }
    expect(seen.size).toBe(2_000);
  });
});
