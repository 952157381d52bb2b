// What the MCP proxy is told about the resources it guards and the upstream it forwards to (the composition passes the `mcp:` config section).
import type { ProtectedResource } from '../resource-metadata.js';

/** One protected MCP server as clients know it (see the `mcp.resources[]` config). */
export interface McpResourceOptions extends ProtectedResource {
  /** Path the proxy serves the resource on. */
  readonly path: string;
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
  /** Send the decided identity as `x-mandate-*` headers. */
  readonly sendIdentityHeaders: boolean;
}
