// Composition of grant-level revocation: the configured store, its metrics, and its admin routes (the root starts it).
import type { Logger } from 'pino';
import type { AuditSink } from '../audit/sink.js';
import type { MandateConfig } from '../config/types.js';
import type { Metrics } from '../metrics/registry.js';
import { createRevocationStore } from '../revocation/create-store.js';
import { registerRevocationMetrics } from '../revocation/metrics.js';
import type { RevocationStore } from '../revocation/types.js';
import type { AdminRoutes } from '../transport/admin/app.js';
import { revocationAdminRoutes } from '../transport/admin/revocations.js';

export interface RevocationSetup {
  readonly store: RevocationStore;
  /** Starts the store, then publishes its metrics. */
  start(): Promise<void>;
  /** POST / GET / DELETE /v1/revocations, writing admin records to `audit`. */
  adminRoutes(audit: AuditSink): AdminRoutes;
}

/**
 * Builds the revocation store (not started). Its start rejects (naming the file) when the snapshot
 * is damaged: starting with an empty set would silently un-revoke. A Redis that is down does not
 * reject: the snapshot is served and the store's status says so.
 */
export function createRevocation(
  config: MandateConfig,
  metrics: Metrics,
  logger: Logger,
): RevocationSetup {
  const { store, lifetime } = createRevocationStore(config.revocation, {
    issuers: config.issuers,
    logger: logger.child({ component: 'revocation' }),
  });
  return {
    store,
    async start() {
      await store.start();
      registerRevocationMetrics(metrics.registry, store);
    },
    adminRoutes: (audit) =>
      revocationAdminRoutes({
        store,
        lifetime,
        audit,
        clockSkewSeconds: config.revocation.clockSkewSeconds,
        bodyLimitBytes: config.revocation.bodyLimitBytes,
      }),
  };
}
