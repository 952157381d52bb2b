// The second-chance cache: bounded, recently read entries outlive unread ones, nothing is served after delete/clear.
import { describe, expect, it } from 'vitest';
import { ClockCache } from '../../src/lib/clock-cache.js';

describe('ClockCache', () => {
  it('never holds more than its bound, evicting the oldest unread entry first', () => {
    const cache = new ClockCache<string, number>(3);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    expect(cache.get('a')).toBe(1); // a gets a second chance
    cache.set('d', 4); // evicts b, the oldest unread
    expect(cache.size).toBe(3);
    expect(cache.get('b')).toBeUndefined();
    expect([cache.get('a'), cache.get('c'), cache.get('d')]).toEqual([1, 3, 4]);
  });

  it('evicts even when every entry was read (the marks are cleared in turn)', () => {
    const cache = new ClockCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.get('a');
    cache.get('b');
    cache.set('c', 3);
    expect(cache.size).toBe(2);
    expect(cache.get('c')).toBe(3);
    expect([cache.get('a'), cache.get('b')].filter((v) => v !== undefined)).toHaveLength(1);
  });

  it('replaces a value in place, and forgets on delete and clear', () => {
    const cache = new ClockCache<string, number>(2);
    cache.set('a', 1);
    cache.set('a', 2);
    expect(cache.size).toBe(1);
    expect(cache.get('a')).toBe(2);
    cache.delete('a');
    expect(cache.get('a')).toBeUndefined();
    cache.set('b', 1);
    cache.clear();
    expect(cache.size).toBe(0);
  });

  it('stays bounded under a long run of distinct keys', () => {
    const cache = new ClockCache<number, number>(100);
    for (let i = 0; i < 10_000; i++) {
      cache.set(i, i);
      if (i % 3 === 0) cache.get(i - 50);
    }
    expect(cache.size).toBe(100);
    expect(cache.get(9_999)).toBe(9_999);
  });

  it('refuses a bound that is not a positive integer', () => {
    expect(() => new ClockCache(0)).toThrow(TypeError);
    expect(() => new ClockCache(1.5)).toThrow(TypeError);
  });
});
