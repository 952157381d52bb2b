// Admin routes for policy units: GET /v1/policies (every unit's revision, origin, errors, bundle status), POST /v1/policies/reload.
import type { PolicyEngine } from '../../policy/types.js';
import { adminPrincipalOf, type AdminRoutes } from './app.js';

/**
 * `GET /v1/policies[?unit=tenant:acme_inc][&state=ERROR]`: the units, base first. A tenant-scoped
 * admin sees base and its own tenant only. `POST /v1/policies/reload` re-reads the policy directory
 * (what watch mode does on a file event) and answers with the units afterwards; tenant-scoped admins
 * may not (a reload touches every tenant).
 */
export function policyAdminRoutes(policy: PolicyEngine): AdminRoutes {
  return (app) => {
    app.get(
      '/v1/policies',
      {
        schema: {
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              unit: { type: 'string', maxLength: 300 },
              state: { type: 'string', enum: ['OK', 'WARN', 'ERROR'] },
            },
          },
        },
      },
      async (req) => {
        const { unit, state } = req.query as { unit?: string; state?: string };
        const principal = adminPrincipalOf(req);
        const visible = policy.units().filter((status) => {
          if (
            principal.tenant !== undefined &&
            status.unit !== 'base' &&
            status.unit !== `tenant:${principal.tenant}`
          ) {
            return false;
          }
          return (
            (unit === undefined || status.unit === unit) &&
            (state === undefined || status.state === state)
          );
        });
        return { units: visible };
      },
    );

    app.post('/v1/policies/reload', async (req, reply) => {
      if (adminPrincipalOf(req).tenant !== undefined) {
        return reply.code(403).send({
          error: 'forbidden',
          message: 'a tenant-scoped admin cannot reload every policy',
        });
      }
      await policy.reloadFromDir();
      return { units: policy.units() };
    });
  };
}
