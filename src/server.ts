// The composition root: builds every component from the config, hands them to the transports, owns shutdown order.
import { writeFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { MandateConfig } from './config/types.js';
import { createPinoAuditSink } from './audit/pino-sink.js';
import { noopAuditSink, type AuditSink } from './audit/sink.js';
import { createDecider } from './core/decide.js';
import type { Decider } from './core/decision.js';
import { createReadiness, type Readiness } from './lib/readiness.js';
import { createMetrics, type Metrics } from './metrics/registry.js';
import { createPolicyEngine } from './policy/engine.js';
import type { PolicyEngine } from './policy/types.js';
import { loadOrCreateDevSigner, type DevSigner } from './token/dev-signer.js';
import type { TokenVerifier } from './token/types.js';
import { createTokenVerifier } from './token/verifier.js';
import { buildHttpApp } from './transport/http-app.js';
import { createGrpcServer } from './transport/grpc-server.js';
import { buildAdminApp, type AdminRoutes } from './transport/admin-app.js';
import { createStaticAdminAuthenticator } from './transport/admin-auth.js';
import { loadOrCreateDevAdminToken } from './lib/dev-admin-token.js';

/** The pipeline and its parts, without listeners: what `serve` and the in-process CLI both need. */
export interface Core {
  readonly decider: Decider;
  readonly verifier: TokenVerifier;
  readonly policy: PolicyEngine;
  readonly audit: AuditSink;
  readonly metrics: Metrics;
  readonly readiness: Readiness;
  readonly devSigner?: DevSigner;
  /** Admin bearer tokens in force (configured, plus the generated one in dev mode). */
  readonly adminTokens: readonly string[];
  /** Admin route groups contributed by components. */
  readonly adminRoutes: readonly AdminRoutes[];
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

function createAuditSink(config: MandateConfig, metrics: Metrics, logger: Logger): AuditSink {
  const sink = config.audit.sink;
  if (sink.driver === 'none') return noopAuditSink;
  return createPinoAuditSink({
    destination: sink.driver === 'file' ? sink.path : 1,
    onRecord: (result) => metrics.auditRecords.inc({ sink: sink.driver, result }),
    onError: (err) => logger.warn({ err: err.message }, 'audit sink write failed'),
  });
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
  const verifier = createTokenVerifier({
    issuers: config.issuers,
    token: config.token,
    observer: {
      cacheHit: () => metrics.tokenCache.inc({ result: 'hit' }),
      cacheMiss: () => metrics.tokenCache.inc({ result: 'miss' }),
      jwksFetch: (issuer, result) => metrics.jwksFetches.inc({ issuer, result }),
    },
  });
  const policy = createPolicyEngine({
    config: config.policies,
    logger: logger.child({ component: 'policy' }),
  });
  await policy.start();
  await verifier.start();
  const revisions = policy.revisions();
  if (revisions.base) metrics.policyRevision.set({ unit: 'base', revision: revisions.base }, 1);
  for (const [tenant, revision] of Object.entries(revisions.tenants)) {
    metrics.policyRevision.set({ unit: `tenants/${tenant}`, revision }, 1);
  }
  const audit = createAuditSink(config, metrics, logger);
  const decider = createDecider({
    verifier,
    policy,
    audit,
    tenancy: config.tenancy,
    metrics,
    onError: (err) => logger.error({ err }, 'decision failed with an internal error'),
  });
  const readiness = createReadiness({ keys: verifier, policies: policy });
  const adminTokens = config.dev.enabled
    ? [...config.admin.tokens, await loadOrCreateDevAdminToken(config.dev.stateDir)]
    : config.admin.tokens;
  if (adminTokens.length === 0) {
    logger.warn('admin.tokens is empty: every admin API call will be refused');
  }
  return {
    adminTokens,
    adminRoutes: [],
    decider,
    verifier,
    policy,
    audit,
    metrics,
    readiness,
    ...(devSigner ? { devSigner } : {}),
    async stop() {
      await audit.close();
      await verifier.stop();
      await policy.stop();
    },
  };
}

export async function startServer(config: MandateConfig, logger: Logger): Promise<RunningServer> {
  const core = await createCore(config, logger);
  const app = buildHttpApp(
    {
      decider: core.decider,
      readiness: core.readiness,
      metrics: core.metrics,
      logger: logger.child({ component: 'http' }),
    },
    { bodyLimitBytes: config.http.bodyLimitBytes },
  );
  const grpc = createGrpcServer(
    { decider: core.decider, logger: logger.child({ component: 'grpc' }) },
    { host: config.listen.grpc.host, port: config.listen.grpc.port },
  );
  const admin = buildAdminApp({
    authenticator: createStaticAdminAuthenticator(core.adminTokens),
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
        await Promise.all([app.close(), admin.close(), grpc.stop(graceMs)]);
        await core.stop();
      })();
      return stopping;
    },
  };
}
