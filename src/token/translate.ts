// The one place jose's error codes become mandate's token failure codes.
import { errors } from 'jose';
import { tokenFailure, type TokenFailure } from './errors.js';

/**
 * Translates an error thrown by jose into a failure value.
 *
 * Anything that is not a jose error (a `TypeError` from a key/algorithm mismatch, a bug) is
 * re-thrown: it is not the caller's fault, and the pipeline turns it into `internal_error`.
 */
export function translateJoseError(error: unknown): TokenFailure {
  if (!(error instanceof errors.JOSEError)) throw error;
  switch (error.code) {
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
    case 'ERR_JWE_INVALID':
    case 'ERR_JWE_DECRYPTION_FAILED':
      return tokenFailure('token_malformed');
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return tokenFailure('token_invalid_signature');
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return tokenFailure('algorithm_not_allowed');
    case 'ERR_JOSE_NOT_SUPPORTED':
      // An unsupported `alg` or an unrecognised `crit` extension: either way not a token we accept.
      return tokenFailure('algorithm_not_allowed');
    case 'ERR_JWT_EXPIRED':
      return tokenFailure('token_expired');
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return translateClaimFailure(error as errors.JWTClaimValidationFailed);
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
    case 'ERR_JWK_INVALID':
      return tokenFailure('key_not_found');
    case 'ERR_JWKS_INVALID':
    case 'ERR_JWKS_TIMEOUT':
      return tokenFailure('jwks_unavailable');
    default:
      // ERR_JOSE_GENERIC or a code added by a later jose: the token was not verified, so refuse it.
      return tokenFailure('token_invalid_signature', 'the access token could not be verified');
  }
}

function translateClaimFailure(error: errors.JWTClaimValidationFailed): TokenFailure {
  if (error.reason === 'missing') {
    return tokenFailure(
      'claim_missing',
      `required claim "${safeClaimName(error.claim)}" is missing`,
    );
  }
  switch (error.claim) {
    case 'nbf':
    case 'iat':
      return tokenFailure('token_not_yet_valid');
    case 'aud':
      return tokenFailure('audience_mismatch');
    case 'iss':
      return tokenFailure('issuer_unknown');
    case 'typ':
      return tokenFailure('token_type_invalid');
    default:
      return tokenFailure('token_malformed');
  }
}

/** jose names only claims it was asked about, but keep the message bounded and printable anyway. */
function safeClaimName(claim: string): string {
  return /^[\w.:-]{1,64}$/.test(claim) ? claim : 'claim';
}
