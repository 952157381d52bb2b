// Makes a token exchange's audit record from the facts the exchanger hands over: the record's shape is audit's alone.
import { randomUUID } from 'node:crypto';
import type { ExchangeAuditRecord, ExchangeOutcome } from './record.js';
import { recordHeaderOf, recordSubjectOf, type SubjectFacts } from './record-header.js';

export type { ExchangeOutcome } from './record.js';

/** Everything an `exchange` record is made of; never a token, only fingerprints. */
export interface ExchangeFacts {
  /** The gating decision's id. */
  readonly decisionId: string;
  readonly transport: string;
  readonly outcome: ExchangeOutcome;
  /** Why no token was issued (absent when one was). */
  readonly reasons?: readonly { readonly code: string; readonly message: string }[];
  /** The subject the gating decision found, when it found one. */
  readonly subject?: SubjectFacts;
  /** mandate's own identity: the actor the exchange adds to the chain. */
  readonly actor: string;
  readonly audience: string;
  readonly resource?: string;
  readonly scopesRequested: readonly string[];
  readonly scopesGranted?: readonly string[];
  readonly asStatus?: number;
  readonly asError?: string;
  readonly cache?: 'hit' | 'miss' | 'shared';
  readonly subjectTokenHash?: string;
  readonly issuedTokenHash?: string;
  readonly expiresIn?: number;
  readonly latencyUs: number;
  readonly requestId?: string;
}

/** The `exchange` audit record of these facts, stamped with the current time. */
export function exchangeRecordOf(facts: ExchangeFacts): ExchangeAuditRecord {
  return {
    ...recordHeaderOf('exchange'),
    exchange_id: randomUUID(),
    decision_id: facts.decisionId,
    time: new Date().toISOString(),
    transport: facts.transport,
    outcome: facts.outcome,
    ...(facts.reasons !== undefined ? { reasons: facts.reasons } : {}),
    ...recordSubjectOf(facts.subject),
    actor: facts.actor,
    audience: facts.audience,
    ...(facts.resource !== undefined ? { resource: facts.resource } : {}),
    scopes_requested: facts.scopesRequested,
    ...(facts.scopesGranted !== undefined ? { scopes_granted: facts.scopesGranted } : {}),
    ...(facts.asStatus !== undefined ? { as_status: facts.asStatus } : {}),
    ...(facts.asError !== undefined ? { as_error: facts.asError } : {}),
    ...(facts.cache !== undefined ? { cache: facts.cache } : {}),
    ...(facts.subjectTokenHash !== undefined ? { subject_token_hash: facts.subjectTokenHash } : {}),
    ...(facts.issuedTokenHash !== undefined ? { issued_token_hash: facts.issuedTokenHash } : {}),
    ...(facts.expiresIn !== undefined ? { expires_in: facts.expiresIn } : {}),
    latency_us: facts.latencyUs,
    ...(facts.requestId !== undefined ? { request_id: facts.requestId } : {}),
  };
}
