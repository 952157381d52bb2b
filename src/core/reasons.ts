// The closed set of reason codes every decision speaks in; transports map them to wire statuses.
import { TOKEN_FAILURE_CODES, type TokenFailureCode } from '../token/errors.js';

/** Reasons decided by the pipeline itself or by policy. */
export const DECISION_REASON_CODES = [
  'tenant_mismatch',
  'insufficient_scope',
  'delegation_required',
  'policy_denied',
  'internal_error',
  /** A proxy adapter (Envoy) found no route mapping for the method and path, and unmapped routes are denied. */
  'route_unmapped',
  /** The request itself is unusable (e.g. a body that does not parse as its content type says). */
  'request_invalid',
  /** The verified token matches a revocation entry (token, grant, user, agent, tenant or actor). */
  'revoked',
  /** A fail-closed audit sink cannot record the decision (its spool is full or unwritable), so it is not allowed. */
  'audit_unavailable',
] as const;

export type DecisionReasonCode = (typeof DECISION_REASON_CODES)[number];

/** Every reason code mandate can return. Closed: anything else a policy emits becomes `policy_denied`. */
export type ReasonCode = TokenFailureCode | DecisionReasonCode;

export const REASON_CODES: readonly ReasonCode[] = [
  ...TOKEN_FAILURE_CODES,
  ...DECISION_REASON_CODES,
];

const known = new Set<string>(REASON_CODES);

/**
 * Codes a policy may emit. Token and internal codes describe what the pipeline saw; a policy
 * claiming them would mislead callers, so they become `policy_denied` like any unknown code.
 */
const POLICY_CODES = new Set<string>([
  'insufficient_scope',
  'delegation_required',
  'tenant_mismatch',
  'policy_denied',
] satisfies ReasonCode[]);

/** Maps a code emitted by Rego into the closed set. */
export function policyReasonCode(code: unknown): ReasonCode {
  return typeof code === 'string' && POLICY_CODES.has(code)
    ? (code as ReasonCode)
    : 'policy_denied';
}

export function isReasonCode(code: unknown): code is ReasonCode {
  return typeof code === 'string' && known.has(code);
}

export interface Reason {
  readonly code: ReasonCode;
  readonly message: string;
  /** With `insufficient_scope`, when the policy names them: every scope the request needs. */
  readonly scopes?: readonly string[];
}

/** How a transport should present a denial: the caller's credentials are the problem, the caller lacks rights, the request is unusable, or mandate failed. */
export type ReasonClass = 'unauthenticated' | 'forbidden' | 'invalid' | 'unavailable';

/** One exhaustive map from code to class, so every transport answers the same way. */
export function classifyReason(code: ReasonCode): ReasonClass {
  switch (code) {
    case 'token_missing':
    case 'token_malformed':
    case 'token_expired':
    case 'token_not_yet_valid':
    case 'token_invalid_signature':
    case 'algorithm_not_allowed':
    case 'token_type_invalid':
    case 'issuer_unknown':
    case 'audience_mismatch':
    case 'claim_missing':
    case 'key_not_found':
    case 'token_binding_unverified':
    case 'claim_invalid':
    case 'revoked': // no longer valid: RFC 6750 `invalid_token`, like an expired token
      return 'unauthenticated';
    case 'jwks_unavailable':
    case 'internal_error':
    case 'audit_unavailable':
      return 'unavailable';
    case 'tenant_mismatch':
    case 'insufficient_scope':
    case 'delegation_required':
    case 'policy_denied':
    case 'route_unmapped':
      return 'forbidden';
    case 'request_invalid':
      return 'invalid';
  }
}
