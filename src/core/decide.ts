// The decision pipeline: verify → tenant guard → policy → decision, with exactly one audit record per decision.
import { rfc3339NanoNow } from '../audit/clock.js';
import type { AuditSink } from '../audit/sink.js';
import type { DecisionAuditRecord } from '../audit/record.js';
import { AUDIT_SCHEMA_VERSION, RECORD_SHAPE } from '../audit/record.js';
import type { TenancyConfig } from '../config/types.js';
import type { Metrics } from '../metrics/registry.js';
import type { CompatPolicy, CompatResult } from '../policy/compat-types.js';
import type { PolicyEngine, PolicyOutcome } from '../policy/types.js';
import type { RevocationChecker, RevocationEntry } from '../revocation/types.js';
import { randomUuid } from '../lib/uuid.js';
import { dpopKeyOf } from '../token/claims.js';
import { createDpopVerifier, type DpopError, type DpopVerifier } from '../token/dpop.js';
import { tokenFingerprint } from '../token/fingerprint.js';
import type { TokenVerifier, VerifiedToken, VerifyResult } from '../token/types.js';
import type { Decider, Decision, Subject } from './decision.js';
import { createDecisionMetrics } from './decision-metrics.js';
import { policyInputOf } from './policy-input.js';
import { policyReasonCode, type Reason } from './reasons.js';
import type { AuthzRequest } from './request.js';
import { isDryRun, type DecideTerms } from './terms.js';
import { DEFAULT_MAX_NESTING_DEPTH, nestingMessage, nestsDeeperThan } from './nesting.js';
import { subjectOf } from './subject.js';

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

/** What one run of the pipeline learned, kept for the audit record. */
interface Trail {
  token?: VerifiedToken;
  subject?: Subject;
  outcome?: PolicyOutcome;
  compat?: CompatResult;
  issuer?: string;
  tokenHash?: string;
  /** The revocation entry that matched, for the audit record only. */
  revocation?: RevocationEntry;
  /** The document the policy was evaluated over: the audit record's `input` (by reference, not copied). */
  input?: object;
  /** Set when the verdict is the one a cached outcome always gives (see shapeOf). */
  cachedVerdict?: Verdict;
}

interface Verdict {
  readonly allow: boolean;
  readonly reasons: readonly Reason[];
  /** Set on a DPoP proof or binding failure (see Decision.dpopError). */
  readonly dpopError?: DpopError;
}

/** decide(): nothing settled by the adapter. */
const NO_TERMS: DecideTerms = Object.freeze({});

const ALLOW: Verdict = Object.freeze({ allow: true, reasons: Object.freeze([]) });

/** Shared and fixed: which entry matched goes to audit only, never to the caller. */
const REVOKED: Verdict = Object.freeze({
  allow: false,
  reasons: Object.freeze([
    Object.freeze({ code: 'revoked' as const, message: 'the access token has been revoked' }),
  ]),
});

/** A policy's answer in the closed reason set: unknown codes become `policy_denied`, and a deny always has a reason. */
function policyVerdict(result: {
  readonly allow: boolean;
  readonly reasons: readonly { readonly code: unknown; readonly message: unknown }[];
}): Verdict {
  if (result.allow) return ALLOW;
  const reasons = result.reasons.map((r): Reason => ({
    code: policyReasonCode(r.code),
    message: typeof r.message === 'string' ? r.message : '',
  }));
  return {
    allow: false,
    reasons:
      reasons.length > 0 ? reasons : [{ code: 'policy_denied', message: 'denied by policy' }],
  };
}

/**
 * A cached outcome's verdict, made once: a cached outcome is one frozen object for every hit with
 * that token and question, so its verdict (and the reasons callers get) is shared and frozen too.
 */
const cachedVerdicts = new WeakMap<PolicyOutcome, Verdict>();

function verdictOf(outcome: PolicyOutcome): Verdict {
  if (outcome.cached !== true) return policyVerdict(outcome);
  let verdict = cachedVerdicts.get(outcome);
  if (verdict === undefined) {
    const made = policyVerdict(outcome);
    verdict = Object.freeze({ allow: made.allow, reasons: Object.freeze(made.reasons) });
    cachedVerdicts.set(outcome, verdict);
  }
  return verdict;
}

/**
 * Audit records of one cached outcome are alike but for their per-decision members, given the same
 * verdict and dry-run setting: the outcome stands for one verified token (issuer, hash, claims,
 * subject) and one question (transport, action, resource, context), under the same policy units.
 * Their shape key (RECORD_SHAPE) lets the audit log write them from a template. Kept per outcome,
 * so the keys go when the decision cache drops it.
 */
