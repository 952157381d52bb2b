// A Subject as the Check APIs and `mandate check --json` show it: the wire's snake_case names.
import type { Subject } from './decision.js';

/** The subject object of a check answer (`client_id`, not `clientId`); undefined fields are left out by JSON. */
export function subjectToWire(s: Subject) {
  return { sub: s.sub, tenant: s.tenant, client_id: s.clientId, scopes: s.scopes, act: s.act };
}
