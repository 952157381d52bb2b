// The audit record: one per decision, allow or deny, in a documented and versioned schema.

/** Bumped whenever a field changes meaning or disappears. */
export const AUDIT_SCHEMA_VERSION = 1;

export interface DecisionAuditRecord {
  readonly type: 'decision';
  readonly schema_version: typeof AUDIT_SCHEMA_VERSION;
  readonly decision_id: string;
  /** RFC 3339 time the decision was made. */
  readonly time: string;
  readonly transport: string;
  readonly allow: boolean;
  readonly reasons: readonly { readonly code: string; readonly message: string }[];
  readonly action: string;
  readonly resource?: { readonly type: string; readonly id?: string };
  /** The token's tenant (after the tenant guard), else the tenant the caller named. */
  readonly tenant?: string;
  readonly sub?: string;
  readonly client_id?: string;
  /** Delegation chain, outermost actor first. */
  readonly act?: readonly string[];
  readonly scopes?: readonly string[];
  readonly iss?: string;
  readonly jti?: string;
  /** First 16 hex chars of SHA-256 of the raw token; the token itself is never recorded. */
  readonly token_hash?: string;
  /** Which policy layer decided, when policy ran. */
  readonly decided_by?: 'base' | 'tenant';
  /** Revisions of the policy units that ran. */
  readonly policy?: { readonly base?: string; readonly tenant?: string };
  readonly latency_us: number;
  readonly request_id?: string;
}

export type AuditRecord = DecisionAuditRecord;
