// GET /health, /ready and /metrics on the HTTP listener, as one fastify plugin.
import type { FastifyPluginAsync } from 'fastify';
import type { Readiness } from '../../lib/readiness.js';
import type { Metrics } from '../../metrics/registry.js';

/**
 * `/health` answers while the process runs; `/ready` is 200 while every component is ready and 503
 * while one is not or the sidecar is draining; `/metrics` (when `metrics` is given) is the
 * Prometheus text exposition.
 */
export function healthRoutes(readiness: Readiness, metrics?: Metrics): FastifyPluginAsync {
  return async (routes) => {
    routes.get('/health', async () => ({ status: 'ok' }));
    routes.get('/ready', async (_req, reply) => {
      const report = readiness.report();
      return reply.code(report.ready ? 200 : 503).send({
        status: report.ready ? 'ready' : report.draining ? 'draining' : 'not_ready',
        components: report.components,
      });
    });
    if (metrics) {
      const registry = metrics.registry;
      routes.get('/metrics', async (_req, reply) =>
        reply.header('content-type', registry.contentType).send(await registry.metrics()),
      );
    }
  };
}
