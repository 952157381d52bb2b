// The three listeners (HTTP, gRPC, admin) built over the started core and started in that order as lifecycle components.
import type { Logger } from 'pino';
import type { MandateConfig } from '../config/types.js';
import type { TokenExchanger } from '../exchange/exchanger.js';
import { buildAdminApp } from '../transport/admin/app.js';
import { createEnvoyAuthorizer } from '../transport/envoy/authz.js';
import { createGrpcServer } from '../transport/grpc/server.js';
import { buildHttpApp } from '../transport/http/app.js';
import { createRouteTable } from '../transport/route-table.js';
import { egressAuthorizer, withEgress } from './exchange.js';
import type { Lifecycle } from './lifecycle.js';
import { startResourceDeciders } from './mcp-deciders.js';
import type { Core } from './server.js';

/** Where each listener is bound (the real port when the config asked for 0). */
export interface Listeners {
  readonly http: { readonly host: string; readonly port: number };
  readonly grpc: { readonly host: string; readonly port: number };
  readonly admin: { readonly host: string; readonly port: number };
  /** gRPC health turns NOT_SERVING: the first step of shutdown, before listeners close. */
  markNotServing(): void;
}

/** `listen.<name>: cannot listen on host:port: why`, the start-up error of a listener. */
function listenError(name: string, at: { host: string; port: number }, err: unknown): Error {
  return new Error(
    `listen.${name}: cannot listen on ${at.host}:${at.port}: ${(err as Error).message}`,
  );
}

export async function startListeners(
  config: MandateConfig,
  core: Core,
  logger: Logger,
  lifecycle: Lifecycle,
): Promise<Listeners> {
  // Envoy on an MCP resource's path decides as `mandate proxy` does: with the resource's own
  // audience-bound pipeline.
  const mcp = config.mcp;
  const mcpDeciders =
    mcp !== undefined
      ? await startResourceDeciders(config, mcp, core, logger, lifecycle)
      : undefined;
  const envoy = createEnvoyAuthorizer({
    decider: core.decider,
    ...(mcp !== undefined && mcpDeciders !== undefined
      ? {
          mcp: {
            resources: mcp.resources,
            bodyLimitBytes: mcp.bodyLimitBytes,
            deciderFor: (resource) => {
              const pipeline = mcpDeciders.get(resource);
              // Never the core's decider: it would accept tokens for other audiences.
              if (pipeline === undefined) throw new Error(`no decider for ${resource.uri}`);
              return pipeline.decider;
            },
          },
        }
      : {}),
    config: config.envoy,
    routes: createRouteTable(config.envoy.routes, {
      pathParameters: config.envoy.pathParameters,
    }),
    compat: config.envoy.compat.enabled,
    maxNestingDepth: config.limits.maxNestingDepth,
    onError: (err) => logger.error({ err }, 'envoy ext_authz failed with an internal error'),
  });
  const app = buildHttpApp(
    {
      decider: core.decider,
      readiness: core.readiness,
      metrics: core.metrics,
      logger: logger.child({ component: 'http' }),
      ...(core.exchanger ? { exchanger: core.exchanger } : {}),
      ...egressHttp(config, core.exchanger),
      ...(config.mcp !== undefined ? { protectedResources: config.mcp.resources } : {}),
      envoy: {
        authorizer: envoy,
        options: {
          prefix: config.envoy.httpPrefix,
          bodyLimitBytes: config.envoy.httpBodyLimitBytes,
          onError: config.envoy.onError,
          onFailure: (err) => logger.error({ err }, 'envoy http ext_authz failed unexpectedly'),
        },
      },
    },
    { bodyLimitBytes: config.http.bodyLimitBytes, maxNestingDepth: config.limits.maxNestingDepth },
  );
  const grpc = createGrpcServer(
    {
      decider: core.decider,
      envoy: withEgress(envoy, config, core.exchanger),
      ...(core.exchanger ? { exchanger: core.exchanger } : {}),
      logger: logger.child({ component: 'grpc' }),
    },
    {
      host: config.listen.grpc.host,
      port: config.listen.grpc.port,
      envoyMaxRequestBytes: config.envoy.grpcMaxRequestBytes,
      maxNestingDepth: config.limits.maxNestingDepth,
    },
  );
  const admin = buildAdminApp({
    authenticator: core.adminAuthenticator,
    readiness: core.readiness,
    policy: core.policy,
    routes: core.adminRoutes,
    logger: logger.child({ component: 'admin' }),
  });

  // Whichever listener stops first closes all three at once: none keeps accepting while another
  // drains, and they share one deadline. Closing one that never listened is harmless.
  let closing: Promise<void> | undefined;
  const closeAll = (graceMs: number) =>
    (closing ??= Promise.all([app.close(), admin.close(), grpc.stop(graceMs)]).then(() => {}));
  const { listen } = config;
  await lifecycle.start({
    name: 'listen.http',
    start: async () => {
      await app.listen({ host: listen.http.host, port: listen.http.port }).catch((err: unknown) => {
        throw listenError('http', listen.http, err);
      });
    },
    stop: closeAll,
  });
  let grpcPort = listen.grpc.port;
  await lifecycle.start({
    name: 'listen.grpc',
    start: async () => {
      grpcPort = (
        await grpc.start().catch((err: unknown) => {
          throw listenError('grpc', listen.grpc, err);
        })
      ).port;
    },
    stop: closeAll,
  });
  await lifecycle.start({
    name: 'listen.admin',
    start: async () => {
      await admin
        .listen({ host: listen.admin.host, port: listen.admin.port })
        .catch((err: unknown) => {
          throw listenError('admin', listen.admin, err);
        });
    },
    stop: closeAll,
  });

  const portOf = (server: typeof app, fallback: number) => {
    const address = server.server.address();
    return typeof address === 'object' && address ? address.port : fallback;
  };
  return {
    http: { host: listen.http.host, port: portOf(app, listen.http.port) },
    grpc: { host: listen.grpc.host, port: grpcPort },
    admin: { host: listen.admin.host, port: portOf(admin, listen.admin.port) },
    markNotServing: () => grpc.setServing(false),
  };
}

/** Envoy's HTTP ext_authz for egress under `exchange.egress_http_prefix`, when egress is configured. */
function egressHttp(config: MandateConfig, exchanger: TokenExchanger | undefined) {
  const authorizer = egressAuthorizer(config, exchanger);
  if (authorizer === undefined || config.exchange === undefined) return {};
  return {
    egress: {
      authorizer,
      options: {
        prefix: config.exchange.egressHttpPrefix,
        bodyLimitBytes: config.envoy.httpBodyLimitBytes,
        onError: config.envoy.onError,
      },
    },
  };
}
