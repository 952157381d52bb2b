// Evaluation of base AND tenant over the units in force, with the decision cache in front.
//
// Base runs first and a deny short-circuits; the tenant's layer (its unit, or the fail-closed deny
// of a tenant whose policy failed or was removed) runs only when base allows. The input is
// serialised once for both. A cached outcome is served only while the very units that produced it
// are still in force, so a swap needs no cache flush.
import type { DecisionClock } from './builtins.js';
import { createDecisionCache } from './decision-cache.js';
import type { ActiveUnit } from './host-group.js';
import type { PolicyCacheKey, PolicyOutcome, PolicyReason } from './types.js';
import {
  type PolicyObserver,
  type TenantEntry,
  type UnitRegistry,
  frozenDeny,
} from './unit-registry.js';

export interface LayeredEvalOptions {
  readonly registry: UnitRegistry;
  /** The clock behind `time.now_ns()`: begun once per evaluation, so both layers see one instant. */
  readonly clock: DecisionClock;
  /** Entries of the decision cache; 0 turns it off. */
  readonly decisionCacheSize: number;
  readonly observer: PolicyObserver;
}

export interface LayeredEval {
  /** As the engine's evaluate(); denies with `internal_error` while no base is in force. */
  evaluate(tenant: string | undefined, input: unknown, cacheKey?: PolicyCacheKey): PolicyOutcome;
}

const NOT_STARTED_LAYER = frozenDeny('internal_error', 'the policy engine is not started', '');

/** The outcome while no policy is in force (before start, after stop). */
export const NOT_STARTED: PolicyOutcome = Object.freeze({
  allow: false,
  decidedBy: 'base',
  reasons: NOT_STARTED_LAYER.reasons,
  base: NOT_STARTED_LAYER,
});

const NO_REASONS: readonly PolicyReason[] = Object.freeze([]);

/** Builds the evaluator over `registry`, with a decision cache of its own. */
export function createLayeredEval(options: LayeredEvalOptions): LayeredEval {
  const { registry, clock, observer } = options;
  const encoder = new TextEncoder();
  const decisionCache = createDecisionCache(options.decisionCacheSize);

  /** Base, then the tenant's layer unless base already denied: one serialisation shared by both. */
  function evaluateLayers(
    baseUnit: ActiveUnit,
    entry: TenantEntry | undefined,
    input: unknown,
  ): PolicyOutcome {
    clock.begin();
    const json = encoder.encode(JSON.stringify(input ?? null));

    const baseLayer = baseUnit.evaluate(json);
    if (!baseLayer.allow)
      return { allow: false, decidedBy: 'base', reasons: baseLayer.reasons, base: baseLayer };
    if (entry === undefined)
      return { allow: true, decidedBy: 'base', reasons: NO_REASONS, base: baseLayer };

    const layer = entry.kind === 'active' ? entry.unit.evaluate(json) : entry.deny;
    if (!layer.allow) {
      return {
        allow: false,
        decidedBy: 'tenant',
        reasons: layer.reasons,
        base: baseLayer,
        tenant: layer,
      };
    }
    return { allow: true, decidedBy: 'base', reasons: NO_REASONS, base: baseLayer, tenant: layer };
  }

  /** An outcome may be reused only when no unit that ran reads the clock and none failed. */
  function isCacheable(
    baseUnit: ActiveUnit,
    entry: TenantEntry | undefined,
    outcome: PolicyOutcome,
  ): boolean {
    if (baseUnit.readsClock || outcome.base.failed) return false;
    if (outcome.tenant === undefined) return true;
    if (outcome.tenant.failed) return false;
    return entry?.kind !== 'active' || !entry.unit.readsClock;
  }

  return {
    evaluate(tenant, input, cacheKey) {
      const current = registry.base();
      if (current === undefined) return NOT_STARTED;
      const entry = tenant === undefined ? undefined : registry.tenant(tenant);

      if (cacheKey !== undefined && decisionCache !== undefined) {
        const hit = decisionCache.get(cacheKey);
        if (
          hit !== undefined &&
          hit.baseEntry === current.unit &&
          hit.tenantEntry === entry &&
          hit.tenant === tenant
        ) {
          observer.decisionCache?.('hit');
          return hit.outcome;
        }
      }

      const outcome = evaluateLayers(current.unit, entry, input);

      if (cacheKey !== undefined && decisionCache !== undefined) {
        if (isCacheable(current.unit, entry, outcome)) {
          decisionCache.set(cacheKey, {
            tenant,
            baseEntry: current.unit,
            tenantEntry: entry,
            outcome: Object.freeze({ ...outcome, cached: true as const }),
          });
          observer.decisionCache?.('miss');
        } else {
          observer.decisionCache?.('bypass');
        }
      }
      return outcome;
    },
  };
}
