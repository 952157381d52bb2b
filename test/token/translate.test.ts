// jose errors → mandate codes: one switch, and non-jose errors are left to surface as bugs.
import { errors } from 'jose';
import { describe, expect, it } from 'vitest';
import { translateJoseError } from '../../src/token/translate.js';

const claimError = (claim: string, reason: string) =>
  new errors.JWTClaimValidationFailed('m', {}, claim, reason);

describe('translateJoseError', () => {
  it.each([
    [new errors.JWSInvalid(), 'token_malformed'],
    [new errors.JWTInvalid(), 'token_malformed'],
    [new errors.JWSSignatureVerificationFailed(), 'token_invalid_signature'],
    [new errors.JOSEAlgNotAllowed(), 'algorithm_not_allowed'],
    [new errors.JOSENotSupported(), 'algorithm_not_allowed'],
    [new errors.JWTExpired('m', {}, 'exp'), 'token_expired'],
    [claimError('nbf', 'check_failed'), 'token_not_yet_valid'],
    [claimError('iat', 'check_failed'), 'token_not_yet_valid'],
    [claimError('aud', 'check_failed'), 'audience_mismatch'],
    [claimError('iss', 'check_failed'), 'issuer_unknown'],
    [claimError('typ', 'check_failed'), 'token_type_invalid'],
    [claimError('client_id', 'missing'), 'claim_missing'],
    [claimError('exp', 'invalid'), 'token_malformed'],
    [new errors.JWKSNoMatchingKey(), 'key_not_found'],
    [new errors.JWKSMultipleMatchingKeys(), 'key_not_found'],
    [new errors.JWKSTimeout(), 'jwks_unavailable'],
    [new errors.JOSEError(), 'token_invalid_signature'],
  ])('%s → %s', (error, code) => {
    const failure = translateJoseError(error);
    expect(failure).toMatchObject({ ok: false, code });
  });

  it('names the missing claim without echoing anything else', () => {
    expect(translateJoseError(claimError('client_id', 'missing')).message).toBe(
      'required claim "client_id" is missing',
    );
    expect(translateJoseError(claimError('<script>', 'missing')).message).not.toContain('<');
  });

  it('re-throws errors that are not jose errors', () => {
    const bug = new TypeError('CryptoKey does not support this operation');
    expect(() => translateJoseError(bug)).toThrow(bug);
  });
});
