// The decision's audit record, built from the request, the decision and the pipeline's trail.
import { rfc3339NanoNow } from '../audit/clock.js';
import type { DecisionAuditRecord } from '../audit/record.js';
import { AUDIT_SCHEMA_VERSION, RECORD_SHAPE } from '../audit/record.js';
import type { PolicyOutcome } from '../policy/types.js';
import type { Decision } from './decision.js';
import type { AuthzRequest } from './request.js';
import type { Trail } from './trail.js';
import type { Verdict } from './verdict.js';

export interface AuditEntries {
  recordOf(
    request: AuthzRequest,
    decision: Decision,
    trail: Trail,
    verdict: Verdict,
  ): DecisionAuditRecord;
}

/**
 * Audit records of one cached outcome are alike but for their per-decision members, given the same
 * verdict and dry-run setting: the outcome stands for one verified token (issuer, hash, claims,
 * subject) and one question (transport, action, resource, context), under the same policy units.
 * Their shape key (RECORD_SHAPE) lets the audit log write them from a template. Kept per outcome,
 * so the keys go when the decision cache drops it.
 */
export function createAuditEntries(): AuditEntries {
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

  return {
    recordOf(request, decision, trail, verdict) {
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
      // Plain properties, not conditional spreads (cheaper on this per-decision path, BENCHMARKS.md,
      // "plain-properties"): JSON leaves `undefined` out, so the written record has exactly the known fields.
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
        // Last: a computed key ends the literal's preset shape, so everything before stays fast.
        [RECORD_SHAPE]: shape,
      };
    },
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
