// The composition root: builds every component from the config, hands them to the transports, owns shutdown order.
import { writeFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { MandateConfig } from '../config/types.js';
import { auditAdminRoutes } from '../transport/admin/decisions.js';
import { createAuditLog, type AuditLog } from '../audit/audit-log.js';
import { createDecider } from '../core/decide.js';
import type { Decider } from '../core/decision.js';
import { createReadiness, type Readiness } from '../lib/readiness.js';
import { createMetrics, type Metrics } from '../metrics/registry.js';
import { startPolicies } from './policy.js';
import type { PolicyEngine } from '../policy/types.js';
import { loadOrCreateDevSigner, type DevSigner } from '../token/dev-signer.js';
import type { TokenVerifier } from '../token/types.js';
import { createTokenVerifier } from '../token/verifier.js';
import { createJwksFetchLog } from '../token/jwks-log.js';
import { buildHttpApp } from '../transport/http/app.js';
import { createGrpcServer } from '../transport/grpc/server.js';
import { buildAdminApp, type AdminRoutes } from '../transport/admin/app.js';
import type { AdminAuthenticator } from '../transport/admin/auth.js';
import { loadOrCreateDevAdminToken } from '../lib/dev-admin-token.js';
import { startAdminAuth } from './admin-auth.js';
import { startRevocation } from './revocation.js';
import type { RevocationStore } from '../revocation/types.js';
import type { CompatPolicy } from '../policy/compat-types.js';
import { createCompatPolicy } from '../policy/compat-unit.js';
import { createRouteTable } from '../transport/route-table.js';
import { createEnvoyAuthorizer } from '../transport/envoy/authz.js';
import { egressAuthorizer, startExchange, withEgress } from './exchange.js';
import type { TokenExchanger } from '../exchange/exchanger.js';

/** The pipeline and its parts, without listeners: what `serve` and the in-process CLI both need. */
export interface Core {
  readonly decider: Decider;
  readonly verifier: TokenVerifier;
  readonly policy: PolicyEngine;
  readonly audit: AuditLog;
  readonly metrics: Metrics;
  readonly readiness: Readiness;
  readonly devSigner?: DevSigner;
  /** Admin bearer tokens in force (configured, plus the generated one in dev mode). */
  readonly adminTokens: readonly string[];
  /** Static admin tokens, plus admin JWTs when `admin.jwt` is configured. */
  readonly adminAuthenticator: AdminAuthenticator;
  /** The revocation store the pipeline checks on every decision. */
  readonly revocations: RevocationStore;
  /** Admin route groups contributed by components. */
  readonly adminRoutes: readonly AdminRoutes[];
  /** RFC 8693 token exchange, when `exchange:` is configured. */
  readonly exchanger?: TokenExchanger;
  stop(): Promise<void>;
}

export interface RunningServer {
  readonly core: Core;
  readonly http: { readonly host: string; readonly port: number };
  readonly grpc: { readonly host: string; readonly port: number };
  readonly admin: { readonly host: string; readonly port: number };
  /** Graceful shutdown: not ready → close listeners within `graceMs` → flush audit → stop components. */
  stop(graceMs?: number): Promise<void>;
}

/** The audit log with its sinks started (an http sink's spool opened and delivery resumed). */
async function startAuditLog(
  config: MandateConfig,
  metrics: Metrics,
  logger: Logger,
): Promise<AuditLog> {
  const audit = createAuditLog({
    config: config.audit,
    metrics,
    logger: logger.child({ component: 'audit' }),
  });
  try {
    await audit.start();
  } catch (err) {
    throw new Error(`audit: cannot start: ${(err as Error).message}`);
  }
  return audit;
}

/** Writes the dev signer's public keys where the dev issuer's jwks_file points. */
async function prepareDevIssuer(config: MandateConfig): Promise<DevSigner | undefined> {
  if (!config.dev.enabled) return undefined;
  const signer = await loadOrCreateDevSigner(config.dev.stateDir);
  const devIssuer = config.issuers.find((i) => i.issuer === config.dev.issuer);
  if (devIssuer?.keys.kind === 'jwks_file') {
    await mkdir(dirname(devIssuer.keys.path), { recursive: true });
    await writeFile(devIssuer.keys.path, JSON.stringify(signer.publicJwks, null, 2));
  }
  return signer;
}

export async function createCore(config: MandateConfig, logger: Logger): Promise<Core> {
  const metrics = createMetrics();
  const devSigner = await prepareDevIssuer(config);
  // First, so a damaged snapshot stops start-up before anything else is running.
  const revocation = await startRevocation(config, metrics, logger);
  const cacheHits = metrics.tokenCache.labels('hit');
  const logJwksFetch = createJwksFetchLog(logger.child({ component: 'keys' }));
  const cacheMisses = metrics.tokenCache.labels('miss');
  const verifier = createTokenVerifier({
    issuers: config.issuers,
    token: config.token,
    observer: {
      cacheHit: () => cacheHits.inc(),
      cacheMiss: () => cacheMisses.inc(),
      jwksFetch: (issuer, detail) => {
        metrics.jwksFetches.inc({ issuer, result: detail.result });
        logJwksFetch(issuer, detail);
      },
    },
  });
  // A cached exchange carries the decision that allowed it; new policy must not keep serving it.
  let onPolicyChange = () => {};
  const policies = await startPolicies(config, metrics, logger, () => onPolicyChange());
  const policy = policies.engine;
  await verifier.start();
  const compat = await startCompatPolicy(config, logger);
  const audit = await startAuditLog(config, metrics, logger);
  const decider = createDecider({
    verifier,
    policy,
    audit,
    tenancy: config.tenancy,
    metrics,
    maxNestingDepth: config.limits.maxNestingDepth,
    ...(compat ? { compat } : {}),
    revocation: revocation.store,
    onError: (err) => logger.error({ err }, 'decision failed with an internal error'),
  });
  const exchanger = await startExchange(
    config,
    { decider, verifier, audit, metrics, revocations: revocation.store },
    logger,
  );
  if (exchanger) onPolicyChange = () => exchanger.cache.clear();
  const readiness = createReadiness({
    ...(exchanger ? { exchange: exchanger } : {}),
    keys: verifier,
    policies: policy,
    audit,
    ...(compat ? { compat_policy: compat } : {}),
    revocations: revocation.store,
  });
  const adminTokens = config.dev.enabled
    ? [...config.admin.tokens, await loadOrCreateDevAdminToken(config.dev.stateDir)]
    : config.admin.tokens;
  if (adminTokens.length === 0 && config.admin.jwt === undefined) {
    logger.warn('admin.tokens is empty: every admin API call will be refused');
  }
  const adminAuth = await startAdminAuth(config, adminTokens, logger);
  return {
    adminTokens,
    adminAuthenticator: adminAuth.authenticator,
    revocations: revocation.store,
    adminRoutes: [auditAdminRoutes(audit), revocation.adminRoutes(audit), policies.adminRoutes],
    decider,
    verifier,
    policy,
    audit,
    metrics,
    readiness,
    ...(devSigner ? { devSigner } : {}),
    ...(exchanger ? { exchanger } : {}),
    async stop() {
      await exchanger?.stop();
      await audit.close();
      await verifier.stop();
      await policy.stop();
      await compat?.stop();
      await adminAuth.stop();
      await revocation.store.stop();
    },
  };
}

/** The OPA-Envoy compatibility policy, compiled at start when `envoy.compat.enabled`. */
async function startCompatPolicy(
  config: MandateConfig,
  logger: Logger,
): Promise<CompatPolicy | undefined> {
  const { compat } = config.envoy;
  if (!compat.enabled) return undefined;
  const log = logger.child({ component: 'compat-policy' });
  const unit = createCompatPolicy({
    dir: compat.dir,
    entrypoint: compat.entrypoint,
    ...(config.policies.opaPath !== undefined ? { opaPath: config.policies.opaPath } : {}),
    onError: (error) =>
      log.error({ error }, 'compatibility policy failed or gave no usable result; denied'),
  });
  await unit.start();
  log.info({ revision: unit.revision(), entrypoint: compat.entrypoint }, 'policy loaded');
  return unit;
}

export async function startServer(config: MandateConfig, logger: Logger): Promise<RunningServer> {
  const core = await createCore(config, logger);
  const envoy = createEnvoyAuthorizer({
    decider: core.decider,
    config: config.envoy,
    routes: createRouteTable(config.envoy.routes),
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
  try {
    await app.listen({ host: config.listen.http.host, port: config.listen.http.port });
  } catch (err) {
    await core.stop();
    throw new Error(
      `listen.http: cannot listen on ${config.listen.http.host}:${config.listen.http.port}: ${(err as Error).message}`,
    );
  }
  let grpcPort: number;
  try {
    grpcPort = (await grpc.start()).port;
  } catch (err) {
    await app.close();
    await core.stop();
    throw new Error(
      `listen.grpc: cannot listen on ${config.listen.grpc.host}:${config.listen.grpc.port}: ${(err as Error).message}`,
    );
  }
  try {
    await admin.listen({ host: config.listen.admin.host, port: config.listen.admin.port });
  } catch (err) {
    await Promise.all([app.close(), grpc.stop(0)]);
    await core.stop();
    throw new Error(
      `listen.admin: cannot listen on ${config.listen.admin.host}:${config.listen.admin.port}: ${(err as Error).message}`,
    );
  }
  const portOf = (server: typeof app, fallback: number) => {
    const address = server.server.address();
    return typeof address === 'object' && address ? address.port : fallback;
  };

  let stopping: Promise<void> | undefined;
  return {
    core,
    http: { host: config.listen.http.host, port: portOf(app, config.listen.http.port) },
    admin: { host: config.listen.admin.host, port: portOf(admin, config.listen.admin.port) },
    grpc: { host: config.listen.grpc.host, port: grpcPort },
    stop(graceMs = 10_000) {
      stopping ??= (async () => {
        core.readiness.drain();
        grpc.setServing(false);
        // Key fetches end first: a check waiting on a hanging JWKS endpoint would otherwise hold
        // its listener open until the fetch deadline. Verification goes on with the keys it has.
        await core.verifier.stop();
        await Promise.all([app.close(), admin.close(), grpc.stop(graceMs)]);
        await core.stop();
      })();
      return stopping;
    },
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
