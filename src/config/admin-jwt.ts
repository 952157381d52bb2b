// The `admin.jwt:` config section: admin callers may present a JWT from one configured issuer instead of a static token.
import { resolveIssuer } from './issuer.js';
import type { AdminJwtFile } from './schema/root.js';
import type { IssuerConfig } from './types.js';

export interface AdminJwtConfig {
  /** The admin issuer: same keys as an `issuers[]` entry (keys, audiences, algorithms, ...). */
  readonly issuer: IssuerConfig;
  /** A scope the token must carry (in `scope` or `scp`). Default `mandate.admin`. */
  readonly requiredScope: string;
  /**
   * Claim naming the one tenant this admin may act in. When the token carries it, the admin is
   * tenant-scoped; without it, the admin may act in every tenant. Default `tenant`.
   */
  readonly tenantClaim: string;
}

/** Resolves a validated `admin.jwt`: an issuer entry plus the scope and tenant claim. */
export function resolveAdminJwt(raw: AdminJwtFile, at: (p: string) => string): AdminJwtConfig {
  const { required_scope, tenant_claim, ...issuer } = raw;
  return {
    issuer: resolveIssuer('admin.jwt', issuer, at),
    requiredScope: required_scope,
    tenantClaim: tenant_claim,
  };
}
