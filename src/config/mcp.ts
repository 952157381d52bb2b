// The `mcp:` config section: the MCP servers mandate guards (RFC 9728 metadata per resource) and the upstream `mandate proxy` forwards to.
import { ConfigError } from './errors.js';
import { absoluteHttpUrl } from './http-url.js';
import type { Static } from '@sinclair/typebox';
import type { mcpSchema } from './schema/mcp.js';
import type { ListenAddress } from './types.js';

/** One protected MCP server as clients know it: its canonical URI and what its metadata says. */
export interface McpResourceConfig {
  /**
   * Canonical resource URI (RFC 8707 / MCP), e.g. `https://mcp.example.com/mcp`: the `resource` of
   * its metadata, and the audience a token must name (`aud`) to be accepted there. Required.
   */
  readonly uri: string;
  /**
   * Path the proxy serves this resource on, and on which Envoy ext_authz calls are decided per MCP
   * message. Default: the URI's path.
   */
  readonly path: string;
  /** Issuer identifiers of the authorization servers clients should use (RFC 9728 `authorization_servers`). Required, non-empty. */
  readonly authorizationServers: readonly string[];
  /**
   * Scopes advertised in the metadata and asked for in a 401 challenge (`offline_access` is never
   * put in a challenge). Default none.
   */
  readonly scopesSupported: readonly string[];
  /** Human-readable name (RFC 9728 `resource_name`). */
  readonly resourceName?: string;
  /** A page for developers (RFC 9728 `resource_documentation`). */
  readonly documentation?: string;
  /**
   * DPoP proof algorithms accepted (RFC 9449), advertised as RFC 9728
   * `dpop_signing_alg_values_supported` when configured or when DPoP is required. Default: every
   * asymmetric algorithm.
   */
  readonly dpopAlgorithms?: readonly string[];
  /**
   * Only DPoP-bound tokens (`cnf.jkt`) with a valid proof are accepted; a bearer token is refused
   * with `token_binding_unverified` and a `DPoP` challenge. Default false.
   */
  readonly dpopRequired: boolean;
}

/** The token the upstream receives: the client's token exchanged (RFC 8693) for the upstream's audience. */
export interface McpUpstreamTokenConfig {
  readonly exchange: {
    /** RFC 8693 `audience`: the upstream as the authorization server knows it. */
    readonly audience: string;
    /** Scopes asked for; empty asks for the authorization server's default. */
    readonly scopes: readonly string[];
    /** RFC 8707 `resource`, when asked for. */
    readonly resource?: string;
  };
}

export interface McpConfig {
  /** Where `mandate proxy` forwards allowed messages: the upstream MCP server's Streamable HTTP endpoint. */
  readonly upstream?: string;
  /** The protected resources; at least one. */
  readonly resources: readonly McpResourceConfig[];
  /** The proxy's listen address. Default 127.0.0.1:8190. */
  readonly listen: ListenAddress;
  /**
   * `Origin` values accepted (besides every resource URI's own origin); a request with any other
   * Origin is refused with 403 (DNS rebinding). A request without Origin (not a browser) passes.
   * Pages on these origins also get CORS: preflights answered, answers readable (no credentials).
   */
  readonly allowedOrigins: readonly string[];
  /**
   * `Host` values accepted (besides every resource URI's host); any other is refused with 403, so a
   * rebound DNS name cannot reach the proxy. Default: only the resources' hosts.
   */
  readonly allowedHosts: readonly string[];
  /** Largest JSON-RPC message a client may POST, bytes; larger ones get 413. Default 4 MiB. */
  readonly bodyLimitBytes: number;
  /** Largest JSON list answer the proxy reads whole to filter it, bytes. Default 16 MiB. */
  readonly listLimitBytes: number;
  /** How long the upstream may take to start answering, milliseconds. Default 30000. */
  readonly upstreamTimeoutMs: number;
  /**
   * A token obtained for the upstream and sent as `Authorization: Bearer` (needs `exchange:`).
   * Default none: the upstream gets no Authorization header.
   */
  readonly upstreamToken?: McpUpstreamTokenConfig;
  /** Send the decided identity as `x-mandate-*` headers. Default true. */
  readonly sendIdentityHeaders: boolean;
}

