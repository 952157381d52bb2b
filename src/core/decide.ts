// The decision pipeline: verify → tenant guard → policy → decision, with exactly one audit record per decision.
import type { AuditSink } from '../audit/sink.js';
import type { CompatPolicy } from '../policy/compat-types.js';
import type { PolicyEngine } from '../policy/types.js';
import type { RevocationChecker } from '../revocation/types.js';
import { createRandomUuid } from '../lib/uuid.js';
import { createDpopVerifier, type DpopVerifier } from '../token/dpop.js';
import { tokenFingerprint } from '../token/fingerprint.js';
import type { TokenVerifier, VerifiedToken } from '../token/types.js';
import type { Decider, Decision } from './decision.js';
import { createDecisionMetrics, type DecisionInstruments } from './decision-metrics.js';
import { DEFAULT_MAX_NESTING_DEPTH, nestingMessage, nestsDeeperThan } from '../lib/nesting.js';
import { createPolicyStep } from './policy-step.js';
import type { AuthzRequest } from './request.js';
import { createSubjects } from './subject.js';
import { isDryRun, type DecideTerms } from './terms.js';
import { createTokenStep } from './token-step.js';
import type { Trail } from './trail.js';
import { AUDIT_UNAVAILABLE, deny, REVOKED, type Verdict } from './verdict.js';

export interface DeciderDeps {
  readonly verifier: TokenVerifier;
  readonly policy: PolicyEngine;
  readonly audit: AuditSink;
  /** Which claim names the token's tenant (`tenancy.claim`). */
  readonly tenancy: { readonly claim: string };
  readonly metrics?: DecisionInstruments;
  /** Evaluated instead of base AND tenant for decisions given a `compatDocument` (OPA-Envoy mode). */
  readonly compat?: CompatPolicy;
  /**
   * Revocations, checked on every decision right after verification — also for tokens served from
   * the verified-token cache, so a revocation takes effect on the next check. Default: none.
   */
  readonly revocation?: RevocationChecker;
  /** Receives unexpected exceptions (bugs); they become `internal_error` denials. */
  readonly onError?: (err: unknown, request: AuthzRequest) => void;
  /** Checks DPoP proofs for DPoP-bound tokens. Default: one with RFC 9449's usual windows. */
  readonly dpop?: DpopVerifier;
  /**
   * Deepest nesting accepted in `resource.attributes`, `context` and a compatibility document;
   * deeper requests are denied with `request_invalid` before anything walks them. Default 64.
   */
  readonly maxNestingDepth?: number;
}

/** decide(): nothing settled by the adapter. */
const NO_TERMS: DecideTerms = Object.freeze({});

