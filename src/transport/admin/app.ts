// Builds the fastify app for the admin listener from its route plugins: every route requires an authenticated admin.
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyRequest,
} from 'fastify';
import type { Readiness } from '../../lib/readiness.js';
import type { PolicyEngine } from '../../policy/types.js';
import type { AdminAuthenticator, AdminPrincipal } from './auth.js';
import { bearerTokenOf } from '../bearer.js';
import { clientErrorOf } from '../client-errors.js';
import { registerOpenApi } from '../openapi.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the admin auth hook on every admin route. */
    adminPrincipal?: AdminPrincipal;
  }
}

/**
 * A group of admin routes contributed by a component (revocations, policy status, decisions, ...);
 * the admin app registers each group as its own encapsulated plugin.
 */
export type AdminRoutes = (app: FastifyInstance) => void;

function pluginOf(group: AdminRoutes): FastifyPluginAsync {
  return async (scope) => group(scope);
}

/** GET /v1/status: readiness, the policies in force, and who is asking. */
function statusRoutes(readiness: Readiness, policy: PolicyEngine): FastifyPluginAsync {
  return async (routes) => {
    routes.get('/v1/status', async (req) => {
      const report = readiness.report();
      return {
        ready: report.ready,
        components: report.components,
        policies: policy.revisions(),
        principal: adminPrincipalOf(req).id,
      };
    });
  };
}

export interface AdminAppDeps {
  readonly authenticator: AdminAuthenticator;
  readonly readiness: Readiness;
  readonly policy: PolicyEngine;
  readonly routes?: readonly AdminRoutes[];
  readonly logger?: FastifyBaseLogger;
}

/** The principal of an admin request; only callable inside admin routes (the hook guarantees it). */
export function adminPrincipalOf(req: FastifyRequest): AdminPrincipal {
  const principal = req.adminPrincipal;
  if (principal === undefined)
    throw new Error('admin route reached without an authenticated principal');
  return principal;
}

export function buildAdminApp(deps: AdminAppDeps): FastifyInstance {
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 65_536,
    return503OnClosing: true,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
  });

  // JSON only: a text/plain body is a 415 like any other non-JSON type (see http-app.ts).
  app.removeContentTypeParser('text/plain');

  app.addHook('onRequest', async (req, reply) => {
    const principal = await deps.authenticator.authenticate(
      bearerTokenOf(req.headers.authorization),
    );
    if (principal === undefined) {
      return reply.code(401).header('www-authenticate', 'Bearer realm="mandate-admin"').send({
        error: 'unauthorized',
        message: 'authorization: a valid admin bearer token is required',
      });
    }
    if ('refused' in principal) {
      // A bound token is not a usable credential here (401); a genuine one lacking the scope is 403.
      const bound = principal.refused === 'token_bound';
      return reply
        .code(bound ? 401 : 403)
        .header(
          'www-authenticate',
          `Bearer realm="mandate-admin", error="${bound ? 'invalid_token' : 'insufficient_scope'}", error_description="${principal.message}"`,
        )
        .send({ error: bound ? 'unauthorized' : 'forbidden', message: principal.message });
    }
    req.adminPrincipal = principal;
  });

  app.setErrorHandler((err, req, reply) => {
    const clientError = clientErrorOf(err);
    if (clientError) return reply.code(clientError.statusCode).send(clientError.body);
    req.log.error({ err }, 'unhandled error in admin handler');
    return reply.code(500).send({ error: 'internal_error', message: 'internal error' });
  });
  app.setNotFoundHandler((req, reply) =>
    reply
      .code(404)
      .send({ error: 'not_found', message: `no route for ${req.method} ${req.url.split('?')[0]}` }),
  );

  // Behind the same admin token as every other route here: one rule with no exemption to get wrong,
  // and the description is public anyway (docs/openapi-admin.json in the repository).
  registerOpenApi(app, {
    title: 'mandate admin API',
    description: 'Revocations, policy status and reloads, recent decisions, sidecar status.',
  });
  // Routes go in a scope registered after the OpenAPI plugin, so its onRoute hook sees every one;
  // each group is its own plugin (the authentication hook above covers them all).
  void app.register(async (routes) => {
    void routes.register(statusRoutes(deps.readiness, deps.policy));
    for (const group of deps.routes ?? []) void routes.register(pluginOf(group));
  });
  return app;
}