type McpFile = Static<typeof mcpSchema>;
type ResourceFile = McpFile['resources'][number];

function resolveResource(key: string, raw: ResourceFile): McpResourceConfig {
  const url = absoluteHttpUrl(`${key}.uri`, raw.uri);
  // RFC 8707 §2: a resource indicator has no fragment; the canonical form has no query either.
  if (url.hash !== '' || url.search !== '' || raw.uri.includes('#') || raw.uri.includes('?')) {
    throw new ConfigError(`${key}.uri`, 'must have no query or fragment (RFC 8707)');
  }
  const path = raw.path ?? url.pathname;
  if (!path.startsWith('/') || path.includes('?') || path.includes('#')) {
    throw new ConfigError(`${key}.path`, 'must be a path starting with /');
  }
  if (path.startsWith('/.well-known/')) {
    throw new ConfigError(`${key}.path`, 'must not be under /.well-known/');
  }
  raw.authorization_servers.forEach((as, i) =>
    absoluteHttpUrl(`${key}.authorization_servers[${i}]`, as),
  );
  if (raw.documentation !== undefined) absoluteHttpUrl(`${key}.documentation`, raw.documentation);
  const algs = raw.dpop_signing_alg_values_supported;
  return {
    uri: raw.uri,
    path,
    authorizationServers: raw.authorization_servers,
    scopesSupported: raw.scopes_supported,
    ...(raw.resource_name !== undefined ? { resourceName: raw.resource_name } : {}),
    ...(raw.documentation !== undefined ? { documentation: raw.documentation } : {}),
    ...(algs !== undefined ? { dpopAlgorithms: algs } : {}),
    dpopRequired: raw.dpop_bound_access_tokens_required,
  };
}

function resolveUpstreamToken(raw: NonNullable<McpFile['upstream_token']>): McpUpstreamTokenConfig {
  const { audience, scope, resource } = raw.exchange;
  if (resource !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(resource);
    } catch {
      url = undefined;
    }
    // RFC 8707 §2: an absolute URI without a fragment.
    if (url === undefined || resource.includes('#')) {
      throw new ConfigError(
        'mcp.upstream_token.exchange.resource',
        'must be an absolute URI without a fragment',
      );
    }
  }
  return {
    exchange: {
      audience,
      scopes: scope === undefined ? [] : scope.split(' ').filter((s) => s !== ''),
      ...(resource !== undefined ? { resource } : {}),
    },
  };
}

/**
 * The `mcp:` section, validated by the schema, with the rules across keys checked: URLs, distinct
 * paths, origins. `parseListen` is the loader's own `host:port` parser, passed in.
 */
export function resolveMcp(
  raw: McpFile,
  parseListen: (key: string, text: string) => ListenAddress,
): McpConfig {
  if (raw.upstream !== undefined) absoluteHttpUrl('mcp.upstream', raw.upstream);
  const resources = raw.resources.map((r, i) => resolveResource(`mcp.resources[${i}]`, r));
  const paths = new Set<string>();
  resources.forEach((r, i) => {
    if (paths.has(r.path)) {
      throw new ConfigError(`mcp.resources[${i}].path`, `duplicate path ${r.path}`);
    }
    paths.add(r.path);
  });
  raw.allowed_origins.forEach((o, i) => {
    const url = absoluteHttpUrl(`mcp.allowed_origins[${i}]`, o);
    if (url.origin !== o) {
      throw new ConfigError(`mcp.allowed_origins[${i}]`, `must be an origin, e.g. ${url.origin}`);
    }
  });
  return {
    ...(raw.upstream !== undefined ? { upstream: raw.upstream } : {}),
    resources,
    listen: parseListen('mcp.listen', raw.listen),
    allowedOrigins: raw.allowed_origins,
    allowedHosts: raw.allowed_hosts.map((h) => h.toLowerCase()),
    bodyLimitBytes: raw.body_limit_bytes,
    listLimitBytes: raw.list_limit_bytes,
    upstreamTimeoutMs: raw.upstream_timeout_ms,
    ...(raw.upstream_token !== undefined
      ? { upstreamToken: resolveUpstreamToken(raw.upstream_token) }
      : {}),
    sendIdentityHeaders: raw.send_identity_headers,
  };
}
