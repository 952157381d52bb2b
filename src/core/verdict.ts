// Verdicts: what a pipeline step concluded (allow, or deny with reasons in the closed set), before it becomes a Decision.
import type { PolicyOutcome } from '../policy/types.js';
import { intern } from '../lib/interned.js';
import type { DpopError } from '../token/dpop.js';
import { policyReasonCode, type Reason } from './reasons.js';

export interface Verdict {
  readonly allow: boolean;
  readonly reasons: readonly Reason[];
  /** Set on a DPoP proof or binding failure (see Decision.dpopError). */
  readonly dpopError?: DpopError;
}

export const ALLOW: Verdict = Object.freeze({ allow: true, reasons: Object.freeze([]) });

/** Shared and fixed: which entry matched goes to audit only, never to the caller. */
export const REVOKED: Verdict = Object.freeze({
  allow: false,
  reasons: Object.freeze([
    Object.freeze({ code: 'revoked' as const, message: 'the access token has been revoked' }),
  ]),
});

/** An allow that no fail-closed audit sink could record becomes this. */
export const AUDIT_UNAVAILABLE: Verdict = Object.freeze({
  allow: false,
  reasons: Object.freeze([
    Object.freeze({
      code: 'audit_unavailable' as const,
      message: 'the audit trail cannot record this decision right now, so it is not allowed',
    }),
  ]),
});

export function deny(code: Reason['code'], message: string): Verdict {
  return { allow: false, reasons: [{ code, message }] };
}

/** A DPoP proof or key binding that did not check out: `token_binding_unverified`, with RFC 9449's error code. */
export function denyBinding(dpopError: DpopError, message: string): Verdict {
  return { allow: false, reasons: [{ code: 'token_binding_unverified', message }], dpopError };
}

/** A policy's answer in the closed reason set: unknown codes become `policy_denied`, and a deny always has a reason. */
export function policyVerdict(result: {
  readonly allow: boolean;
  readonly reasons: readonly {
    readonly code: unknown;
    readonly message: unknown;
    readonly scopes?: readonly string[];
  }[];
}): Verdict {
  if (result.allow) return ALLOW;
  const reasons = result.reasons.map((r): Reason => {
    const code = policyReasonCode(r.code);
    const message = typeof r.message === 'string' ? r.message : '';
    return code === 'insufficient_scope' && r.scopes !== undefined
      ? { code, message, scopes: r.scopes }
      : { code, message };
  });
  return {
    allow: false,
    reasons:
      reasons.length > 0 ? reasons : [{ code: 'policy_denied', message: 'denied by policy' }],
  };
}

export interface OutcomeVerdicts {
  /** The verdict of a policy outcome; for a cached outcome, one interned verdict for every hit. */
  of(outcome: PolicyOutcome): Verdict;
}

/**
 * A cached outcome is one frozen object for every hit with that token and question, so its
 * verdict (and the reasons callers get) is made once, interned and shared; kept per outcome, so
 * it goes when the decision cache drops the outcome.
 */
export function createOutcomeVerdicts(): OutcomeVerdicts {
  const cachedVerdicts = new WeakMap<PolicyOutcome, Verdict>();
  return {
    of(outcome) {
      if (outcome.cached !== true) return policyVerdict(outcome);
      let verdict = cachedVerdicts.get(outcome);
      if (verdict === undefined) {
        const made = policyVerdict(outcome);
        verdict = intern({ allow: made.allow, reasons: intern(made.reasons) });
        cachedVerdicts.set(outcome, verdict);
      }
      return verdict;
    },
  };
}
