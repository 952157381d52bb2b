// The bounded verified-token cache: a hit is one map look-up, one string compare and one clock compare.
import { ClockCache } from '../lib/clock-cache.js';
import type { VerifiedToken } from './types.js';

/** Verified tokens, found by the raw token string. */
export interface TokenCache {
  /** False when capacity is 0: callers skip look-ups (and hit/miss metrics) entirely. */
  readonly enabled: boolean;
  /** The entry for `token` only while `nowMs < expiresAtMs`; an expired entry is dropped, never served. */
  get(token: string, nowMs: number): VerifiedToken | undefined;
  set(token: string, entry: VerifiedToken): void;
}

interface Slot {
  readonly token: string;
  readonly entry: VerifiedToken;
}

/** Characters of the token's end used as its look-up key: 144 bits of signature. */
const KEY_LENGTH = 24;

/**
 * The look-up key: the end of the signature segment. Every request brings the token as a new
 * string, and hashing all of it (700 bytes and more) cost more than the rest of a hit; a
 * signature's last characters are as distinct as the token. A hit still compares the whole token,
 * so another token with the same ending is a miss (and, verified, replaces the entry), never a
 * wrong answer; only a verified token is ever stored, so a forged ending evicts nothing.
 */
function keyOf(token: string): string {
  return token.length <= KEY_LENGTH ? token : token.slice(token.length - KEY_LENGTH);
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
  const slots = new ClockCache<string, Slot>(maxEntries);
  return {
    enabled: true,
    get(token, nowMs) {
      const key = keyOf(token);
      const slot = slots.get(key);
      if (slot === undefined || slot.token !== token) return undefined;
      if (nowMs < slot.entry.expiresAtMs) return slot.entry;
      slots.delete(key);
      return undefined;
    },
    set(token, entry) {
      slots.set(keyOf(token), { token, entry });
    },
  };
}