export function createDecider(deps: DeciderDeps): Decider {
  const { verifier, policy, audit, tenancy } = deps;
  const dpop = deps.dpop ?? createDpopVerifier();
  const metrics = createDecisionMetrics(deps.metrics);
  const maxNestingDepth = deps.maxNestingDepth ?? DEFAULT_MAX_NESTING_DEPTH;
  const randomUuid = createRandomUuid();

  // Each step owns its memo tables, kept per interned object (claims, subject, outcome).
  const tokens = createTokenStep(verifier, dpop);
  const subjects = createSubjects(tenancy.claim);
  const policies = createPolicyStep({
    policy,
    metrics,
    ...(deps.compat ? { compat: deps.compat } : {}),
  });

  /** The verdict: token (and binding) first, then the guards on the verified subject, then policy. */
  function run(
    request: AuthzRequest,
    terms: DecideTerms,
    trail: Trail,
  ): Verdict | Promise<Verdict> {
    return tokens.run(request, trail, (verified) => afterToken(request, terms, verified, trail));
  }

  function afterToken(
    request: AuthzRequest,
    terms: DecideTerms,
    verified: VerifiedToken,
    trail: Trail,
  ): Verdict {
    const rawTenant = verified.claims[tenancy.claim];
    if (rawTenant !== undefined && typeof rawTenant !== 'string') {
      return deny('claim_missing', `the ${tenancy.claim} claim must be a string`);
    }
    const subject = subjects.of(verified);
    trail.subject = subject;
    if (deps.revocation !== undefined) {
      const revoked = deps.revocation.match(subject, verified.claims);
      if (revoked !== undefined) {
        trail.revocation = revoked;
        return REVOKED;
      }
    }
    if (request.tenant !== undefined && request.tenant !== subject.tenant) {
      return deny('tenant_mismatch', 'the requested tenant is not the token tenant');
    }
    if (terms.refusal !== undefined) return { allow: false, reasons: [terms.refusal] };
    if (terms.compatDocument !== undefined) {
      return policies.compat(request, terms.compatDocument, subject, verified, trail);
    }
    return policies.layered(request, subject, verified, trail);
  }

  return {
    decide: (request) => decideWith(request, NO_TERMS),
    decideWith,
  };

  function decideWith(request: AuthzRequest, terms: DecideTerms): Decision | Promise<Decision> {
    const started = process.hrtime.bigint();
    const trail: Trail = {};
    let verdict: Verdict | Promise<Verdict>;
    try {
      // Adapters bound nesting themselves (naming the field in their own error shape); this is
      // the guard for every caller, before the cache key, the policy input or audit recurse.
      const tooDeep = nestingFailure(request, terms, maxNestingDepth);
      if (tooDeep !== undefined) {
        trail.input = shallowInputOf(request);
        if (request.token) trail.tokenHash = tokenFingerprint(request.token);
        verdict = deny('request_invalid', tooDeep);
      } else {
        verdict = run(request, terms, trail);
      }
    } catch (err) {
      verdict = failed(err, request);
    }
    // A cached token is decided in this call, with no promise to wait for: one less turn of the
    // event loop's microtask queue per check (and the caller may answer synchronously).
    if (!(verdict instanceof Promise)) return finish(request, terms, trail, verdict, started);
    return verdict.then(
      (v) => finish(request, terms, trail, v, started),
      (err: unknown) => finish(request, terms, trail, failed(err, request), started),
    );
  }

  function failed(err: unknown, request: AuthzRequest): Verdict {
    deps.onError?.(err, request);
    return deny('internal_error', 'the decision could not be evaluated');
  }

  /** The decision, its audit record and its metrics; never throws. */
  function finish(
    request: AuthzRequest,
    terms: DecideTerms,
    trail: Trail,
    verdictIn: Verdict,
    started: bigint,
  ): Decision | Promise<Decision> {
    let verdict = verdictIn;
    // Fail closed on audit: an allow the trail cannot record is not given (O(1), no I/O).
    if (verdict.allow && audit.admits !== undefined && !audit.admits()) {
      verdict = AUDIT_UNAVAILABLE;
    }
    const latencyUs = Number(process.hrtime.bigint() - started) / 1000;
    const dryRun = isDryRun(terms.dryRun, trail.subject?.tenant);
    const decision: Decision = {
      allow: verdict.allow,
      decisionId: randomUuid(),
      reasons: verdict.reasons,
      subject: trail.subject,
      decidedBy: trail.compat ? 'compat' : trail.outcome?.decidedBy,
      policyResult: trail.compat?.result,
      dpopError: verdict.dpopError,
      dryRun: dryRun ? true : undefined,
      latencyUs,
    };
    let committed: Promise<void> | undefined;
    try {
      audit.writeDecision({ asked: request, decided: decision, learned: trail });
      // answer_after_write: the answer leaves once its record is on disk, so the transports,
      // which answer when this settles, need not know about audit.
      committed = audit.committed?.();
      metrics.decision(
        decision.allow ? 'allow' : 'deny',
        decision.reasons[0]?.code ?? 'none',
        request.transport,
        latencyUs,
      );
    } catch (err) {
      // Audit and metrics failures never change a decision; they are reported, not thrown.
      deps.onError?.(err, request);
    }
    if (committed === undefined) return decision;
    return committed.then(
      () => decision,
      // A record that did not reach the disk cannot back an allow: fail closed, same decision id.
      (): Decision =>
        decision.allow
          ? { ...decision, allow: false, reasons: AUDIT_UNAVAILABLE.reasons }
          : decision,
    );
  }
}

/** The first of the request's free-form documents nested past `max`, named as callers know it. */
function nestingFailure(
  request: AuthzRequest,
  terms: DecideTerms,
  max: number,
): string | undefined {
  // Checked one by one, with nothing allocated: this runs on every decision.
  if (nestsDeeperThan(request.resource?.attributes, max)) {
    return nestingMessage('resource.attributes', max);
  }
  if (nestsDeeperThan(request.context, max)) return nestingMessage('context', max);
  if (nestsDeeperThan(terms.compatDocument, max)) return nestingMessage('input', max);
  return undefined;
}

/** The audit `input` of a request refused for its nesting: what was asked, without the documents. */
function shallowInputOf(request: AuthzRequest): object {
  const { resource } = request;
  return {
    action: request.action,
    ...(resource ? { resource: { type: resource.type, id: resource.id } } : {}),
    ...(request.tenant !== undefined ? { tenant: request.tenant } : {}),
    transport: request.transport,
  };
}
