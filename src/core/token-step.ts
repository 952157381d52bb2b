// The token step: verification (at once for a cached token) and the DPoP binding of RFC 9449, before anything else is looked at.
import { dpopKeyOf } from '../token/claims.js';
import type { DpopVerifier } from '../token/dpop.js';
import { tokenFingerprint } from '../token/fingerprint.js';
import type { TokenVerifier, VerifiedToken, VerifyResult } from '../token/types.js';
import type { AuthzRequest } from './request.js';
import type { Trail } from './trail.js';
import { deny, denyBinding, type Verdict } from './verdict.js';

/** The verifier contract, for adapters that verify tokens of their own (admin JWTs). */
export type { TokenVerifier } from '../token/types.js';

export interface TokenStep {
  /**
   * Verifies the request's token and its binding, then continues with `next`: at once when the
   * token's answer is already known (the verified-token cache), else once verification ends. A
   * refused token is the verdict, and `next` never runs.
   */
  run(
    request: AuthzRequest,
    trail: Trail,
    next: (verified: VerifiedToken) => Verdict,
  ): Verdict | Promise<Verdict>;
}

export function createTokenStep(verifier: TokenVerifier, dpop: DpopVerifier): TokenStep {
  function afterVerify(
    request: AuthzRequest,
    token: string,
    verified: VerifyResult,
    trail: Trail,
    next: (verified: VerifiedToken) => Verdict,
  ): Verdict | Promise<Verdict> {
    if (!verified.ok) {
      if (verified.issuer !== undefined) trail.issuer = verified.issuer;
      trail.tokenHash = tokenFingerprint(token);
      return deny(verified.code, verified.message);
    }
    trail.token = verified;
    trail.tokenHash = verified.tokenHash;
    trail.issuer = verified.issuer;
    // A DPoP-bound token is only as good as this request's proof by its key (RFC 9449).
    const jkt = verified.dpopJkt;
    const evidence = request.dpop;
    // RFC 9449 §7.1: the DPoP scheme says the token is DPoP-bound; one that is not is no proof of
    // anything and must not pass as a bearer token under it.
    if (evidence?.scheme === 'dpop' && dpopKeyOf(verified.claims) === undefined) {
      return denyBinding(
        'invalid_token',
        'the DPoP scheme was used with a token that is not DPoP-bound (no cnf.jkt)',
      );
    }
    // Not bound, or bound and its issuer accepts bound tokens as bearer tokens.
    if (jkt === undefined) return next(verified);
    if (evidence === undefined) {
      return deny(
        'token_binding_unverified',
        'the token is DPoP-bound and no DPoP proof came with it',
      );
    }
    return dpop
      .verify(evidence, token, jkt)
      .then((failure) =>
        failure === undefined ? next(verified) : denyBinding(failure.error, failure.message),
      );
  }

  return {
    run(request, trail, next) {
      const token = request.token;
      if (token === undefined || token.length === 0) {
        return deny('token_missing', 'no access token was presented');
      }
      const known = verifier.peek(token);
      if (known !== undefined) return afterVerify(request, token, known, trail, next);
      return verifier
        .verify(token)
        .then((verified) => afterVerify(request, token, verified, trail, next));
    },
  };
}
