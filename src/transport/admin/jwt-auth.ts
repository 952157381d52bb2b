// Admin authentication: static tokens first, then admin JWTs from the configured admin issuer with a required scope.
import { scopesOf } from '../../core/subject.js';
import type { TokenVerifier } from '../../core/token-step.js';
import type { AdminAuthenticator, AdminAuthResult } from './auth.js';

export interface JwtAdminOptions {
  /** A verifier trusting only the admin issuer (its own keys, audiences and algorithms). */
  readonly verifier: TokenVerifier;
  /** Scope the token must carry, e.g. `mandate.admin`. */
  readonly requiredScope: string;
  /** Claim that makes the admin tenant-scoped when present. */
  readonly tenantClaim: string;
}

/** A compact JWS has exactly two dots; static tokens are tried first, so this only routes. */
function looksLikeJwt(bearer: string): boolean {
  const first = bearer.indexOf('.');
  return first > 0 && bearer.indexOf('.', first + 1) > first + 1;
}

/**
 * The admin API takes bearer tokens only: it checks no DPoP proof (nor mTLS binding), so a
 * sender-constrained admin JWT would be usable by whoever holds a copy. It is refused, unless the
 * admin issuer says `sender_constrained: accept` (its proofs are checked in front of mandate).
 */
const BOUND: AdminAuthResult = {
  refused: 'token_bound',
  message:
    'authorization: the admin token is bound to a key (cnf) and the admin API checks no proof of possession; use an unbound admin token',
};

/**
 * Static tokens are checked first (in constant time); a bearer no static token matches and that
 * looks like a JWT is verified against the admin issuer. A verified JWT without the scope is a
 * refusal (403); a JWT that does not verify, or is bound to a key, is unauthenticated (401).
 */
export function createAdminAuthenticator(
  staticTokens: AdminAuthenticator,
  jwt: JwtAdminOptions | undefined,
): AdminAuthenticator {
  if (jwt === undefined) return staticTokens;
  return {
    async authenticate(bearer): Promise<AdminAuthResult> {
      const fromStatic = await staticTokens.authenticate(bearer);
      if (fromStatic !== undefined || bearer === undefined || !looksLikeJwt(bearer)) {
        return fromStatic;
      }
      const verified = await jwt.verifier.verify(bearer);
      if (!verified.ok) return verified.code === 'token_binding_unverified' ? BOUND : undefined;
      // A DPoP binding passes verification to be checked per request against its proof; here
      // there is none to check.
      if (verified.dpopJkt !== undefined) return BOUND;
      const sub = verified.claims['sub'];
      const tenant = verified.claims[jwt.tenantClaim];
      if (typeof sub !== 'string' || sub.length === 0) return undefined;
      // A tenant claim that is not a plain string cannot scope anything: refuse rather than widen.
      if (tenant !== undefined && (typeof tenant !== 'string' || tenant.length === 0)) {
        return undefined;
      }
      if (!scopesOf(verified.claims).includes(jwt.requiredScope)) {
        return {
          refused: 'insufficient_scope',
          message: `authorization: the admin token lacks the scope ${jwt.requiredScope}`,
        };
      }
      return {
        kind: 'jwt',
        id: `jwt:${sub}`,
        sub,
        ...(typeof tenant === 'string' ? { tenant } : {}),
      };
    },
  };
}
