// The `admin.jwt:` config section: admin callers may present a JWT from one configured issuer instead of a static token.
import { ConfigError } from './errors.js';
import { Section } from './reader.js';
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

/** Reads `admin.jwt`; `readIssuer` is the `issuers[]` reader, so both accept and check the same keys. */
export function readAdminJwt(s: Section, readIssuer: (s: Section) => IssuerConfig): AdminJwtConfig {
  const issuerKeys = Object.fromEntries(
    Object.entries(s.value).filter(([k]) => k !== 'required_scope' && k !== 'tenant_claim'),
  );
  const requiredScope = s.string('required_scope', 'mandate.admin');
  // RFC 6749 §3.3 scope-token characters: it is echoed inside a WWW-Authenticate quoted string.
  if (!/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(requiredScope)) {
    throw new ConfigError(s.key('required_scope'), 'must be one OAuth scope token');
  }
  return {
    issuer: readIssuer(new Section(s.path, issuerKeys)),
    requiredScope,
    tenantClaim: s.string('tenant_claim', 'tenant'),
  };
}
