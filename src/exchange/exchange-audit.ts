// The audit record of one exchange, built from the request, its result and what was learned on the way.
import { randomUUID } from 'node:crypto';
import type { ExchangeAuditRecord } from '../audit/record.js';
import { AUDIT_SCHEMA_VERSION } from '../audit/record.js';
import type { Decision } from '../core/decision.js';
import { tokenFingerprint } from '../token/fingerprint.js';
import type { ExchangeRequest, ExchangeResult } from './types.js';

/** What one exchange learned, kept for its audit record. */
export interface Trail {
  decision?: Decision;
  scopes?: readonly string[];
  subjectTokenHash?: string;
  asStatus?: number;
}

/** The `exchange` audit record; never carries a token, only fingerprints. */
export function auditRecordOf(
  request: ExchangeRequest,
  result: ExchangeResult,
  trail: Trail,
  actorName: string,
  seconds: number,
): ExchangeAuditRecord {
  const decision = result.decision;
  const subject = decision.subject;
  const scopesGranted = result.ok ? (result.scope?.split(' ') ?? []) : undefined;
  const subjectTokenHash =
    trail.subjectTokenHash ??
    (request.subjectToken !== undefined ? tokenFingerprint(request.subjectToken) : undefined);
  return {
    type: 'exchange',
    schema_version: AUDIT_SCHEMA_VERSION,
    exchange_id: randomUUID(),
    decision_id: decision.decisionId,
    time: new Date().toISOString(),
    transport: request.transport,
    outcome: result.ok ? 'issued' : result.code,
    ...(!result.ok
      ? {
          reasons:
            result.code === 'denied'
              ? decision.reasons
              : [{ code: result.code, message: result.message }],
        }
      : {}),
    ...(subject?.tenant !== undefined ? { tenant: subject.tenant } : {}),
    ...(subject?.sub !== undefined ? { sub: subject.sub } : {}),
    ...(subject?.clientId !== undefined ? { client_id: subject.clientId } : {}),
    ...(subject && subject.act.length > 0 ? { act: subject.act } : {}),
    actor: actorName,
    audience: request.audience,
    ...(request.resource !== undefined ? { resource: request.resource } : {}),
    scopes_requested: trail.scopes ?? [],
    ...(scopesGranted !== undefined ? { scopes_granted: scopesGranted } : {}),
    ...(trail.asStatus !== undefined ? { as_status: trail.asStatus } : {}),
    ...(!result.ok && result.asError !== undefined ? { as_error: result.asError } : {}),
    ...(result.ok ? { cache: result.cache } : {}),
    ...(subjectTokenHash !== undefined ? { subject_token_hash: subjectTokenHash } : {}),
    ...(result.ok ? { issued_token_hash: result.tokenHash } : {}),
    ...(result.ok && result.expiresIn !== undefined ? { expires_in: result.expiresIn } : {}),
    latency_us: Math.round(seconds * 1e6),
    ...(request.requestId !== undefined ? { request_id: request.requestId } : {}),
  };
}
