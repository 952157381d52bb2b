// The verified-token cache: found by signature, but served only for the very same token and never at or after exp.
import { describe, expect, it } from 'vitest';
import { createTokenCache } from '../../src/token/token-cache.js';
import type { VerifiedToken } from '../../src/token/types.js';

const entry = (sub: string, expiresAtMs: number) =>
  ({ ok: true, claims: { sub }, expiresAtMs, cached: true }) as unknown as VerifiedToken;

describe('token cache', () => {
  it('never serves one token for another that shares its signature segment', () => {
    const cache = createTokenCache(10);
    const real = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.SIGNATURE';
    const forged = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.SIGNATURE';
    cache.set(real, entry('alice', 2_000));
    expect(cache.get(real, 1_000)?.claims['sub']).toBe('alice');
    expect(cache.get(forged, 1_000)).toBeUndefined();
    // The real token is still served afterwards.
    expect(cache.get(real, 1_000)?.claims['sub']).toBe('alice');
  });

  it('drops an entry at exp and serves nothing when disabled', () => {
    const cache = createTokenCache(10);
    cache.set('a.b.c', entry('alice', 2_000));
    expect(cache.get('a.b.c', 2_000)).toBeUndefined();
    expect(cache.get('a.b.c', 1_000)).toBeUndefined();
    const off = createTokenCache(0);
    off.set('a.b.c', entry('alice', 2_000));
    expect(off.enabled).toBe(false);
    expect(off.get('a.b.c', 1_000)).toBeUndefined();
  });
});
