// The bounded verified-token cache: a hit is one map look-up and one clock compare.
import { LRUCache } from 'lru-cache';
import type { VerifiedToken } from './types.js';

/** Verified tokens keyed by the raw token string. */
export interface TokenCache {
  /** False when capacity is 0: callers skip look-ups (and hit/miss metrics) entirely. */
  readonly enabled: boolean;
  /** The entry for `token` only while `nowMs < expiresAtMs`; an expired entry is dropped, never served. */
  get(token: string, nowMs: number): VerifiedToken | undefined;
  set(token: string, entry: VerifiedToken): void;
}

/**
 * Builds the cache. lru-cache is used without its own TTL: expiry is checked against the
 * verifier's clock on every hit (so tests can drive it), and each entry's lifetime is the token's
 * own `exp`, never longer. Measured against a plain Map, a hit costs the same: both are dominated
 * by hashing the token string.
 */
export function createTokenCache(maxEntries: number): TokenCache {
  if (maxEntries <= 0) {
    return { enabled: false, get: () => undefined, set: () => {} };
  }
  const lru = new LRUCache<string, VerifiedToken>({ max: maxEntries });
  return {
    enabled: true,
    get(token, nowMs) {
      const entry = lru.get(token);
      if (entry === undefined) return undefined;
      if (nowMs < entry.expiresAtMs) return entry;
      lru.delete(token);
      return undefined;
    },
    set(token, entry) {
      lru.set(token, entry);
    },
  };
}
