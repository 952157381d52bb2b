// Checks the registered claims of a signature-verified token, in mandate's documented order.
import { tokenFailure, type TokenFailure } from './errors.js';

/** One issuer's claim rules, prepared once when the verifier is built. */
export interface ClaimRules {
  readonly audiences: readonly string[];
  readonly clockToleranceSeconds: number;
  readonly requiredClaims: readonly string[];
  /**
   * Accept a sender-constrained token (one with a `cnf` claim: DPoP, mTLS) as a bearer token.
   * Off by default: a DPoP binding is then checked per request against its proof, and any other
   * binding, which mandate cannot check, is refused.
   */
  readonly acceptBoundTokens?: boolean;
  /** Only DPoP-bound tokens (`cnf.jkt`) are accepted: a resource that requires proof of possession. */
  readonly requireDpopBinding?: boolean;
}

/**
 * Returns the first failing check, or undefined when the claims are acceptable:
 * `exp` (always required: the verified-token cache relies on it), `nbf`, `iat` (not in the
 * future beyond tolerance; jose checks it only with maxTokenAge, hence our own checks), `aud`,
 * then the issuer's required claims, then the shape of a delegation chain (`act`: malformed, it
 * would hide its actors from actor revocation and agent rules), then a key binding (`cnf`) unless the issuer accepts bound
 * tokens as bearer tokens: a DPoP binding passes here and is checked per request against its
 * proof (see VerifiedToken.dpopJkt), any other is refused; last, when the rules require it, a
 * DPoP binding at all.
 */
export function checkClaims(
  claims: Readonly<Record<string, unknown>>,
  rules: ClaimRules,
  nowMs: number,
): TokenFailure | undefined {
  const now = nowMs / 1000;
  const tolerance = rules.clockToleranceSeconds;

  const { exp, nbf, iat, aud } = claims;
  if (exp === undefined) return tokenFailure('claim_missing', 'required claim "exp" is missing');
  if (!isNumericDate(exp)) return tokenFailure('token_malformed', '"exp" must be a number');
  if (exp <= now - tolerance) return tokenFailure('token_expired');

  if (nbf !== undefined) {
    if (!isNumericDate(nbf)) return tokenFailure('token_malformed', '"nbf" must be a number');
    if (nbf > now + tolerance) return tokenFailure('token_not_yet_valid');
  }
  if (iat !== undefined) {
    if (!isNumericDate(iat)) return tokenFailure('token_malformed', '"iat" must be a number');
    if (iat > now + tolerance) {
      return tokenFailure('token_not_yet_valid', 'the access token was issued in the future');
    }
  }

  if (!audienceMatches(aud, rules.audiences)) return tokenFailure('audience_mismatch');

  for (const claim of rules.requiredClaims) {
    if (!Object.hasOwn(claims, claim)) {
      // The name comes from configuration, never from the token, so it is safe to echo.
      return tokenFailure('claim_missing', `required claim "${claim}" is missing`);
    }
  }
  const act = claims['act'];
  if (act !== undefined && !isActChain(act)) {
    // The message is fixed: nothing of the token's own value is echoed.
    return tokenFailure(
      'claim_invalid',
      `"act" must be an object with a "sub" string at every level (at most ${MAX_ACT_DEPTH} levels)`,
    );
  }
  if (claims['cnf'] !== undefined && rules.acceptBoundTokens !== true) {
    // A DPoP binding alone is checked per request (dpopKeyOf); any other cannot be checked here.
    if (dpopKeyOf(claims) === undefined) return tokenFailure('token_binding_unverified');
  }
  if (rules.requireDpopBinding === true && dpopKeyOf(claims) === undefined) {
    return tokenFailure(
      'token_binding_unverified',
      'only DPoP-bound tokens (cnf.jkt) are accepted here',
    );
  }
  return undefined;
}

/** Deeper delegation chains are refused: nobody delegates 32 hops, and walking input must be bounded. */
export const MAX_ACT_DEPTH = 32;

/**
 * True when `act` is an RFC 8693 §4.1 actor chain mandate can read whole: at every level a JSON
 * object (not an array or null) whose `sub` is a non-empty string, and whose `act`, when present,
 * is again such an object, at most MAX_ACT_DEPTH levels deep. Anything else would leave an actor
 * out of `subject.act`, so the token is refused rather than read in part.
 */
export function isActChain(act: unknown): boolean {
  let level: unknown = act;
  for (let depth = 0; depth < MAX_ACT_DEPTH; depth++) {
    if (typeof level !== 'object' || level === null || Array.isArray(level)) return false;
    const actor = level as Record<string, unknown>;
    const sub = actor['sub'];
    if (typeof sub !== 'string' || sub.length === 0) return false;
    if (!Object.hasOwn(actor, 'act')) return true;
    level = actor['act'];
  }
  return false;
}

/** The DPoP key thumbprint of a token bound to nothing else (`cnf` is exactly `{jkt}`). */
export function dpopKeyOf(claims: Readonly<Record<string, unknown>>): string | undefined {
  const cnf = claims['cnf'];
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf)) return undefined;
  const members = Object.keys(cnf);
  const jkt = (cnf as Record<string, unknown>)['jkt'];
  return members.length === 1 && typeof jkt === 'string' && jkt !== '' ? jkt : undefined;
}

function isNumericDate(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function audienceMatches(aud: unknown, audiences: readonly string[]): boolean {
  if (typeof aud === 'string') return audiences.includes(aud);
  if (!Array.isArray(aud)) return false;
  for (const entry of aud) if (typeof entry === 'string' && audiences.includes(entry)) return true;
  return false;
}
