// Makes an admin action's audit record from the facts the admin routes hand over: the record's shape is audit's alone.
import { randomUUID } from 'node:crypto';
import type { AdminAuditRecord, AdminPrincipal } from './record.js';
import { recordHeaderOf, recordPrincipalOf } from './record-header.js';

/** Everything an `admin` record is made of. */
export interface AdminFacts {
  /** When it happened, epoch ms. */
  readonly timeMs: number;
  /** What was attempted, e.g. `revocation.create`. */
  readonly action: string;
  /** HTTP status answered: below 300 is `ok`, else the refusal it stands for. */
  readonly status: number;
  /** The authenticated admin (only these four fields are recorded). */
  readonly principal: AdminPrincipal;
  readonly target?: Readonly<Record<string, unknown>>;
  readonly message?: string;
  readonly requestId?: string;
  readonly peer: string;
}

const OUTCOME = {
  400: 'invalid',
  403: 'forbidden',
  404: 'not_found',
  503: 'unavailable',
} as const;

/** The `admin` audit record of these facts. */
export function adminRecordOf(facts: AdminFacts): AdminAuditRecord {
  const status = facts.status;
  return {
    ...recordHeaderOf('admin'),
    admin_id: randomUUID(),
    time: new Date(facts.timeMs).toISOString(),
    action: facts.action,
    outcome: status < 300 ? 'ok' : (OUTCOME[status as keyof typeof OUTCOME] ?? 'invalid'),
    status,
    // At the top level too, where every record kind keeps its tenant: queries and consumers filter on it.
    ...(facts.principal.tenant !== undefined ? { tenant: facts.principal.tenant } : {}),
    principal: recordPrincipalOf(facts.principal),
    ...(facts.target ? { target: facts.target } : {}),
    ...(facts.message !== undefined ? { message: facts.message } : {}),
    ...(facts.requestId !== undefined ? { request_id: facts.requestId } : {}),
    peer: facts.peer,
  };
}
