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
  'token_binding_unverified',
  'claim_invalid',
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

/** The fixed message for each code. Fixed on purpose: no token material can leak into a message. */
export const TOKEN_FAILURE_MESSAGES: Readonly<Record<TokenFailureCode, string>> = {
  token_missing: 'no access token was presented',
  token_malformed: 'the access token is not a well-formed JWT',
  token_expired: 'the access token has expired',
  token_not_yet_valid: 'the access token is not valid yet',
  token_invalid_signature: 'the access token signature is invalid',
  algorithm_not_allowed: 'the token signing algorithm is not allowed for this issuer',
  token_type_invalid: 'the token type (typ) is not accepted',
  issuer_unknown: 'the token issuer is not trusted',
  audience_mismatch: 'the token is not intended for this audience',
  claim_missing: 'a required claim is missing',
  key_not_found: 'no verification key matches the token',
  jwks_unavailable: 'the issuer signing keys are not available',
  token_binding_unverified:
    'the access token is bound to a key (cnf) and that binding could not be checked',
  claim_invalid: 'a claim of the access token has a value mandate cannot use',
};

/** Longest untrusted `iss` kept on a failure, so audit records stay bounded whatever the token says. */
const MAX_ISSUER_CHARS = 256;

/**
 * Builds a failure value. `message` defaults to the code's fixed message; pass one only when it is
 * built from configuration (a claim name), never from the token.
 */
export function tokenFailure(
  code: TokenFailureCode,
  message: string = TOKEN_FAILURE_MESSAGES[code],
  issuer?: string,
): TokenFailure {
  if (issuer === undefined) return { ok: false, code, message };
  const bounded = issuer.length > MAX_ISSUER_CHARS ? issuer.slice(0, MAX_ISSUER_CHARS) : issuer;
  return { ok: false, code, message, issuer: bounded };
}
