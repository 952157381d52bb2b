// A token bucket: bursts up to a capacity, refilled at a steady rate; spends one token per allowed action.

export interface TokenBucket {
  /** Spends a token if one is left; false means "not now". */
  take(): boolean;
}

/**
 * Allows `perMinute` actions a minute on average, up to `perMinute` at once. Starts full.
 * `perMinute` 0 allows nothing.
 */
export function createTokenBucket(perMinute: number, now: () => number = Date.now): TokenBucket {
  const capacity = perMinute;
  const refillPerMs = perMinute / 60_000;
  let tokens = capacity;
  let last = now();
  return {
    take() {
      const t = now();
      // A clock that steps back refills nothing rather than draining the bucket.
      if (t > last) {
        tokens = Math.min(capacity, tokens + (t - last) * refillPerMs);
        last = t;
      }
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
  };
}
