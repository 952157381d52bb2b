// GET /v1/decisions on the admin listener: recent audit records by tenant, subject, agent, action, outcome and time.
import type { AdminRoutes } from '../transport/admin-app.js';
import { AuditSourceError, type AuditLog, type AuditQuerySource } from './audit-log.js';
import { AuditQueryError, parseAuditQuery } from './query.js';

const SOURCES: readonly AuditQuerySource[] = ['auto', 'ring', 'file'];

/** The admin route group of the audit log (authentication is the admin listener's). */
export function auditAdminRoutes(audit: AuditLog): AdminRoutes {
  return (app) => {
    app.get('/v1/decisions', async (req, reply) => {
      const params = (req.query ?? {}) as Record<string, unknown>;
      let source: AuditQuerySource = 'auto';
      try {
        const q = parseAuditQuery(params);
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
        if (err instanceof AuditQueryError || err instanceof AuditSourceError) {
          return reply.code(400).send({ error: 'invalid_request', message: err.message });
        }
        throw err;
      }
    });
  };
}
