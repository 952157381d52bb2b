// Composition of the policy engine: built from `policies:`, its metrics wired, and its admin routes (the root starts it).
import type { Logger } from 'pino';
import type { MandateConfig } from '../config/types.js';
import type { Metrics } from '../metrics/registry.js';
import { createPolicyEngine, type PolicyObserver } from '../policy/engine.js';
import type { PolicyEngine } from '../policy/types.js';
import type { AdminRoutes } from '../transport/admin/app.js';
import { policyAdminRoutes } from '../transport/admin/policies.js';

export interface PolicySetup {
  readonly engine: PolicyEngine;
  /** GET /v1/policies and POST /v1/policies/reload. */
  readonly adminRoutes: AdminRoutes;
}

/** Turns engine events into the `mandate_policy_*` metrics. */
export function policyMetricsObserver(metrics: Metrics): PolicyObserver {
  const cache = {
    hit: metrics.policyCache.labels('hit'),
    miss: metrics.policyCache.labels('miss'),
    bypass: metrics.policyCache.labels('bypass'),
  };
  return {
    decisionCache(result) {
      cache[result].inc();
    },
    revision(unit, revision, previous) {
      if (previous !== undefined) metrics.policyRevision.remove({ unit, revision: previous });
      if (revision !== undefined) metrics.policyRevision.set({ unit, revision }, 1);
    },
    load(unit, origin, result) {
      metrics.policyLoads.inc({ origin, result });
      if (result === 'error') metrics.policyLoadFailing.set({ unit }, 1);
      else metrics.policyLoadFailing.remove({ unit });
    },
    bundlePoll(unit, result) {
      metrics.policyBundlePolls.inc({ unit, result });
    },
    bundleActivated(unit, at) {
      metrics.policyBundleLastActivation.set({ unit }, at / 1000);
    },
    totals({ active, failed, removed, modules }) {
      metrics.policyUnits.set({ state: 'active' }, active);
      metrics.policyUnits.set({ state: 'failed' }, failed);
      metrics.policyUnits.set({ state: 'removed' }, removed);
      metrics.policyModules.set(modules);
    },
  };
}

/**
 * Builds the engine (not started: the composition root starts it, and its start rejects, naming
 * file and line, when the base policy cannot be loaded; a broken tenant only fails that tenant).
 */
export function createPolicies(
  config: MandateConfig,
  metrics: Metrics,
  logger: Logger,
): PolicySetup {
  const engine = createPolicyEngine({
    config: config.policies,
    logger: logger.child({ component: 'policy' }),
    observer: policyMetricsObserver(metrics),
  });
  return { engine, adminRoutes: policyAdminRoutes(engine) };
}
