// The policy engine: base AND tenant over Wasm units from a directory (packed, watched) or bundles, swapped in atomically.
//
// Every unit is an immutable ActiveUnit held in one map entry. A reload builds the new unit fully
// (compile, instantiate, load data) and then replaces that entry in one assignment; evaluate() is
// synchronous, so a decision sees one version of each layer from start to end, and there is never
// a moment without one. A failed load leaves the entry as it was and is reported (status, metrics,
// log with file:line). All loads run one after another through one queue.
import { availableParallelism } from 'node:os';
import type { PolicyConfig } from '../config/types.js';
import type { FetchLike } from '../lib/fetch-deadline.js';
import type { ComponentStatus } from '../lib/lifecycle.js';
import { createDecisionClock } from './builtins.js';
import { createBundleSources } from './bundle-source.js';
import { createDirSource } from './dir-source.js';
import { createEngineStatus } from './engine-status.js';
import { NOT_STARTED, createLayeredEval } from './layered-eval.js';
import { PolicyError, describeThrown } from './errors.js';
import type { PolicyEngine } from './types.js';
import {
  type PolicyLogger,
  type PolicyObserver,
  asPolicyError,
  createUnitRegistry,
} from './unit-registry.js';

export type { PolicyLogger, PolicyObserver } from './unit-registry.js';

export interface PolicyEngineOptions {
  readonly config: PolicyConfig;
  /** Where load results and policy runtime errors go. Default: nowhere. */
  readonly logger?: PolicyLogger;
  readonly observer?: PolicyObserver;
  /**
   * The clock behind Rego's `time.now_ns()`: nanoseconds since the Unix epoch. Read at most once per
   * evaluate() call (when a policy first asks), so base and tenant see the same instant.
   * Default: the wall clock, millisecond resolution.
   */
  readonly now?: () => bigint | number;
  /** Compiles at once (each is an `opa build` process). Default: 2, or 1 on a single core. */
  readonly compileConcurrency?: number;
  /** HTTP client for bundle servers (tests). Default: global fetch. */
  readonly fetch?: FetchLike;
}

const silent: PolicyLogger = { info() {}, warn() {}, error() {} };

/** Builds the engine. Nothing is compiled until start(). */
export function createPolicyEngine(options: PolicyEngineOptions): PolicyEngine {
  const logger = options.logger ?? silent;
  const observer = options.observer ?? {};
  const config = options.config;
  const concurrency = options.compileConcurrency ?? Math.min(2, availableParallelism());
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new TypeError('compileConcurrency must be a positive integer');
  }
  const onRemoved = config.onTenantRemoved ?? 'deny';
  const clock = createDecisionClock(options.now);

  const registry = createUnitRegistry({
    logger,
    observer,
    onTenantRemoved: onRemoved,
    builtins: clock.builtins,
  });
  const layered = createLayeredEval({
    registry,
    clock,
    decisionCacheSize: config.decisionCacheSize ?? 10_000,
    observer,
  });
  const bundleSources = createBundleSources({
    config,
    registry,
    logger,
    observer,
    ...(options.fetch !== undefined && { fetch: options.fetch }),
  });
  const dir = createDirSource({
    config,
    registry,
    logger,
    observer,
    skip: bundleSources.units,
    concurrency,
  });
  let running = false;
  const reporting = createEngineStatus({ registry, bundles: bundleSources, opa: dir.opa });

  /** Stops watching and polling: nothing loads any more. */
  async function stopSources(): Promise<void> {
    dir.close();
    await bundleSources.stop();
  }

  return {
    evaluate(tenant, input, cacheKey) {
      return running ? layered.evaluate(tenant, input, cacheKey) : NOT_STARTED;
    },

    revisions() {
      const result: Record<string, string> = {};
      const base = registry.base();
      if (base === undefined || !running) return { tenants: result };
      for (const [tenant, entry] of registry.tenants()) {
        if (entry.kind === 'active') result[tenant] = entry.unit.revision;
      }
      return { base: base.unit.revision, tenants: result };
    },

    units() {
      return running ? reporting.units() : [];
    },

    onChange(listener) {
      return registry.onChange(listener);
    },

    reloadFromDir(units) {
      if (!running) return Promise.resolve();
      return registry
        .runLoad(() => dir.reload(units ?? {}))
        .catch((thrown: unknown) =>
          logger.error({ error: describeThrown(thrown) }, 'policy reload failed'),
        );
    },

    async start() {
      if (running) {
        // A second start() is a full reload of the directory units: everything is rebuilt, and a
        // base that no longer compiles leaves every unit as it was.
        await registry.runLoad(async () => {
          try {
            if (!bundleSources.units.has('base')) await dir.loadBase();
          } catch (thrown) {
            const failure = asPolicyError(thrown, 'base');
            reporting.setStartFailure(failure);
            throw failure;
          }
          reporting.setStartFailure(undefined);
          await dir.reload({ tenants: ['*'] });
        });
        return;
      }
      try {
        await registry.runLoad(dir.loadAll);
        await bundleSources.start();
        if (registry.base() === undefined) {
          throw new PolicyError(
            'unit_invalid',
            'no base policy: neither policies.dir/base nor a base bundle is loaded',
          );
        }
      } catch (thrown) {
        await stopSources();
        registry.clear();
        dir.forget();
        const failure = asPolicyError(thrown, 'base');
        reporting.setStartFailure(failure);
        logger.error({ code: failure.code, error: failure.message }, 'policies failed to load');
        throw failure;
      }
      running = true;
      reporting.setStartFailure(undefined);
      reporting.started();
      registry.reportTotals();
      await dir.watch();
    },

    async stop() {
      running = false;
      await stopSources();
      await registry.idle();
      registry.clear();
      dir.forget();
      reporting.reset();
    },

    status(): ComponentStatus {
      return reporting.status(running);
    },
  };
}
