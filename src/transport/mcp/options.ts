// What the MCP proxy is told about the resources it guards and the upstream it forwards to (the composition passes the `mcp:` config section).

/** One protected MCP server as clients know it (see the `mcp.resources[]` config). */
export interface McpResourceOptions {
  /** Canonical resource URI: the metadata's `resource` and the audience tokens must name. */
  readonly uri: string;
  /** Path the proxy serves the resource on. */
  readonly path: string;
  readonly authorizationServers: readonly string[];
  /** Advertised, and asked for in a 401 (never `offline_access`). */
  readonly scopesSupported: readonly string[];
  readonly resourceName?: string;
  readonly documentation?: string;
}

export interface McpProxyOptions {
  /** The upstream MCP server's Streamable HTTP endpoint. */
  readonly upstream?: string;
  readonly resources: readonly McpResourceOptions[];
  /** Origins accepted besides each resource URI's own. */
  readonly allowedOrigins: readonly string[];
  /** Hosts accepted besides each resource URI's own (lower-case). */
  readonly allowedHosts: readonly string[];
  /** Largest message a client may POST, bytes. */
  readonly bodyLimitBytes: number;
  /** Largest JSON list answer, or single SSE event, read to filter, bytes. */
  readonly listLimitBytes: number;
  /** How long the upstream may take to start answering, milliseconds. */
  readonly upstreamTimeoutMs: number;
}