const recordShapes = new WeakMap<PolicyOutcome, [object?, object?]>();

function shapeOf(outcome: PolicyOutcome, dryRun: boolean): object {
  let shapes = recordShapes.get(outcome);
  if (shapes === undefined) {
    shapes = [];
    recordShapes.set(outcome, shapes);
  }
  const i = dryRun ? 1 : 0;
  return (shapes[i] ??= {});
}

function deny(code: Reason['code'], message: string): Verdict {
  return { allow: false, reasons: [{ code, message }] };
}

/** A DPoP proof or key binding that did not check out: `token_binding_unverified`, with RFC 9449's error code. */
function denyBinding(dpopError: DpopError, message: string): Verdict {
  return { allow: false, reasons: [{ code: 'token_binding_unverified', message }], dpopError };
}

/** An allow that no fail-closed audit sink could record becomes this. */
const AUDIT_UNAVAILABLE: Verdict = Object.freeze({
  allow: false,
  reasons: Object.freeze([
    Object.freeze({
      code: 'audit_unavailable' as const,
      message: 'the audit trail cannot record this decision right now, so it is not allowed',
    }),
  ]),
});

export function createDecider(deps: DeciderDeps): Decider {
  const { verifier, policy, audit, tenancy } = deps;
  const dpop = deps.dpop ?? createDpopVerifier();
  const metrics = createDecisionMetrics(deps.metrics);
  const maxNestingDepth = deps.maxNestingDepth ?? DEFAULT_MAX_NESTING_DEPTH;

  // Claims of a cached token are one frozen object for every hit, so its subject is worked out once.
  const subjects = new WeakMap<object, Subject>();
  function subjectFor(verified: VerifiedToken): Subject {
    let subject = subjects.get(verified.claims);
    if (subject === undefined) {
      subject = subjectOf(verified.claims, tenancy.claim, verified.issuer);
      Object.freeze(subject.scopes);
      Object.freeze(subject.act);
      Object.freeze(subject);
      subjects.set(verified.claims, subject);
    }
    return subject;
  }

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
    const base = policyInputOf(request, subject, verified.claims);
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
    const subject = subjectFor(verified);
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

    const input = policyInputOf(request, subject, verified.claims);
    trail.input = input;
    const key = cacheKeyFor(request, verified.claims);
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
    const verdict = verdictOf(outcome);
    trail.cachedVerdict = verdict;
    return verdict;
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
      audit.write(auditRecordOf(request, decision, trail, verdict));
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

function auditRecordOf(
  request: AuthzRequest,
  decision: Decision,
  trail: Trail,
  verdict: Verdict,
): DecisionAuditRecord {
  const claims = trail.token?.claims;
  const subject = trail.subject;
  const jti = claims?.['jti'];
  const tenant = subject?.tenant ?? request.tenant;
  const policy = trail.outcome
    ? { base: trail.outcome.base.revision, tenant: trail.outcome.tenant?.revision }
    : trail.compat
      ? { compat: trail.compat.revision }
      : undefined;
  const cached = trail.outcome?.cached === true;
  const evalNs = cached
    ? undefined
    : trail.outcome
      ? trail.outcome.base.evalNs + (trail.outcome.tenant?.evalNs ?? 0)
      : trail.compat?.evalNs;
  // Plain properties, not conditional spreads (several times cheaper on this per-decision path):
  // JSON leaves `undefined` out, so the written record has exactly the fields that are known.
  const resource = request.resource;
  const dryRun = decision.dryRun === true;
  // Only while the verdict is the cached outcome's own (an audit refusal replaces it).
  const shape =
    trail.outcome?.cached === true && verdict === trail.cachedVerdict
      ? shapeOf(trail.outcome, dryRun)
      : undefined;
  return {
    type: 'decision',
    schema_version: AUDIT_SCHEMA_VERSION,
    decision_id: decision.decisionId,
    time: rfc3339NanoNow(),
    transport: request.transport,
    allow: decision.allow,
    reasons: decision.reasons,
    action: request.action,
    resource: resource ? { type: resource.type, id: resource.id } : undefined,
    tenant,
    sub: subject?.sub,
    client_id: subject?.clientId,
    act: subject && subject.act.length > 0 ? subject.act : undefined,
    scopes: subject?.scopes,
    iss: trail.issuer,
    jti: typeof jti === 'string' ? jti : undefined,
    token_hash: trail.tokenHash,
    decided_by: decision.decidedBy,
    policy,
    policy_cached: cached ? true : undefined,
    latency_us: Math.round(decision.latencyUs),
    request_id: request.requestId,
    dry_run: dryRun ? true : undefined,
    revocation: trail.revocation
      ? { id: trail.revocation.id, kind: trail.revocation.kind }
      : undefined,
    eval_ns: evalNs !== undefined ? Math.round(evalNs) : undefined,
    peer: request.peer,
    input: trail.input ?? requestInputOf(request),
    // Last: a computed key ends the literal's preset shape, so everything before stays fast to make.
    [RECORD_SHAPE]: shape,
  };
}

/** Questions larger than this are evaluated without the decision cache (a key would cost more than it saves). */
const MAX_CACHE_KEY = 4096;

/** Separates the parts of a simple key; a part holding it takes the JSON form instead. */
const SEP = '\u0000';

function isEmpty(object: Readonly<Record<string, unknown>> | undefined): boolean {
  if (object === undefined) return true;
  for (const _ in object) return false;
  return true;
}

/** No resource attributes and no context: the question is its transport, action and resource. */
function isSimpleQuestion(request: AuthzRequest): boolean {
  const { resource } = request;
  return (resource === undefined || resource.attributes === undefined) && isEmpty(request.context);
}

function simpleKeyOf(request: AuthzRequest): string | undefined {
  const { action, resource } = request;
  const type = resource?.type ?? '';
  const id = resource?.id;
  if (action.includes(SEP) || type.includes(SEP) || (id !== undefined && id.includes(SEP))) {
    return jsonKeyOf(request);
  }
  const key = `s${request.transport}${SEP}${action}${SEP}${resource === undefined ? 'n' : 'r'}${SEP}${type}${SEP}${id === undefined ? 'n' : `i${id}`}`;
  return key.length <= MAX_CACHE_KEY ? key : undefined;
}

function jsonKeyOf(request: AuthzRequest): string | undefined {
  const { action, resource } = request;
  const key = `j${JSON.stringify([request.transport, action, resource ?? null, request.context ?? null])}`;
  return key.length <= MAX_CACHE_KEY ? key : undefined;
}

/** The simple question a token last asked, with its decision-cache key. */
interface LastQuestion {
  readonly transport: string;
  readonly action: string;
  readonly type: string | undefined;
  readonly id: string | undefined;
  readonly key: string;
}

/** Per verified token's claims (one frozen object per cached token); goes with the token. */
const lastQuestions = new WeakMap<object, LastQuestion>();

/**
 * What, besides the verified claims, the policy input depends on, as an injective string;
 * undefined when too large to be worth caching. The common question (no attributes, no context)
 * is five separator-joined parts (the transport, the action, whether there is a resource, its
 * type, its id) none of which holds the separator; anything else is a JSON array, so no choice of
 * values makes two different questions look alike. An empty context equals none: the input holds
 * `{}` for both. Keys in a different order only make a miss, never a wrong hit.
 *
 * A token asking its last simple question again gets the very key string it got then: comparing
 * four short strings costs less than building, flattening and hashing a new key for the decision
 * cache's look-up (the kept key's hash is already computed).
 */
function cacheKeyFor(request: AuthzRequest, owner: object): string | undefined {
  if (!isSimpleQuestion(request)) return jsonKeyOf(request);
  const { resource } = request;
  const type = resource?.type;
  const id = resource?.id;
  const last = lastQuestions.get(owner);
  if (
    last !== undefined &&
    last.action === request.action &&
    last.type === type &&
    last.id === id &&
    last.transport === request.transport
  ) {
    return last.key;
  }
  const key = simpleKeyOf(request);
  if (key !== undefined) {
    key.charCodeAt(0); // flattened once, here, rather than by every look-up
    lastQuestions.set(owner, {
      transport: request.transport,
      action: request.action,
      type,
      id,
      key,
    });
  }
  return key;
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

/**
 * The audit `input` when no policy ran (a refused token, a tenant mismatch): what was asked, never
 * the token. Built field by field so nothing of the request is referenced by accident.
 */
function requestInputOf(request: AuthzRequest): object {
  return {
    action: request.action,
    ...(request.resource ? { resource: request.resource } : {}),
    ...(request.tenant !== undefined ? { tenant: request.tenant } : {}),
    context: request.context ?? {},
    transport: request.transport,
  };
}
