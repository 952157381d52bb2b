// The composition of `mandate proxy`: the decision core's components, one audience-bound verifier per MCP resource (and its exchanger for the upstream's token) and the MCP listener, then the plain HTTP listener.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/audit-log.js';
import type { McpConfig, McpResourceConfig } from '../config/mcp.js';
import type { MandateConfig } from '../config/types.js';
import { createStreamGuard } from '../core/stream-guard.js';
import { createExchangeMetrics } from '../exchange/metrics.js';
import { createMcpProxy, type McpProxy } from '../transport/mcp/proxy.js';
import { createUpstreamTokens, type UpstreamTokens } from '../transport/mcp/upstream-token.js';
import { startDecisionCore, type DecisionCore } from './core.js';
import { startExchange } from './exchange.js';
import { startHttpProxyListener } from './http-proxy.js';
import { composeInOrder, createLifecycle, type Lifecycle } from './lifecycle.js';
import { startResourceDeciders, type ResourcePipeline } from './mcp-deciders.js';
import { proxyListenerComponent } from './proxy-listener.js';
import { startAuditLog } from './server.js';

/** Where one of the proxy's listeners is bound (the real port when the config asked for 0). */
export interface BoundAddress {
  readonly host: string;
  readonly port: number;
}

export interface RunningMcpProxy {
  readonly core: DecisionCore<AuditLog>;
  /** The MCP listener (`mcp:`), when configured. */
  readonly mcp?: BoundAddress;
  /** The plain HTTP listener (`proxy:`), when configured. */
  readonly http?: BoundAddress;
  /** The components in the order they started (they stop in the reverse order). */
  readonly components: readonly string[];
  /** How many MCP sessions the proxy remembers an owner for. */
  sessionCount(): number;
  /** Stops accepting, lets open exchanges finish within `graceMs` (then cuts them), stops the rest. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * With `mcp.upstream_token`, one exchanger per resource, over that resource's pipeline: the
 * gating decision of an exchange sees the client's token as the message's decision did (its
 * audience, its DPoP proof). They share one set of exchange metrics.
 */
async function startUpstreamTokens(
  config: MandateConfig,
  mcp: McpConfig,
  core: DecisionCore<AuditLog>,
  pipelines: Map<McpResourceConfig, ResourcePipeline>,
  logger: Logger,
  lifecycle: Lifecycle,
): Promise<Map<McpResourceConfig, UpstreamTokens>> {
  const tokens = new Map<McpResourceConfig, UpstreamTokens>();
  const target = mcp.upstreamToken?.exchange;
  if (target === undefined) return tokens;
  const observer = createExchangeMetrics(core.metrics.registry);
  for (const [resource, pipeline] of pipelines) {
    const exchanger = await startExchange(
      config,
      {
        ...pipeline,
        audit: core.audit,
        metrics: core.metrics,
        revocations: core.revocation.store,
        onPolicyChange: core.onPolicyChange,
        name: `exchange.mcp:${resource.uri}`,
        observer,
      },
      logger,
      lifecycle,
    );
    // Configuration validation makes `exchange:` present whenever `mcp.upstream_token` is.
    if (exchanger === undefined) throw new Error('mcp.upstream_token: needs the exchange: section');
    tokens.set(resource, createUpstreamTokens(exchanger, target));
  }
  return tokens;
}

function boundOf(server: Server, host: string): BoundAddress {
  return { host, port: (server.address() as AddressInfo).port };
}

/**
 * Starts `mandate proxy`: revocation, policies, keys, compatibility policy, audit (as `serve`),
 * one verifier (and, with `mcp.upstream_token`, one exchanger) per MCP resource and the MCP
 * listener (`mcp:`), then the plain HTTP listener (`proxy:`); at least one of the two. When one
 * fails to start, those already started are stopped, last first, and the promise rejects with
 * that failure.
 */
export async function startMcpProxy(
  config: MandateConfig,
  logger: Logger,
): Promise<RunningMcpProxy> {
  const { mcp, proxy: http } = config;
  if (mcp === undefined && http === undefined) {
    throw new Error(
      'mandate proxy needs an mcp: section (an MCP server) or a proxy: section (an HTTP service)',
    );
  }
  if (mcp !== undefined && mcp.upstream === undefined) {
    throw new Error('mcp.upstream: the proxy needs an upstream URL');
  }
  const lifecycle = createLifecycle((name, err) =>
    logger.error({ err, component: name }, 'component failed to stop'),
  );
  const log = logger.child({ component: 'mcp-proxy' });
  const { core, mcpServer, httpServer, mcpProxy } = await composeInOrder(lifecycle, async () => {
    const core = await startDecisionCore(config, logger, lifecycle, (metrics) =>
      startAuditLog(config, metrics, logger, lifecycle),
    );
    // One guard for both listeners: a revocation ends every stream its entry matches.
    const streams = createStreamGuard({
      revocations: core.revocation.store,
      audit: core.audit,
      onError: (err) => log.error({ err }, 'failed to end a stream whose token was revoked'),
    });
    let mcpServer: Server | undefined;
    let mcpProxy: McpProxy | undefined;
    if (mcp !== undefined) {
      const pipelines = await startResourceDeciders(config, mcp, core, logger, lifecycle);
      const upstreamTokens = await startUpstreamTokens(
        config,
        mcp,
        core,
        pipelines,
        logger,
        lifecycle,
      );
      const proxy = createMcpProxy({
        config: mcp,
        deciderFor: (resource) => (pipelines.get(resource) as ResourcePipeline).decider,
        upstreamTokensFor: (resource) => upstreamTokens.get(resource),
        onError: (err) => log.error({ err }, 'mcp proxy failed while handling a request'),
        streams,
      });
      mcpProxy = proxy;
      mcpServer = createServer((req, res) => proxy.handle(req, res));
      await lifecycle.start(
        proxyListenerComponent('listen.mcp', 'mcp.listen', mcpServer, mcp.listen),
      );
    }
    const httpServer =
      http !== undefined
        ? await startHttpProxyListener(http, core.decider, streams, logger, lifecycle)
        : undefined;
    return { core, mcpServer, httpServer, mcpProxy };
  });
  let stopping: Promise<void> | undefined;
  return {
    core,
    ...(mcp && mcpServer ? { mcp: boundOf(mcpServer, mcp.listen.host) } : {}),
    ...(http && httpServer ? { http: boundOf(httpServer, http.listen.host) } : {}),
    components: lifecycle.names(),
    sessionCount: () => mcpProxy?.sessionCount() ?? 0,
    stop(graceMs = 10_000) {
      stopping ??= (async () => {
        // Key fetches end first, so a hanging JWKS endpoint cannot hold the listener open.
        await core.verifier.stop();
        await lifecycle.stop(graceMs);
      })();
      return stopping;
    },
  };
}
