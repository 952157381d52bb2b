// Why a token was refused: the closed set of token failure codes, shared with the decision pipeline.

/** Every way token verification can fail. Stable: callers switch on these. */
export const TOKEN_FAILURE_CODES = [
  'token_missing',
  'token_malformed',
  'token_expired',
  'token_not_yet_valid',
  'token_invalid_signature',
  'algorithm_not_allowed',
  'token_type_invalid',
  'issuer_unknown',
  'audience_mismatch',
  'claim_missing',
  'key_not_found',
  'jwks_unavailable',
] as const;

export type TokenFailureCode = (typeof TOKEN_FAILURE_CODES)[number];

/** A refused token as a value. `message` is safe to return to the caller: it never echoes the token. */
export interface TokenFailure {
  readonly ok: false;
  readonly code: TokenFailureCode;
  readonly message: string;
  /** The `iss` claim when it could be read (for audit), even if untrusted. */
  readonly issuer?: string;
}
