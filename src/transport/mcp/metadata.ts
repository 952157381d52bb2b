// RFC 9728 Protected Resource Metadata for each guarded MCP resource, and where clients find it.
import type { McpResourceOptions } from './options.js';

export const WELL_KNOWN_PRM = '/.well-known/oauth-protected-resource';

/** RFC 9728 §2's document, in its own field names. */
export interface ProtectedResourceMetadata {
  readonly resource: string;
  readonly authorization_servers: readonly string[];
  readonly scopes_supported?: readonly string[];
  readonly bearer_methods_supported: readonly string[];
  readonly resource_name?: string;
  readonly resource_documentation?: string;
}

/** The metadata document of one resource. Tokens are accepted in the Authorization header only. */
export function metadataOf(resource: McpResourceOptions): ProtectedResourceMetadata {
  return {
    resource: resource.uri,
    authorization_servers: resource.authorizationServers,
    ...(resource.scopesSupported.length > 0 ? { scopes_supported: resource.scopesSupported } : {}),
    bearer_methods_supported: ['header'],
    ...(resource.resourceName !== undefined ? { resource_name: resource.resourceName } : {}),
    ...(resource.documentation !== undefined
      ? { resource_documentation: resource.documentation }
      : {}),
  };
}

/**
 * RFC 9728 §3.1: the well-known suffix goes between the host and the resource URI's path, so a
 * resource `https://h/mcp` has its metadata at `https://h/.well-known/oauth-protected-resource/mcp`.
 */
export function metadataPathOf(resourceUri: string): string {
  const path = new URL(resourceUri).pathname;
  return path === '/' ? WELL_KNOWN_PRM : `${WELL_KNOWN_PRM}${path.replace(/\/$/, '')}`;
}

/** The absolute URL a 401 names in `resource_metadata`. */
export function metadataUrlOf(resourceUri: string): string {
  return new URL(metadataPathOf(resourceUri), resourceUri).href;
}

/**
 * Path → metadata document for every resource: the path-suffixed form of each, and the bare
 * well-known path for the resource whose URI has no path, else for the first one configured (a
 * client that found nothing at the suffixed path falls back to the bare one).
 */
export function metadataRoutes(
  resources: readonly McpResourceOptions[],
): ReadonlyMap<string, ProtectedResourceMetadata> {
  const routes = new Map<string, ProtectedResourceMetadata>();
  for (const resource of resources) routes.set(metadataPathOf(resource.uri), metadataOf(resource));
  const first = resources[0];
  if (!routes.has(WELL_KNOWN_PRM) && first !== undefined) {
    routes.set(WELL_KNOWN_PRM, metadataOf(first));
  }
  return routes;
}
