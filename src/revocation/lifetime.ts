// How long a revocation entry must live: until no token it could match can still be valid.

export interface LifetimeOptions {
  /** Longest a token may live (`exp - iat`), seconds, for issuers without their own value. */
  readonly defaultSeconds: number;
  /** Per-issuer longest token lifetime, seconds. */
  readonly perIssuer?: ReadonlyMap<string, number>;
  /** Largest clock tolerance of any issuer, seconds: the verifier accepts tokens that far past `exp`. */
  readonly toleranceSeconds: number;
}

export interface LifetimeRules {
  /** Longest token lifetime for an issuer, seconds. */
  lifetimeSecondsOf(issuer: string | undefined): number;
  /**
   * Milliseconds after an entry's cut-off at which it can go: the longest lifetime of any issuer
   * plus twice the tolerance (a token's `iat` may be that far ahead, and it is accepted that far past `exp`).
   */
  readonly horizonMs: number;
}

export function createLifetimeRules(options: LifetimeOptions): LifetimeRules {
  const perIssuer = options.perIssuer ?? new Map<string, number>();
  let longest = options.defaultSeconds;
  for (const seconds of perIssuer.values()) longest = Math.max(longest, seconds);
  return {
    lifetimeSecondsOf: (issuer) =>
      (issuer !== undefined ? perIssuer.get(issuer) : undefined) ?? options.defaultSeconds,
    horizonMs: (longest + 2 * options.toleranceSeconds) * 1000,
  };
}

/** `iat` has whole seconds: the first whole second at or after `ms` is where "issued before" ends. */
export function cutoffSecondsOf(issuedBeforeMs: number): number {
  return Math.ceil(issuedBeforeMs / 1000);
}

/**
 * When an entry stops mattering, epoch ms; undefined for absolute entries. A `token` entry is cut
 * off at its creation: the token it names was issued by then.
 */
export function expiryOf(
  entry: { readonly kind: string; readonly issuedBeforeMs?: number; readonly createdAtMs: number },
  horizonMs: number,
): number | undefined {
  const cutoff = entry.kind === 'token' ? entry.createdAtMs : entry.issuedBeforeMs;
  return cutoff === undefined ? undefined : cutoffSecondsOf(cutoff) * 1000 + horizonMs;
}
