// Authenticates admin callers: static bearer tokens compared in constant time. Never logs the presented token.
import { createHash, timingSafeEqual } from 'node:crypto';

/** Who made an admin call, for authorization decisions and the admin audit trail. */
export interface AdminPrincipal {
  /** `static` for a configured token, `jwt` for an admin JWT from the configured admin issuer. */
  readonly kind: 'static' | 'jwt';
  /** Stable, non-secret name: `token:<first 8 hex of its SHA-256>`, or `jwt:<sub>`. */
  readonly id: string;
  /** The admin JWT's `sub`. */
  readonly sub?: string;
  /** A tenant-scoped admin may act only within this tenant; undefined means every tenant. */
  readonly tenant?: string;
}

/**
 * A credential that may not use the admin API: an admin JWT without the required scope (403), or
 * one bound to a key (`cnf`), whose proof of possession the admin API does not check (401).
 */
export interface AdminRefusal {
  readonly refused: 'insufficient_scope' | 'token_bound';
  /** Safe to return: names the missing scope or the binding, never token material. */
  readonly message: string;
}

/** A principal, a refusal (403 or 401), or undefined when the credential is missing or wrong (401). */
export type AdminAuthResult = AdminPrincipal | AdminRefusal | undefined;

export interface AdminAuthenticator {
  authenticate(bearer: string | undefined): AdminAuthResult | Promise<AdminAuthResult>;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export function createStaticAdminAuthenticator(tokens: readonly string[]): AdminAuthenticator {
  // Comparing fixed-length digests keeps timingSafeEqual's equal-length rule from leaking token lengths.
  const known = tokens.map((token) => {
    const d = digest(token);
    return {
      digest: d,
      principal: { kind: 'static', id: `token:${d.toString('hex').slice(0, 8)}` } as const,
    };
  });
  return {
    authenticate(bearer) {
      if (bearer === undefined) return undefined;
      const presented = digest(bearer);
      let match: AdminPrincipal | undefined;
      // Check every token, so the time taken does not depend on which one matched.
      for (const k of known) if (timingSafeEqual(k.digest, presented)) match = k.principal;
      return match;
    },
  };
}
