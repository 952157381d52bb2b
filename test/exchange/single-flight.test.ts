// Single flight: concurrent identical calls share one run; a failure is shared but not remembered.
import { describe, expect, it } from 'vitest';
import { createSingleFlight } from '../../src/exchange/single-flight.js';

describe('single flight', () => {
  it('runs the work once for concurrent callers of one key', async () => {
    const flight = createSingleFlight<number>();
    let runs = 0;
    let release!: (n: number) => void;
    const work = () => {
      runs++;
      return new Promise<number>((resolve) => (release = resolve));
    };
    const all = Promise.all(Array.from({ length: 50 }, () => flight.run('k', work)));
    expect(flight.size()).toBe(1);
    release(42);
    const results = await all;
    expect(runs).toBe(1);
    expect(results.map((r) => r.value)).toEqual(Array(50).fill(42));
    expect(results.filter((r) => !r.shared)).toHaveLength(1);
    expect(flight.size()).toBe(0);
  });

  it('runs different keys separately and forgets a failure', async () => {
    const flight = createSingleFlight<string>();
    let runs = 0;
    const failing = () => {
      runs++;
      return Promise.reject(new Error('boom'));
    };
    await expect(Promise.all([flight.run('a', failing), flight.run('a', failing)])).rejects.toThrow(
      'boom',
    );
    expect(runs).toBe(1);
    await expect(flight.run('a', failing)).rejects.toThrow('boom');
    expect(runs).toBe(2);
    const [x, y] = await Promise.all([
      flight.run('x', async () => 'x'),
      flight.run('y', async () => 'y'),
    ]);
    expect([x.value, y.value, x.shared, y.shared]).toEqual(['x', 'y', false, false]);
  });
});
