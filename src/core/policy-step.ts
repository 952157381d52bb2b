// The policy step: base AND tenant over the policy input (with the decision cache), or the compatibility policy over an adapter's document.
import type { CompatPolicy } from '../policy/compat-types.js';
import type { PolicyEngine } from '../policy/types.js';
import type { VerifiedToken } from '../token/types.js';
import type { Subject } from './decision.js';
import type { DecisionMetrics } from './decision-metrics.js';
import { createPolicyInputs } from './policy-input.js';
import { createQuestionKeys } from './question-key.js';
import type { AuthzRequest } from './request.js';
import type { Trail } from './trail.js';
import { createOutcomeVerdicts, deny, policyVerdict, type Verdict } from './verdict.js';

export interface PolicyStepDeps {
  readonly policy: PolicyEngine;
  /** Evaluated instead of base AND tenant when an adapter hands over a compatibility document. */
  readonly compat?: CompatPolicy;
  readonly metrics: DecisionMetrics;
}

export interface PolicyStep {
  /** Base AND tenant over the request's policy input; the outcome may come from the decision cache. */
  layered(request: AuthzRequest, subject: Subject, verified: VerifiedToken, trail: Trail): Verdict;
  /** The compatibility policy over `document` plus what the pipeline verified. */
  compat(
    request: AuthzRequest,
    document: Readonly<Record<string, unknown>>,
    subject: Subject,
    verified: VerifiedToken,
    trail: Trail,
  ): Verdict;
}

/** A policy step with its own memo tables (input subjects, question keys, cached verdicts). */
export function createPolicyStep(deps: PolicyStepDeps): PolicyStep {
  const { policy, metrics } = deps;
  const inputs = createPolicyInputs();
  const questionKeys = createQuestionKeys();
  const verdicts = createOutcomeVerdicts();
  return {
    layered(request, subject, verified, trail) {
      const input = inputs.of(request, subject, verified.claims);
      trail.input = input;
      const key = questionKeys.keyOf(request, verified.claims);
      const outcome = policy.evaluate(
        subject.tenant,
        input,
        key === undefined ? undefined : { owner: verified.claims, key },
      );
      trail.outcome = outcome;
      if (outcome.cached !== true) {
        metrics.policyEval('base', outcome.base.evalNs);
        if (outcome.tenant) metrics.policyEval('tenant', outcome.tenant.evalNs);
        return policyVerdict(outcome);
      }
      return verdicts.of(outcome);
    },
    compat(request, document, subject, verified, trail) {
      const compat = deps.compat;
      if (compat === undefined) {
        return deny('internal_error', 'no compatibility policy is configured for this request');
      }
      const base = inputs.of(request, subject, verified.claims);
      const input = {
        ...document,
        action: base.action,
        ...(base.tenant !== undefined ? { tenant: base.tenant } : {}),
        subject: base.subject,
        token: verified.claims,
      };
      trail.input = input;
      const result = compat.evaluate(input);
      trail.compat = result;
      metrics.policyEval('compat', result.evalNs);
      return policyVerdict(result);
    },
  };
}
