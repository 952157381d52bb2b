// The audit record: one per decision, allow or deny, in a documented and versioned schema.

/** Bumped whenever a field changes meaning or disappears. */
export const AUDIT_SCHEMA_VERSION = 1;

/**
 * A decision record's shape key: records carrying the same key object have equal members but for
 * the per-decision ones (decision_id, time, latency_us, eval_ns, request_id, peer), so the audit
 * log may write one from another's JSON. A symbol: JSON, Object.keys and queries never see it.
 */
export const RECORD_SHAPE: unique symbol = Symbol('mandate.auditRecordShape');

/** The members every audit record opens with: what kind it is and its schema version. */
export interface AuditRecordHeader<T extends string> {
  readonly type: T;
  readonly schema_version: typeof AUDIT_SCHEMA_VERSION;
}

/** Who a decision or an exchange was about, as both record it. */
export interface AuditRecordSubject {
  /** The token's tenant (after the tenant guard), else the tenant the caller named. */
  readonly tenant?: string;
  readonly sub?: string;
  readonly client_id?: string;
  /**
   * Delegation chain, outermost actor first; an exchange records its subject token's whole chain,
   * though only the outermost actor is used for access control.
   */
  readonly act?: readonly string[];
}

/** The authenticated admin: `static` token (by fingerprint id) or `jwt` (its `sub`, and tenant if scoped). */
export interface AdminPrincipal {
  readonly kind: string;
  readonly id: string;
  readonly sub?: string;
  readonly tenant?: string;
}

export interface DecisionAuditRecord extends AuditRecordHeader<'decision'>, AuditRecordSubject {
  readonly [RECORD_SHAPE]?: object;
  readonly decision_id: string;
  /** RFC 3339 time the decision was made. */
  readonly time: string;
  readonly transport: string;
  readonly allow: boolean;
  readonly reasons: readonly { readonly code: string; readonly message: string }[];
  readonly action: string;
  readonly resource?: { readonly type: string; readonly id?: string };
  readonly scopes?: readonly string[];
  readonly iss?: string;
  readonly jti?: string;
  /** First 16 hex chars of SHA-256 of the raw token; the token itself is never recorded. */
  readonly token_hash?: string;
  /** Which policy layer decided, when policy ran. */
  readonly decided_by?: 'base' | 'tenant' | 'compat';
  /** Revisions of the policy units that ran. */
  readonly policy?: { readonly base?: string; readonly tenant?: string; readonly compat?: string };
  /** The policy outcome came from the decision cache (an equal question under the same units); no `eval_ns`. */
  readonly policy_cached?: true;
  readonly latency_us: number;
  readonly request_id?: string;
  /** Shadow mode: the decision was made and recorded, but the request was let through. */
  readonly dry_run?: true;
  /** Wasm evaluation time of the policy layers that ran, nanoseconds (OPA's `timer_rego_query_eval_ns`). */
  readonly eval_ns?: number;
  /** The caller's address as the transport saw it (OPA's `requested_by`). */
  readonly peer?: string;
  /**
   * An MCP message's facts (the proxy, or Envoy on an MCP path): its JSON-RPC `method` (absent for
   * a stream or session end, whose `action` says which), the `Mcp-Session-Id`, the resource's
   * canonical URI, the protocol version, and `listing: true` when the decision filtered an item of
   * a list answer. The tool, prompt or resource is `resource` (`{type: tool, id: <name>}`).
   */
  readonly mcp?: {
    readonly method?: string;
    readonly session_id?: string;
    readonly resource_uri?: string;
    readonly protocol_version?: string;
    readonly listing?: true;
  };
  /**
   * The policy input document (OPA's `input`); when policy did not run, what the request asked.
   * Never holds the raw token: credentials in it are erased before the record leaves memory.
   */
  readonly input?: object;
  /** JSON pointers erased by masking (OPA's `erased`), set off the request path. */
  readonly erased?: readonly string[];
  /** JSON pointers replaced by masking (OPA's `masked`), set off the request path. */
  readonly masked?: readonly string[];
  /** The revocation entry that denied the token (reason `revoked`); never in the caller's answer. */
  readonly revocation?: { readonly id: string; readonly kind: string };
}

/** One per admin API action (revocations, ...): who did what, when, and how it ended. */
export interface AdminAuditRecord extends AuditRecordHeader<'admin'> {
  /** Unique id of this admin action. */
  readonly admin_id: string;
  readonly time: string;
  /** What was attempted, e.g. `revocation.create`, `revocation.delete`, `revocation.list`. */
  readonly action: string;
  /** `ok`, or why nothing changed: `invalid` (400), `forbidden` (403), `not_found` (404), `unavailable` (503). */
  readonly outcome: 'ok' | 'invalid' | 'forbidden' | 'not_found' | 'unavailable';
  /** HTTP status answered. */
  readonly status: number;
  /** The tenant a tenant-scoped admin acted in (its principal's); absent for a platform admin. */
  readonly tenant?: string;
  readonly principal: AdminPrincipal;
  /** What the action was about, e.g. `{ revocation_id, kind, tenant, sub, issued_before }`. */
  readonly target?: Readonly<Record<string, unknown>>;
  /** The refusal message for non-`ok` outcomes. */
  readonly message?: string;
  readonly request_id?: string;
  /** The admin caller's address. */
  readonly peer?: string;
}

/** How one token exchange ended: a token (fresh or cached), a policy denial, or an authorization-server failure. */
export type ExchangeOutcome =
  | 'issued'
  | 'denied'
  | 'as_rejected'
  | 'as_unavailable'
  | 'as_timeout'
  | 'as_invalid_response'
  | 'internal_error';

/** One per token exchange (RFC 8693), next to the `decision` record of the check that gated it. */
export interface ExchangeAuditRecord extends AuditRecordHeader<'exchange'>, AuditRecordSubject {
  readonly exchange_id: string;
  /** The gating decision's id (also in its `decision` record). */
  readonly decision_id: string;
  readonly time: string;
  readonly transport: string;
  readonly outcome: ExchangeOutcome;
  readonly reasons?: readonly { readonly code: string; readonly message: string }[];
  /** mandate's own identity: the actor the exchange adds to the chain. */
  readonly actor?: string;
  readonly audience: string;
  readonly resource?: string;
  readonly scopes_requested: readonly string[];
  /** Scopes the authorization server granted (its `scope`, else the requested ones). */
  readonly scopes_granted?: readonly string[];
  /** HTTP status of the authorization server's answer; absent on a cache hit or when it was never reached. */
  readonly as_status?: number;
  /** The authorization server's OAuth error code (`invalid_target`, ...), when it refused. */
  readonly as_error?: string;
  /** `hit`: served from the cache; `shared`: joined an identical exchange in flight; `miss`: called the authorization server. */
  readonly cache?: 'hit' | 'miss' | 'shared';
  /** Fingerprint of the subject token (as `token_hash` in decision records). */
  readonly subject_token_hash?: string;
  /** Fingerprint of the issued token; the token itself is never recorded. */
  readonly issued_token_hash?: string;
  readonly expires_in?: number;
  readonly latency_us: number;
  readonly request_id?: string;
}

export type AuditRecord = DecisionAuditRecord | ExchangeAuditRecord | AdminAuditRecord;
