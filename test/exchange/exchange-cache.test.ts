// The exchanged-token cache: served only until shortly before expiry, bounded, and droppable by subject.
import { describe, expect, it } from 'vitest';
import {
  createExchangeCache,
  exchangeCacheKey,
  type CachedExchange,
} from '../../src/exchange/exchange-cache.js';
import { createClock } from '../helpers/tokens.js';

function entry(
  tokenHash: string,
  expiresAtMs: number,
  extra: Partial<CachedExchange['subject']> = {},
): CachedExchange {
  return {
    accessToken: `token-for-${tokenHash}`,
    tokenHash: 'issued',
    tokenType: 'Bearer',
    issuedTokenType: 'urn:ietf:params:oauth:token-type:access_token',
    expiresAtMs,
    audience: 'billing-api',
    decision: { allow: true, decisionId: 'd-1', reasons: [], latencyUs: 1 },
    subject: { tokenHash, act: [], claims: {}, ...extra },
  };
}

describe('exchange cache', () => {
  it('serves an entry until the skew before its expiry, then drops it', () => {
    const clock = createClock(1_000_000);
    const cache = createExchangeCache({ maxEntries: 10, skewSeconds: 30, now: clock.now });
    expect(cache.set('k', entry('s1', clock.now() + 60_000))).toBe(true);
    expect(cache.get('k')?.accessToken).toBe('token-for-s1');
    clock.advance(29_999);
    expect(cache.get('k')).toBeDefined();
    clock.advance(1);
    expect(cache.get('k')).toBeUndefined();
    expect(cache.size()).toBe(0);
  });

  it('does not store a token already inside the skew', () => {
    const clock = createClock();
    const cache = createExchangeCache({ maxEntries: 10, skewSeconds: 30, now: clock.now });
    expect(cache.set('k', entry('s1', clock.now() + 30_000))).toBe(false);
    expect(cache.get('k')).toBeUndefined();
  });

  it('drops every exchange of one subject token, and only those', () => {
    const clock = createClock();
    const cache = createExchangeCache({ maxEntries: 10, skewSeconds: 0, now: clock.now });
    cache.set('a1', entry('s1', clock.now() + 60_000));
    cache.set('a2', entry('s1', clock.now() + 60_000));
    cache.set('b1', entry('s2', clock.now() + 60_000));
    expect(cache.dropBySubjectToken('s1')).toBe(2);
    expect(cache.get('a1')).toBeUndefined();
    expect(cache.get('b1')).toBeDefined();
    expect(cache.dropBySubjectToken('s1')).toBe(0);
  });

  it('invalidates by a predicate over the subject (a revocation by sub, jti, tenant...)', () => {
    const clock = createClock();
    const cache = createExchangeCache({ maxEntries: 10, skewSeconds: 0, now: clock.now });
    cache.set('a', entry('s1', clock.now() + 60_000, { sub: 'user_1', tenant: 't' }));
    cache.set('b', entry('s2', clock.now() + 60_000, { sub: 'user_2', tenant: 't' }));
    expect(cache.invalidate((s) => s.sub === 'user_1')).toBe(1);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')).toBeDefined();
    expect(cache.dropBySubjectToken('s1')).toBe(0);
  });

  it('is bounded: the least recently used entry goes, and its subject index with it', () => {
    const clock = createClock();
    const cache = createExchangeCache({ maxEntries: 2, skewSeconds: 0, now: clock.now });
    cache.set('a', entry('s1', clock.now() + 60_000));
    cache.set('b', entry('s2', clock.now() + 60_000));
    cache.get('a');
    cache.set('c', entry('s3', clock.now() + 60_000));
    expect(cache.size()).toBe(2);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.dropBySubjectToken('s2')).toBe(0);
    expect(cache.dropBySubjectToken('s1')).toBe(1);
  });

  it('with 0 entries it caches nothing', () => {
    const cache = createExchangeCache({ maxEntries: 0, skewSeconds: 0 });
    expect(cache.set('a', entry('s1', Date.now() + 60_000))).toBe(false);
    expect(cache.get('a')).toBeUndefined();
  });

  it('keys every part that changes what the AS would issue', () => {
    const base = exchangeCacheKey('h', 'billing-api', undefined, ['a', 'b'], 'crm');
    expect(
      new Set([
        base,
        exchangeCacheKey('h2', 'billing-api', undefined, ['a', 'b'], 'crm'),
        exchangeCacheKey('h', 'crm-api', undefined, ['a', 'b'], 'crm'),
        exchangeCacheKey('h', 'billing-api', 'urn:x', ['a', 'b'], 'crm'),
        exchangeCacheKey('h', 'billing-api', undefined, ['a'], 'crm'),
        exchangeCacheKey('h', 'billing-api', undefined, ['a', 'b'], 'other'),
      ]).size,
    ).toBe(6);
  });
});
