// The facts of one exchange's audit record, gathered from the request, its result and what was learned on the way.
import type { ExchangeFacts } from '../audit/exchange-record.js';
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

/** The facts of one exchange's audit record (audit builds the record); never a token, only fingerprints. */
export function exchangeFactsOf(
  request: ExchangeRequest,
  result: ExchangeResult,
  trail: Trail,
  actorName: string,
  seconds: number,
): ExchangeFacts {
  const decision = result.decision;
  const subject = decision.subject;
  const subjectTokenHash =
    trail.subjectTokenHash ??
    (request.subjectToken !== undefined ? tokenFingerprint(request.subjectToken) : undefined);
  return {
    decisionId: decision.decisionId,
    transport: request.transport,
    outcome: result.ok ? 'issued' : result.code,
    reasons: result.ok
      ? undefined
      : result.code === 'denied'
        ? decision.reasons
        : [{ code: result.code, message: result.message }],
    subject,
    actor: actorName,
    audience: request.audience,
    resource: request.resource,
    scopesRequested: trail.scopes ?? [],
    scopesGranted: result.ok ? (result.scope?.split(' ') ?? []) : undefined,
    asStatus: trail.asStatus,
    asError: result.ok ? undefined : result.asError,
    cache: result.ok ? result.cache : undefined,
    subjectTokenHash,
    issuedTokenHash: result.ok ? result.tokenHash : undefined,
    expiresIn: result.ok ? result.expiresIn : undefined,
    latencyUs: Math.round(seconds * 1e6),
    requestId: request.requestId,
  };
}
