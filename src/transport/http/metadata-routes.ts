// GET (and the CORS preflight's OPTIONS) /.well-known/oauth-protected-resource[/<path>] on the HTTP listener: the RFC 9728 documents of the `mcp.resources`, as the MCP proxy serves them.
import type { FastifyPluginAsync } from 'fastify';
import {
  METADATA_HEADERS,
  METADATA_PREFLIGHT_HEADERS,
  metadataRoutes,
  type ProtectedResource,
} from '../resource-metadata.js';

/**
 * The metadata of each resource at its path-suffixed well-known path, and at the bare one (see
 * metadataRoutes), so a service that calls the Check API itself, or Envoy in front of it, can name
 * them in its challenges. The documents are built once by the code the proxy uses.
 */
export function metadataRoutesPlugin(resources: readonly ProtectedResource[]): FastifyPluginAsync {
  const documents = [...metadataRoutes(resources)].map(
    ([path, document]) => [path, JSON.stringify(document)] as const,
  );
  return async (routes) => {
    for (const [path, body] of documents) {
      // HEAD comes with GET (fastify's exposeHeadRoutes).
      routes.get(path, async (_req, reply) => reply.headers(METADATA_HEADERS).send(body));
      // A browser client's CORS preflight (its discovery sends MCP-Protocol-Version).
      routes.options(path, async (_req, reply) =>
        reply.code(204).headers(METADATA_PREFLIGHT_HEADERS).send(),
      );
    }
  };
}
