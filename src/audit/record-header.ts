// Builds the members audit records share: the opening header and the subject (tenant, sub, client_id, act).
//
// The decision record lists the same members as plain properties instead (its per-decision path,
// BENCHMARKS.md "plain-properties"); the types in record.ts keep the three in step.
import {
  AUDIT_SCHEMA_VERSION,
  type AdminPrincipal,
  type AuditRecordHeader,
  type AuditRecordSubject,
} from './record.js';

/** The members a record of `type` opens with. */
export function recordHeaderOf<T extends string>(type: T): AuditRecordHeader<T> {
  return { type, schema_version: AUDIT_SCHEMA_VERSION };
}

/** A subject as the pipeline knows it. */
export interface SubjectFacts {
  readonly tenant?: string;
  readonly sub?: string;
  readonly clientId?: string;
  readonly act: readonly string[];
}

/** The subject members of a record: only those known, and `act` only when someone acted for the subject. */
export function recordSubjectOf(subject: SubjectFacts | undefined): AuditRecordSubject {
  if (subject === undefined) return {};
  return {
    ...(subject.tenant !== undefined ? { tenant: subject.tenant } : {}),
    ...(subject.sub !== undefined ? { sub: subject.sub } : {}),
    ...(subject.clientId !== undefined ? { client_id: subject.clientId } : {}),
    ...(subject.act.length > 0 ? { act: subject.act } : {}),
  };
}

/** An admin principal with only its four recorded members (a JWT principal carries more). */
export function recordPrincipalOf(principal: AdminPrincipal): AdminPrincipal {
  return {
    kind: principal.kind,
    id: principal.id,
    ...(principal.sub !== undefined ? { sub: principal.sub } : {}),
    ...(principal.tenant !== undefined ? { tenant: principal.tenant } : {}),
  };
}
