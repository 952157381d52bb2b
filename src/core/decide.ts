// The decision pipeline: verify → tenant guard → policy → decision, with exactly one audit record per decision.
import { randomUUID } from 'node:crypto';
import type { AuditSink } from '../audit/sink.js';
import type { DecisionAuditRecord } from '../audit/record.js';
import { AUDIT_SCHEMA_VERSION } from '../audit/record.js';
import type { TenancyConfig } from '../config/types.js';
import type { Metrics } from '../metrics/registry.js';
import type { PolicyEngine, PolicyOutcome } from '../policy/types.js';
import { tokenFingerprint } from '../token/fingerprint.js';
import type { TokenVerifier, VerifiedToken } from '../token/types.js';
import type { Decider, Decision, Subject } from './decision.js';
import { policyInputOf } from './policy-input.js';
import { policyReasonCode, type Reason } from './reasons.js';
import type { AuthzRequest } from './request.js';
import { subjectOf } from './subject.js';

export interface DeciderDeps {
  readonly verifier: TokenVerifier;
  readonly policy: PolicyEngine;
  readonly audit: AuditSink;
  readonly tenancy: TenancyConfig;
  readonly metrics?: Metrics;
  /** Receives unexpected exceptions (bugs); they become `internal_error` denials. */
  readonly onError?: (err: unknown, request: AuthzRequest) => void;
}

/** What one run of the pipeline learned, kept for the audit record. */
interface Trail {
  token?: VerifiedToken;
  subject?: Subject;
  outcome?: PolicyOutcome;
  issuer?: string;
  tokenHash?: string;
}

interface Verdict {
  readonly allow: boolean;
  readonly reasons: readonly Reason[];
}

const ALLOW: Verdict = { allow: true, reasons: [] };

function deny(code: Reason['code'], message: string): Verdict {
  return { allow: false, reasons: [{ code, message }] };
}

export function createDecider(deps: DeciderDeps): Decider {
  const { verifier, policy, audit, tenancy, metrics } = deps;

  async function run(request: AuthzRequest, trail: Trail): Promise<Verdict> {
    if (request.token === undefined || request.token.length === 0) {
      return deny('token_missing', 'no access token was presented');
    }
    const verified = await verifier.verify(request.token);
    if (!verified.ok) {
      if (verified.issuer !== undefined) trail.issuer = verified.issuer;
      trail.tokenHash = tokenFingerprint(request.token);
      return deny(verified.code, verified.message);
    }
    trail.token = verified;
    trail.tokenHash = verified.tokenHash;
    trail.issuer = verified.issuer;

    const rawTenant = verified.claims[tenancy.claim];
    if (rawTenant !== undefined && typeof rawTenant !== 'string') {
      return deny('claim_missing', `the ${tenancy.claim} claim must be a string`);
    }
    const subject = subjectOf(verified.claims, tenancy.claim, verified.issuer);
    trail.subject = subject;
    if (request.tenant !== undefined && request.tenant !== subject.tenant) {
      return deny('tenant_mismatch', 'the requested tenant is not the token tenant');
    }

    const outcome = policy.evaluate(
      subject.tenant,
      policyInputOf(request, subject, verified.claims),
    );
    trail.outcome = outcome;
    if (metrics) {
      metrics.policyEvalLatency.observe({ layer: 'base' }, outcome.base.evalNs / 1e9);
      if (outcome.tenant)
        metrics.policyEvalLatency.observe({ layer: 'tenant' }, outcome.tenant.evalNs / 1e9);
    }
    if (outcome.allow) return ALLOW;
    const reasons = outcome.reasons.map((r): Reason => ({
      code: policyReasonCode(r.code),
      message: typeof r.message === 'string' ? r.message : '',
    }));
    return {
      allow: false,
      reasons:
        reasons.length > 0 ? reasons : [{ code: 'policy_denied', message: 'denied by policy' }],
    };
  }

  return {
    async decide(request) {
      const started = process.hrtime.bigint();
      const decisionId = randomUUID();
      const trail: Trail = {};
      let verdict: Verdict;
      try {
        verdict = await run(request, trail);
      } catch (err) {
        deps.onError?.(err, request);
        verdict = deny('internal_error', 'the decision could not be evaluated');
      }
      const latencyUs = Number(process.hrtime.bigint() - started) / 1000;
      const decision: Decision = {
        allow: verdict.allow,
        decisionId,
        reasons: verdict.reasons,
        ...(trail.subject ? { subject: trail.subject } : {}),
        ...(trail.outcome ? { decidedBy: trail.outcome.decidedBy } : {}),
        latencyUs,
      };
      try {
        audit.write(auditRecordOf(request, decision, trail));
        if (metrics) {
          metrics.decisions.inc({
            result: decision.allow ? 'allow' : 'deny',
            reason: decision.reasons[0]?.code ?? 'none',
            transport: request.transport,
          });
          metrics.decisionLatency.observe({ transport: request.transport }, latencyUs / 1e6);
        }
      } catch (err) {
        // Audit and metrics failures never change a decision; they are reported, not thrown.
        deps.onError?.(err, request);
      }
      return decision;
    },
  };
}

function auditRecordOf(
  request: AuthzRequest,
  decision: Decision,
  trail: Trail,
): DecisionAuditRecord {
  const claims = trail.token?.claims;
  const subject = trail.subject;
  const jti = claims?.['jti'];
  const tenant = subject?.tenant ?? request.tenant;
  const policy = trail.outcome
    ? {
        base: trail.outcome.base.revision,
        ...(trail.outcome.tenant ? { tenant: trail.outcome.tenant.revision } : {}),
      }
    : undefined;
  return {
    type: 'decision',
    schema_version: AUDIT_SCHEMA_VERSION,
    decision_id: decision.decisionId,
    time: new Date().toISOString(),
    transport: request.transport,
    allow: decision.allow,
    reasons: decision.reasons,
    action: request.action,
    ...(request.resource
      ? {
          resource: {
            type: request.resource.type,
            ...(request.resource.id !== undefined ? { id: request.resource.id } : {}),
          },
        }
      : {}),
    ...(tenant !== undefined ? { tenant } : {}),
    ...(subject?.sub !== undefined ? { sub: subject.sub } : {}),
    ...(subject?.clientId !== undefined ? { client_id: subject.clientId } : {}),
    ...(subject && subject.act.length > 0 ? { act: subject.act } : {}),
    ...(subject ? { scopes: subject.scopes } : {}),
    ...(trail.issuer !== undefined ? { iss: trail.issuer } : {}),
    ...(typeof jti === 'string' ? { jti } : {}),
    ...(trail.tokenHash !== undefined ? { token_hash: trail.tokenHash } : {}),
    ...(decision.decidedBy ? { decided_by: decision.decidedBy } : {}),
    ...(policy ? { policy } : {}),
    latency_us: Math.round(decision.latencyUs),
    ...(request.requestId !== undefined ? { request_id: request.requestId } : {}),
  };
}
