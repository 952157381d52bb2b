// The decision pipeline: verify → tenant guard → policy → decision, with exactly one audit record per decision.
import type { AuditSink } from '../audit/sink.js';
import type { TenancyConfig } from '../config/types.js';
import type { Metrics } from '../metrics/registry.js';
import type { CompatPolicy } from '../policy/compat-types.js';
import type { PolicyEngine } from '../policy/types.js';
import type { RevocationChecker } from '../revocation/types.js';
import { createRandomUuid } from '../lib/uuid.js';
import { dpopKeyOf } from '../token/claims.js';
import { createDpopVerifier, type DpopVerifier } from '../token/dpop.js';
import { tokenFingerprint } from '../token/fingerprint.js';
import type { TokenVerifier, VerifiedToken, VerifyResult } from '../token/types.js';
import type { Decider, Decision, Subject } from './decision.js';
import { createDecisionMetrics } from './decision-metrics.js';
import { DEFAULT_MAX_NESTING_DEPTH, nestingMessage, nestsDeeperThan } from '../lib/nesting.js';
import { createPolicyInputs } from './policy-input.js';
import { createQuestionKeys } from './question-key.js';
import type { AuthzRequest } from './request.js';
import { createSubjects } from './subject.js';
import { isDryRun, type DecideTerms } from './terms.js';
import type { Trail } from './trail.js';
import {
  AUDIT_UNAVAILABLE,
  createOutcomeVerdicts,
  deny,
  denyBinding,
  policyVerdict,
  REVOKED,
  type Verdict,
} from './verdict.js';

export interface DeciderDeps {
  readonly verifier: TokenVerifier;
  readonly policy: PolicyEngine;
  readonly audit: AuditSink;
  readonly tenancy: TenancyConfig;
  readonly metrics?: Metrics;
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

  // Memo tables of this decider, each kept per interned object (claims, subject, outcome).
  const subjects = createSubjects(tenancy.claim);
  const inputs = createPolicyInputs();
  const questionKeys = createQuestionKeys();
  const verdicts = createOutcomeVerdicts();

  /** The compatibility policy over the adapter's document plus what the pipeline verified. */
  function runCompat(
    request: AuthzRequest,
    document: Readonly<Record<string, unknown>>,
    subject: Subject,
    verified: VerifiedToken,
    trail: Trail,
  ): Verdict {
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
  }

  /**
   * The verdict: at once when the token's answer is already known (the verified-token cache), else
   * once verification ends. Synchronous throws and rejections both reach decide()'s fail-closed path.
   */
  function run(
    request: AuthzRequest,
    terms: DecideTerms,
    trail: Trail,
  ): Verdict | Promise<Verdict> {
    const token = request.token;
    if (token === undefined || token.length === 0) {
      return deny('token_missing', 'no access token was presented');
    }
    const known = verifier.peek(token);
    if (known !== undefined) return afterVerify(request, terms, token, known, trail);
    return verifier
      .verify(token)
      .then((verified) => afterVerify(request, terms, token, verified, trail));
  }

  function afterVerify(
    request: AuthzRequest,
    terms: DecideTerms,
    token: string,
    verified: VerifyResult,
    trail: Trail,
  ): Verdict | Promise<Verdict> {
    if (!verified.ok) {
      if (verified.issuer !== undefined) trail.issuer = verified.issuer;
      trail.tokenHash = tokenFingerprint(token);
      return deny(verified.code, verified.message);
    }
    trail.token = verified;
    trail.tokenHash = verified.tokenHash;
    trail.issuer = verified.issuer;
    // A DPoP-bound token is only as good as this request's proof by its key (RFC 9449).
    const jkt = verified.dpopJkt;
    const evidence = request.dpop;
    // RFC 9449 §7.1: the DPoP scheme says the token is DPoP-bound; one that is not is no proof of
    // anything and must not pass as a bearer token under it.
    if (evidence?.scheme === 'dpop' && dpopKeyOf(verified.claims) === undefined) {
      return denyBinding(
        'invalid_token',
        'the DPoP scheme was used with a token that is not DPoP-bound (no cnf.jkt)',
      );
    }
    // Not bound, or bound and its issuer accepts bound tokens as bearer tokens.
    if (jkt === undefined) return afterBinding(request, terms, verified, trail);
    if (evidence === undefined) {
      return deny(
        'token_binding_unverified',
        'the token is DPoP-bound and no DPoP proof came with it',
      );
    }
    return dpop
      .verify(evidence, token, jkt)
      .then((failure) =>
        failure === undefined
          ? afterBinding(request, terms, verified, trail)
          : denyBinding(failure.error, failure.message),
      );
  }

  function afterBinding(
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
      return runCompat(request, terms.compatDocument, subject, verified, trail);
    }

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
