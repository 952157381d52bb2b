// The one decision every adapter turns back into its wire format.
import type { DpopError } from '../token/dpop.js';
import type { Reason } from './reasons.js';
import type { AuthzRequest } from './request.js';
import type { DecideTerms } from './terms.js';

/** The normalised identity behind a token, as policies and callers see it. */
export interface Subject {
  readonly sub?: string;
  readonly tenant?: string;
  readonly clientId?: string;
  readonly scopes: readonly string[];
  /** The `act` delegation chain as actor subjects, outermost (current actor) first. */
  readonly act: readonly string[];
  readonly issuer?: string;
}

export interface Decision {
  readonly allow: boolean;
  /** Unique id, also in the audit record and returned to the caller. */
  readonly decisionId: string;
  /** Empty on allow; on deny at least one reason. */
  readonly reasons: readonly Reason[];
  /** Present once the token verified. */
  readonly subject?: Subject;
  /** Which policy layer decided, when policy ran (`compat` when a compatibility document was evaluated). */
  readonly decidedBy?: 'base' | 'tenant' | 'compat';
  /**
   * The compatibility policy's result as it answered (a boolean or an object such as OPA-Envoy's
   * `{allowed, headers, body, http_status, ...}`), for adapters that shape their answer from it.
   */
  readonly policyResult?: unknown;
  /**
   * On a denial because a DPoP proof or binding did not check out, RFC 9449 §7.1's error code:
   * adapters answering a token sent with the DPoP scheme put it in their `DPoP` challenge.
   */
  readonly dpopError?: DpopError;
  /** Shadow mode (see DryRunRule): the adapter lets the request through whatever `allow` says. */
  readonly dryRun?: true;
  /** Wall time of decide() in microseconds. */
  readonly latencyUs: number;
}

export interface Decider {
  /**
   * Never throws and never rejects: any failure is a deny with `internal_error`. A decision that
   * needs nothing asynchronous (a cached token) comes back as is, not wrapped in a promise.
   */
  decide(request: AuthzRequest): Decision | Promise<Decision>;
  /** decide() under what the request's adapter settled itself (see {@link DecideTerms}). */
  decideWith(request: AuthzRequest, terms: DecideTerms): Decision | Promise<Decision>;
}
