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
import type { ComponentState, ComponentStatus } from '../lib/lifecycle.js';
import { createDecisionClock } from './builtins.js';
import { createBundleSources } from './bundle-source.js';
import { createDirSource } from './dir-source.js';
import { NOT_STARTED, createLayeredEval } from './layered-eval.js';
import { PolicyError, describeThrown } from './errors.js';
import type { ActiveUnit } from './host-group.js';
import type { PolicyEngine, PolicyUnitStatus } from './types.js';
import {
  type PolicyLogger,
  type PolicyObserver,
  asPolicyError,
  createUnitRegistry,
  failureReport,
} from './unit-registry.js';
import { unitId } from './unit-sources.js';

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
  let lastFailure: PolicyError | undefined;
  /**
   * Tenants whose policy failed to load during start-up and has not loaded since. While any is left
   * the component is ERROR (not ready): a rollout with a broken tenant policy is held back, and the
   * replicas already serving keep serving. Failures after start-up only turn it WARN (ready).
   */
  const startupFailures = new Set<string>();

  /** Stops watching and polling: nothing loads any more. */
  async function stopSources(): Promise<void> {
    dir.close();
    await bundleSources.stop();
  }

  // ---- status ------------------------------------------------------------------------------

  function unitStatus(id: string): PolicyUnitStatus | undefined {
    const bundle = bundleSources.status(id);
    const common = (unit: ActiveUnit) => ({
      revision: unit.revision,
      module: unit.group,
      activated_at: new Date(unit.activatedAt).toISOString(),
      ...(registry.evalErrors(id) !== undefined && { eval_errors: registry.evalErrors(id) }),
    });
    if (id === 'base') {
      const base = registry.base();
      if (base === undefined) return undefined;
      const error = failureReport(base.lastError ?? bundleSources.lastError('base'));
      return {
        unit: 'base',
        state: error === undefined ? 'OK' : 'WARN',
        origin: base.unit.origin,
        ...common(base.unit),
        ...(error && { error }),
        ...(bundle && { bundle }),
      };
    }
    const tenant = id.slice('tenant:'.length);
    const entry = registry.tenant(tenant);
    if (entry === undefined) return undefined;
    const origin = bundleSources.units.has(id) ? 'bundle' : 'dir';
    if (entry.kind === 'active') {
      const error = failureReport(entry.lastError ?? bundleSources.lastError(id));
      return {
        unit: id,
        state: error === undefined ? 'OK' : 'WARN',
        origin: entry.unit.origin,
        ...common(entry.unit),
        ...(error && { error }),
        ...(bundle && { bundle }),
      };
    }
    if (entry.kind === 'failed') {
      return {
        unit: id,
        state: 'ERROR',
        origin,
        ...(entry.revision !== undefined && { revision: entry.revision }),
        error: failureReport(entry.failure)!,
        ...(bundle && { bundle }),
      };
    }
    return { unit: id, state: 'ERROR', origin, removed: true };
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
      if (!running) return [];
      const list: PolicyUnitStatus[] = [];
      const b = unitStatus('base');
      if (b !== undefined) list.push(b);
      for (const tenant of [...registry.tenants().keys()].sort()) {
        const status = unitStatus(unitId('tenant', tenant));
        if (status !== undefined) list.push(status);
      }
      return list;
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
            lastFailure = asPolicyError(thrown, 'base');
            throw lastFailure;
          }
          lastFailure = undefined;
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
        lastFailure = asPolicyError(thrown, 'base');
        logger.error(
          { code: lastFailure.code, error: lastFailure.message },
          'policies failed to load',
        );
        throw lastFailure;
      }
      running = true;
      lastFailure = undefined;
      for (const [tenant, entry] of registry.tenants())
        if (entry.kind === 'failed') startupFailures.add(tenant);
      registry.reportTotals();
      await dir.watch();
    },

    async stop() {
      running = false;
      await stopSources();
      await registry.idle();
      registry.clear();
      dir.forget();
      lastFailure = undefined;
      startupFailures.clear();
    },

    status(): ComponentStatus {
      const base = registry.base();
      if (!running || base === undefined) {
        return lastFailure === undefined
          ? { state: 'NOT_READY', message: 'policies are not loaded' }
          : { state: 'ERROR', message: lastFailure.message, detail: { code: lastFailure.code } };
      }
      const detailTenants: Record<string, unknown> = {};
      const failed: string[] = [];
      const stale: string[] = [];
      const removed: string[] = [];
      const many = registry.tenants().size > 100;
      for (const [tenant, entry] of registry.tenants()) {
        const status = unitStatus(unitId('tenant', tenant))!;
        if (entry.kind === 'failed') failed.push(tenant);
        else if (entry.kind === 'removed') removed.push(tenant);
        else if (status.state === 'WARN') stale.push(tenant);
        if (many && status.state === 'OK') continue;
        detailTenants[tenant] = {
          state: status.state,
          ...(status.revision !== undefined && { revision: status.revision }),
          ...(status.error !== undefined && {
            code: status.error.code,
            error: status.error.message,
          }),
          ...(status.removed && { removed: true }),
          ...(status.eval_errors !== undefined && { eval_errors: status.eval_errors }),
        };
      }
      const baseStatus = unitStatus('base')!;
      const detail = {
        ...(dir.opa() !== undefined && { opa: dir.opa() }),
        base: {
          state: baseStatus.state,
          revision: baseStatus.revision,
          ...(baseStatus.eval_errors !== undefined && { eval_errors: baseStatus.eval_errors }),
          ...(baseStatus.error !== undefined && {
            code: baseStatus.error.code,
            error: baseStatus.error.message,
          }),
        },
        tenant_count: registry.tenants().size,
        modules: registry.groupCount(),
        tenants: detailTenants,
      };
      for (const tenant of startupFailures) {
        if (registry.tenant(tenant)?.kind !== 'failed') startupFailures.delete(tenant);
      }
      const problems: string[] = [];
      if (startupFailures.size > 0) {
        problems.push(
          `policies of tenant(s) ${[...startupFailures].join(', ')} failed to load at start-up; not ready until they load`,
        );
      }
      if (failed.length > startupFailures.size) {
        const later = failed.filter((tenant) => !startupFailures.has(tenant));
        problems.push(
          `policies failed to load for tenant(s) ${later.join(', ')}; their requests are denied`,
        );
      }
      if (removed.length > 0) {
        problems.push(
          `policies of tenant(s) ${removed.join(', ')} were removed; their requests are denied`,
        );
      }
      if (baseStatus.state === 'WARN') {
        problems.push(
          `reload failed, still serving the previous policies: ${baseStatus.error?.message}`,
        );
      }
      if (stale.length > 0) {
        problems.push(
          `reload failed for tenant(s) ${stale.join(', ')}; still serving their previous policies`,
        );
      }
      if (lastFailure !== undefined) {
        problems.push(`reload failed, still serving the previous policies: ${lastFailure.message}`);
      }
      const overall: ComponentState =
        startupFailures.size > 0 ? 'ERROR' : problems.length === 0 ? 'OK' : 'WARN';
      return {
        state: overall,
        message:
          problems.length === 0
            ? `base ${base.unit.revision}, ${registry.tenants().size} tenant polic${registry.tenants().size === 1 ? 'y' : 'ies'}`
            : problems.join('; '),
        detail,
      };
    },
  };
}
