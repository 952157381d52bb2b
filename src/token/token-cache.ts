// The bounded verified-token cache: a hit is one map look-up and one clock compare.
import { ClockCache } from '../lib/clock-cache.js';
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
 * Builds the cache: bounded, second-chance eviction (a hit does no reordering). Expiry is checked
 * against the verifier's clock on every hit (so tests can drive it), and each entry's lifetime is
 * the token's own `exp`, never longer.
 */
export function createTokenCache(maxEntries: number): TokenCache {
  if (maxEntries <= 0) {
    return { enabled: false, get: () => undefined, set: () => {} };
  }
  const entries = new ClockCache<string, VerifiedToken>(maxEntries);
  return {
    enabled: true,
    get(token, nowMs) {
      const entry = entries.get(token);
      if (entry === undefined) return undefined;
      if (nowMs < entry.expiresAtMs) return entry;
      entries.delete(token);
      return undefined;
    },
    set(token, entry) {
      entries.set(token, entry);
    },
  };
}
