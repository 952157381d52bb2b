// The composition root: one ordered list of components built from the config and started in order, stopped in reverse (also when start-up fails).
import type { Logger } from 'pino';
import { createAuditLog, type AuditLog } from '../audit/audit-log.js';
import type { MandateConfig } from '../config/types.js';
import type { TokenExchanger } from '../exchange/exchanger.js';
import { loadOrCreateDevAdminToken } from '../lib/dev-admin-token.js';
import { createReadiness, type Readiness } from '../lib/readiness.js';
import type { Metrics } from '../metrics/registry.js';
import type { AdminRoutes } from '../transport/admin/app.js';
import type { AdminAuthenticator } from '../transport/admin/auth.js';
import { auditAdminRoutes } from '../transport/admin/decisions.js';
import type { RevocationStore } from '../revocation/types.js';
import { createAdminAuth } from './admin-auth.js';
import { startDecisionCore, type DecisionCore } from './core.js';
import { startExchange } from './exchange.js';
import { composeInOrder, createLifecycle, type Lifecycle } from './lifecycle.js';
import { startListeners } from './listeners.js';

/** The pipeline and its parts as `serve` runs them. */
export interface Core extends DecisionCore<AuditLog> {
  readonly readiness: Readiness;
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
}

export interface RunningServer {
  readonly core: Core;
  readonly http: { readonly host: string; readonly port: number };
  readonly grpc: { readonly host: string; readonly port: number };
  readonly admin: { readonly host: string; readonly port: number };
  /** The components in the order they started (they stop in the reverse order). */
  readonly components: readonly string[];
  /** Graceful shutdown: not ready → close listeners within `graceMs` → flush audit → stop components. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts the sidecar: revocation, policies, keys, compatibility policy, audit, exchange, admin
 * authentication, then the HTTP, gRPC and admin listeners. When one fails to start, those already
 * started are stopped, last first, and the promise rejects with that failure: nothing keeps running.
 */
export async function startServer(config: MandateConfig, logger: Logger): Promise<RunningServer> {
  const lifecycle = createLifecycle((name, err) =>
    logger.error({ err, component: name }, 'component failed to stop'),
  );
  const { core, listeners } = await composeInOrder(lifecycle, async () => {
    const core = await startCore(config, logger, lifecycle);
    const listeners = await startListeners(config, core, logger, lifecycle);
    return { core, listeners };
  });
  let stopping: Promise<void> | undefined;
  return {
    core,
    http: listeners.http,
    grpc: listeners.grpc,
    admin: listeners.admin,
    components: lifecycle.names(),
    stop(graceMs = 10_000) {
      stopping ??= (async () => {
        core.readiness.drain();
        listeners.markNotServing();
        // Key fetches end first: a check waiting on a hanging JWKS endpoint would otherwise hold
        // its listener open until the fetch deadline. Verification goes on with the keys it has.
        await core.verifier.stop();
        await lifecycle.stop(graceMs);
      })();
      return stopping;
    },
  };
}

/** Every component under the listeners, started on `lifecycle`. */
async function startCore(
  config: MandateConfig,
  logger: Logger,
  lifecycle: Lifecycle,
): Promise<Core> {
  const core = await startDecisionCore(config, logger, lifecycle, (metrics) =>
    startAuditLog(config, metrics, logger, lifecycle),
  );
  const { decider, verifier, audit, metrics, revocation } = core;
  const exchanger = await startExchange(
    config,
    {
      decider,
      verifier,
      audit,
      metrics,
      revocations: revocation.store,
      onPolicyChange: core.onPolicyChange,
    },
    logger,
    lifecycle,
  );
  // Every started component that has a status, under its lifecycle name.
  const readiness = createReadiness(() => lifecycle.statusSources());
  const adminTokens = config.dev.enabled
    ? [...config.admin.tokens, await loadOrCreateDevAdminToken(config.dev.stateDir)]
    : config.admin.tokens;
  if (adminTokens.length === 0 && config.admin.jwt === undefined) {
    logger.warn('admin.tokens is empty: every admin API call will be refused');
  }
  const adminAuth = createAdminAuth(config, adminTokens, logger);
  await lifecycle.start({
    name: 'admin-auth',
    start: () => adminAuth.start(),
    stop: () => adminAuth.stop(),
  });
  return {
    ...core,
    readiness,
    adminTokens,
    adminAuthenticator: adminAuth.authenticator,
    revocations: revocation.store,
    adminRoutes: [
      auditAdminRoutes(audit),
      revocation.adminRoutes(audit),
      core.policies.adminRoutes,
    ],
    ...(exchanger ? { exchanger } : {}),
  };
}

/** The audit log with its sinks started (an http sink's spool opened and delivery resumed). */
export async function startAuditLog(
  config: MandateConfig,
  metrics: Metrics,
  logger: Logger,
  lifecycle: Lifecycle,
): Promise<AuditLog> {
  const audit = createAuditLog({
    config: config.audit,
    metrics,
    logger: logger.child({ component: 'audit' }),
  });
  await lifecycle.start({
    name: 'audit',
    start: async () => {
      try {
        await audit.start();
      } catch (err) {
        throw new Error(`audit: cannot start: ${(err as Error).message}`);
      }
    },
    stop: () => audit.close(),
    status: () => audit.status(),
  });
  return audit;
}
