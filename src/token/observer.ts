// Hooks the verifier calls for metrics; the composition root wires them to Prometheus.

/** What the verifier reports. Calls are synchronous and must be cheap: they sit on the hot path. */
export interface TokenObserver {
  /** A verified-token cache look-up found a live entry. */
  cacheHit(): void;
  /** A verified-token cache look-up found nothing (or only an expired entry). */
  cacheMiss(): void;
  /** A JWKS fetch for `issuer` completed (rare: never on the cached path). */
  jwksFetch(issuer: string, detail: JwksFetchDetail): void;
}

/** The outcome of one JWKS fetch. */
export type JwksFetchDetail =
  | {
      readonly result: 'ok';
      /** Keys now in use. */
      readonly keys: number;
      /** True on the first load and whenever the set of kids differs from the previous one. */
      readonly changed: boolean;
    }
  | {
      readonly result: 'error';
      /** Short, secret-free reason (no URL). */
      readonly error: string;
      /** Whether earlier keys are still served. */
      readonly hasKeys: boolean;
    };

/** The default: observe nothing, so callers never need a null check. */
export const NOOP_TOKEN_OBSERVER: TokenObserver = Object.freeze({
  cacheHit() {},
  cacheMiss() {},
  jwksFetch() {},
});
