// Hooks the verifier calls for metrics; the composition root wires them to Prometheus.

/** What the verifier reports. Calls are synchronous and must be cheap: they sit on the hot path. */
export interface TokenObserver {
  /** A verified-token cache look-up found a live entry. */
  cacheHit(): void;
  /** A verified-token cache look-up found nothing (or only an expired entry). */
  cacheMiss(): void;
  /** A JWKS fetch for `issuer` completed. */
  jwksFetch(issuer: string, result: 'ok' | 'error'): void;
}

/** The default: observe nothing, so callers never need a null check. */
export const NOOP_TOKEN_OBSERVER: TokenObserver = Object.freeze({
  cacheHit() {},
  cacheMiss() {},
  jwksFetch() {},
});
