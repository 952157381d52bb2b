// Builds the fastify app for the HTTP listener from its route plugins (Check API, exchange, Envoy, health); it never listens by itself.
import Fastify, { type FastifyInstance, type FastifyBaseLogger } from 'fastify';
import type { Decider } from '../../core/decision.js';
import type { Readiness } from '../../lib/readiness.js';
import type { Metrics } from '../../metrics/registry.js';
import { checkRoutes } from './check-route.js';
import type { TokenExchanger } from '../../exchange/exchanger.js';
import { exchangeRoutes } from './exchange-route.js';
import { healthRoutes } from './health-routes.js';
import { metadataRoutesPlugin } from './metadata-routes.js';
import type { EnvoyAuthorizer } from '../envoy/authz.js';
import { registerEnvoyHttpRoutes, type EnvoyHttpOptions } from '../envoy/http.js';
import { clientErrorOf } from '../client-errors.js';
import { registerOpenApi } from '../openapi.js';
import type { ProtectedResource } from '../resource-metadata.js';

export interface HttpAppDeps {
  readonly decider: Decider;
  readonly readiness: Readiness;
  readonly metrics?: Metrics;
  /** Operational logger; request logging is off on the hot path (audit records cover decisions). */
  readonly logger?: FastifyBaseLogger;
  /** Envoy HTTP ext_authz under a path prefix, with its own raw-body parsing and body limit. */
  readonly envoy?: { readonly authorizer: EnvoyAuthorizer; readonly options: EnvoyHttpOptions };
  /** POST /v1/exchange; without one the route answers 501 (exchange not configured). */
  readonly exchanger?: TokenExchanger;
  /** Envoy HTTP ext_authz for egress (token exchange) under its own prefix. */
  readonly egress?: { readonly authorizer: EnvoyAuthorizer; readonly options: EnvoyHttpOptions };
  /** Protected resources whose RFC 9728 metadata the listener serves (the `mcp.resources`). */
  readonly protectedResources?: readonly ProtectedResource[];
}

export interface HttpAppOptions {
  /** Maximum request body, bytes; larger bodies get 413. */
  readonly bodyLimitBytes: number;
  /** Deepest nesting of `resource.attributes` and `context` on /v1/check; deeper gets 400. Default 64. */
  readonly maxNestingDepth?: number;
}

export function buildHttpApp(deps: HttpAppDeps, options: HttpAppOptions): FastifyInstance {
  const logger = deps.logger;
  const app = Fastify({
    // No logger inside fastify: with one it makes (and validates) a child logger per request and
    // watches every response to log it, a measurable part of a check. Requests are not logged
    // (audit records cover decisions); the one place that logs uses the operational logger.
    logger: false,
    bodyLimit: options.bodyLimitBytes,
    // While closing, a request still arriving on an open connection is answered as usual (the
    // pipeline stays up until the listener has closed), with `Connection: close`. A 503 there
    // would be, to Envoy's http_service, a failure of the authorization service, which
    // failure_mode_allow lets through.
    return503OnClosing: false,
    // Type coercion would turn `"action": 123` into "123"; a wrong type must be a 400 instead.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });

  // The APIs here speak JSON only; fastify's built-in text/plain parser would hand a string to the
  // JSON schema (a 400 "must be object") where the answer is 415. The Envoy routes set their own.
  app.removeContentTypeParser('text/plain');

  app.setErrorHandler((err, req, reply) => {
    const clientError = clientErrorOf(err);
    if (clientError) return reply.code(clientError.statusCode).send(clientError.body);
    logger?.error({ err, reqId: req.id }, 'unhandled error in HTTP handler');
    return reply.code(500).send({ error: 'internal_error', message: 'internal error' });
  });
  app.setNotFoundHandler((req, reply) =>
    reply
      .code(404)
      .send({ error: 'not_found', message: `no route for ${req.method} ${req.url.split('?')[0]}` }),
  );

  registerOpenApi(app, {
    title: 'mandate HTTP API',
    description:
      'The Check API, token exchange, Envoy HTTP ext_authz, health, readiness and metrics.',
  });
  // Routes go in a scope registered after the OpenAPI plugin, so its onRoute hook sees every one.
  // Each group is its own plugin, registered in this order (the order of the OpenAPI document).
  void app.register(async (routes) => {
    void routes.register(checkRoutes(deps.decider, options.maxNestingDepth));
    void routes.register(exchangeRoutes(deps.exchanger));
    void routes.register(healthRoutes(deps.readiness, deps.metrics));
    if (deps.protectedResources !== undefined && deps.protectedResources.length > 0) {
      void routes.register(metadataRoutesPlugin(deps.protectedResources));
    }
    const { egress, envoy } = deps;
    if (egress) {
      void routes.register(async (scope) =>
        registerEnvoyHttpRoutes(scope, egress.authorizer, egress.options),
      );
    }
    if (envoy) {
      void routes.register(async (scope) =>
        registerEnvoyHttpRoutes(scope, envoy.authorizer, envoy.options),
      );
    }
  });
  return app;
}
