// RFC 9728 Protected Resource Metadata for each protected resource and where clients find it; served by the MCP proxy and by the HTTP listener.
import type { McpResourceConfig } from '../config/mcp.js';
import { DPOP_PROOF_ALGORITHMS } from '../core/request.js';

export const WELL_KNOWN_PRM = '/.well-known/oauth-protected-resource';

/** What the metadata of one protected resource says (the `mcp.resources[]` config). */
export type ProtectedResource = Pick<
  McpResourceConfig,
  | 'uri'
  | 'authorizationServers'
  | 'scopesSupported'
  | 'resourceName'
  | 'documentation'
  | 'dpopAlgorithms'
  | 'dpopRequired'
>;

/** RFC 9728 §2's document, in its own field names. */
export interface ProtectedResourceMetadata {
  readonly resource: string;
  readonly authorization_servers: readonly string[];
  readonly scopes_supported?: readonly string[];
  readonly bearer_methods_supported: readonly string[];
  readonly resource_name?: string;
  readonly resource_documentation?: string;
  readonly dpop_signing_alg_values_supported?: readonly string[];
  readonly dpop_bound_access_tokens_required?: boolean;
}

/** Headers of a metadata answer: public by design (RFC 9728 §3), browser-based clients read it cross-origin. */
export const METADATA_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'application/json',
  'access-control-allow-origin': '*',
  'cache-control': 'max-age=300',
};

/** How a metadata document may be asked for. */
export const METADATA_METHODS = 'GET, HEAD, OPTIONS';

/**
 * The answer to a CORS preflight for a metadata document (204): any origin, as for the document.
 * Only `mcp-protocol-version` is asked for: the MCP SDK's discovery sends it (and retries without
 * it when a preflight fails).
 */
export const METADATA_PREFLIGHT_HEADERS: Readonly<Record<string, string>> = {
  allow: METADATA_METHODS,
  'access-control-allow-origin': '*',
  'access-control-allow-methods': METADATA_METHODS,
  'access-control-allow-headers': 'mcp-protocol-version',
  'access-control-max-age': '3600',
};

/** The DPoP proof algorithms a resource accepts: its configured list, else every asymmetric one. */
export function dpopAlgorithmsOf(resource: ProtectedResource): readonly string[] {
  return resource.dpopAlgorithms ?? DPOP_PROOF_ALGORITHMS;
}

/**
 * The metadata document of one resource. Tokens are accepted in the Authorization header only.
 * The DPoP algorithms are advertised when configured or when DPoP is required (a client must then
 * know which key to make).
 */
export function metadataOf(resource: ProtectedResource): ProtectedResourceMetadata {
  const advertiseDpop = resource.dpopAlgorithms !== undefined || resource.dpopRequired;
  return {
    resource: resource.uri,
    authorization_servers: resource.authorizationServers,
    ...(resource.scopesSupported.length > 0 ? { scopes_supported: resource.scopesSupported } : {}),
    bearer_methods_supported: ['header'],
    ...(resource.resourceName !== undefined ? { resource_name: resource.resourceName } : {}),
    ...(resource.documentation !== undefined
      ? { resource_documentation: resource.documentation }
      : {}),
    ...(advertiseDpop ? { dpop_signing_alg_values_supported: dpopAlgorithmsOf(resource) } : {}),
    ...(resource.dpopRequired ? { dpop_bound_access_tokens_required: true } : {}),
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
  resources: readonly ProtectedResource[],
): ReadonlyMap<string, ProtectedResourceMetadata> {
  const routes = new Map<string, ProtectedResourceMetadata>();
  for (const resource of resources) routes.set(metadataPathOf(resource.uri), metadataOf(resource));
  const first = resources[0];
  if (!routes.has(WELL_KNOWN_PRM) && first !== undefined) {
    routes.set(WELL_KNOWN_PRM, metadataOf(first));
  }
  return routes;
}
