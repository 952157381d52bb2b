// The one exhaustive map from reason code to what Envoy sends the client: status and RFC 6750 WWW-Authenticate.
import type { Reason, ReasonCode } from '../core/reasons.js';

/** How a denial is presented to the downstream client. */
export interface DenialPresentation {
  /** 400, 401, 403 or 503. */
  readonly status: 400 | 401 | 403 | 503;
  /** The `WWW-Authenticate` value on 401 and on a scope denial, per RFC 6750 §3. */
  readonly wwwAuthenticate?: string;
  /** True when mandate itself failed (the `error_response` mode turns these into errors). */
  readonly internal: boolean;
}

/**
 * RFC 6750 §3 limits error_description to printable ASCII without `"` and `\`; anything else is
 * replaced rather than escaped, so no client parser can be confused by it.
 */
export function quotedParam(text: string): string {
  return text.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, '?').slice(0, 300);
}

function invalidToken(reason: Reason): DenialPresentation {
  return {
    status: 401,
    wwwAuthenticate: `Bearer error="invalid_token", error_description="${quotedParam(reason.message)}"`,
    internal: false,
  };
}

/**
 * Presentation of the first reason of a denial. `scope` is the scope to name in an
 * `insufficient_scope` challenge: the action itself, which by mandate's convention always grants it.
 */
export function presentDenial(reason: Reason, scope: string): DenialPresentation {
  const code: ReasonCode = reason.code;
  switch (code) {
    case 'token_missing':
      // RFC 6750 §3.1: a request without credentials gets the bare challenge, no error code.
      return { status: 401, wwwAuthenticate: 'Bearer', internal: false };
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
    case 'revoked': // no longer valid: RFC 6750 treats it like an expired token
      return invalidToken(reason);
    case 'insufficient_scope':
      return {
        status: 403,
        wwwAuthenticate: `Bearer error="insufficient_scope", error_description="${quotedParam(reason.message)}", scope="${quotedParam(scope)}"`,
        internal: false,
      };
    case 'tenant_mismatch':
    case 'delegation_required':
    case 'policy_denied':
    case 'route_unmapped':
      return { status: 403, internal: false };
    case 'request_invalid':
      return { status: 400, internal: false };
    case 'jwks_unavailable':
    case 'internal_error':
    case 'audit_unavailable':
      return { status: 503, internal: true };
  }
}
