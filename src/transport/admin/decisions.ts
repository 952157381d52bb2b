// GET /v1/decisions on the admin listener: recent audit records by tenant, subject, agent, action, outcome and time.
import { adminPrincipalOf, type AdminRoutes } from './app.js';
import type { AdminPrincipal } from './auth.js';
import { AuditSourceError, type AuditLog, type AuditQuerySource } from '../../audit/audit-log.js';
import {
  AuditQueryError,
  QUERY_PARAMS,
  parseAuditQuery,
  type AuditQuery,
} from '../../audit/query.js';
import { MCP_CLIENT_NOTIFICATIONS, MCP_CLIENT_REQUESTS } from '../../lib/mcp-methods.js';

const SOURCES: readonly AuditQuerySource[] = ['auto', 'ring', 'file'];

/**
 * The query string as the OpenAPI document shows it (meanings: docs/audit.md). Validation is parseAuditQuery's (errors name
 * the parameter; unknown ones are refused, never stripped), so the schema's own result is only
 * attached, not answered.
 */
const querySchema = {
  type: 'object',
  properties: Object.fromEntries(
    QUERY_PARAMS.map((name) => [
      name,
      {
        type: 'string',
        ...(name === 'mcp_method'
          ? { enum: [...MCP_CLIENT_REQUESTS, ...MCP_CLIENT_NOTIFICATIONS] }
          : name === 'source'
            ? { enum: SOURCES }
            : name === 'allow'
              ? { enum: ['true', 'false'] }
              : {}),
      },
    ]),
  ),
} as const;

/** Asking a tenant-scoped admin's query about another tenant: 403, nothing read. */
class ForeignTenant extends Error {}

/**
 * The query confined to what the admin may read, as the revocation routes confine theirs: a
 * tenant-scoped admin reads its own tenant's records only (no filter means that tenant; another
 * tenant's is refused), a platform admin (static token, JWT without a tenant) every record.
 */
function scopedQuery(q: AuditQuery, principal: AdminPrincipal): AuditQuery {
  if (principal.tenant === undefined) return q;
  if (q.tenant !== undefined && q.tenant !== principal.tenant) {
    throw new ForeignTenant(`tenant: this admin may only read tenant ${principal.tenant}`);
  }
  return { ...q, tenant: principal.tenant };
}

/** The admin route group of the audit log (authentication is the admin listener's, tenant scoping this route's). */
export function auditAdminRoutes(audit: AuditLog): AdminRoutes {
  return (app) => {
    app.get(
      '/v1/decisions',
      { schema: { querystring: querySchema }, attachValidation: true },
      async (req, reply) => {
        const params = (req.query ?? {}) as Record<string, unknown>;
        let source: AuditQuerySource = 'auto';
        try {
          const q = scopedQuery(parseAuditQuery(params), adminPrincipalOf(req));
          const s = params['source'];
          if (s !== undefined) {
            if (!SOURCES.includes(s as AuditQuerySource)) {
              throw new AuditQueryError('source', `must be one of: ${SOURCES.join(', ')}`);
            }
            source = s as AuditQuerySource;
          }
          const answer = await audit.query(q, source);
          return {
            source: answer.source,
            ...(answer.ringId !== undefined ? { ring_id: answer.ringId } : {}),
            ...(answer.nextAfter !== undefined ? { next_after: answer.nextAfter } : {}),
            more: answer.more,
            complete: answer.complete,
            records: answer.records,
          };
        } catch (err) {
          if (err instanceof ForeignTenant) {
            return reply.code(403).send({ error: 'forbidden', message: err.message });
          }
          if (err instanceof AuditQueryError || err instanceof AuditSourceError) {
            return reply.code(400).send({ error: 'invalid_request', message: err.message });
          }
          throw err;
        }
      },
    );
  };
}
