// The one exhaustive map from reason code to what a client is sent (by Envoy, by a token exchange): status and an RFC 6750 / RFC 9449 WWW-Authenticate.
import { classifyReason, type Reason } from '../core/reasons.js';
import { DPOP_PROOF_ALGORITHMS, type DpopError } from '../core/request.js';

/** How a denial is presented to the downstream client. */
export interface DenialPresentation {
  /** 400, 401, 403 or 503. */
  readonly status: 400 | 401 | 403 | 503;
  /** The `WWW-Authenticate` value on 401 and on a scope denial, per RFC 6750 §3 or RFC 9449 §7.1. */
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

/** How the token came, so the challenge speaks the scheme the client used. */
export interface ChallengeContext {
  /** The token's scheme; undefined when none came or the transport does not say (Bearer then). */
  readonly scheme?: 'bearer' | 'dpop';
  /** RFC 9449's error code when the denial is a DPoP proof or binding failure. */
  readonly dpopError?: DpopError;
}

/** RFC 9449 §7.1's `algs`: the proof algorithms accepted, space-separated. */
const DPOP_ALGS = `algs="${DPOP_PROOF_ALGORITHMS.join(' ')}"`;

/**
 * A challenge in the scheme the token came with: a token sent as `DPoP` is answered with a `DPoP`
 * challenge (its proof failures as `invalid_dpop_proof`), any other with `Bearer`.
 */
function challenge(context: ChallengeContext, error: string, params: string): string {
  if (context.scheme !== 'dpop') return `Bearer error="${error}", ${params}`;
  const code = error === 'invalid_token' ? (context.dpopError ?? error) : error;
  return `DPoP error="${code}", ${params}, ${DPOP_ALGS}`;
}

function invalidToken(reason: Reason, context: ChallengeContext): DenialPresentation {
  return {
    status: 401,
    wwwAuthenticate: challenge(
      context,
      'invalid_token',
      `error_description="${quotedParam(reason.message)}"`,
    ),
    internal: false,
  };
}

/**
 * Presentation of the first reason of a denial. `scope` is the scope to name in an
 * `insufficient_scope` challenge: the action itself, which by mandate's convention always grants it.
 */
export function presentDenial(
  reason: Reason,
  scope: string,
  context: ChallengeContext = {},
): DenialPresentation {
  // The status follows the shared class; only the challenge is this module's choice.
  switch (classifyReason(reason.code)) {
    case 'unauthenticated':
      // RFC 6750 §3.1: a request without credentials gets the bare challenge, no error code.
      if (reason.code === 'token_missing') {
        return { status: 401, wwwAuthenticate: 'Bearer', internal: false };
      }
      return invalidToken(reason, context);
    case 'forbidden':
      if (reason.code !== 'insufficient_scope') return { status: 403, internal: false };
      return {
        status: 403,
        wwwAuthenticate: challenge(
          context,
          'insufficient_scope',
          `error_description="${quotedParam(reason.message)}", scope="${quotedParam(scope)}"`,
        ),
        internal: false,
      };
    case 'invalid':
      return { status: 400, internal: false };
    case 'unavailable':
      return { status: 503, internal: true };
  }
}
