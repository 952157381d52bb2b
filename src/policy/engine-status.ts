// What the engine reports: each unit's state for the admin API, and the component status behind /ready.
//
// Readiness rule: a tenant whose policy failed to load during start-up, and has not loaded since,
// keeps the component ERROR (not ready), so a rollout with a broken tenant policy is held back while
// the replicas already serving keep serving. Failures after start-up only turn it WARN (ready).
import type { ComponentState, ComponentStatus } from '../lib/lifecycle.js';
import type { BundleSources } from './bundle-source.js';
import type { PolicyError } from './errors.js';
import type { ActiveUnit } from './host-group.js';
import type { PolicyUnitStatus } from './types.js';
import { type UnitRegistry, failureReport } from './unit-registry.js';
import { unitId } from './unit-sources.js';

export interface EngineStatusOptions {
  readonly registry: UnitRegistry;
  /** The bundles' download state, and which units they serve. */
  readonly bundles: Pick<BundleSources, 'units' | 'status' | 'lastError'>;
  /** The opa binary in use, once one was needed. */
  readonly opa: () => { path: string; version: string } | undefined;
}

export interface EngineStatus {
  /** Every unit's state, base first then tenants by id. */
  units(): PolicyUnitStatus[];
  /** The component status; `running` false: not started (or a start failed). */
  status(running: boolean): ComponentStatus;
  /** Start-up finished: tenants failed now hold readiness back until they load. */
  started(): void;
  /** A start (or full reload) failed with this error; undefined: the last one succeeded. */
  setStartFailure(error: PolicyError | undefined): void;
  /** Forgets start-up failures (stop). */
  reset(): void;
}

/** One unit's state: what is in force, its last failure, its bundle's state. */
function unitStatusOf(
  registry: UnitRegistry,
  bundleSources: EngineStatusOptions['bundles'],
  id: string,
): PolicyUnitStatus | undefined {
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

/** Builds the status reporting over the registry and the bundle sources. */
export function createEngineStatus(options: EngineStatusOptions): EngineStatus {
  const { registry } = options;
  const bundleSources = options.bundles;
  let lastFailure: PolicyError | undefined;
  /** Tenants whose policy failed to load during start-up and has not loaded since. */
  const startupFailures = new Set<string>();

  const unitStatus = (id: string) => unitStatusOf(registry, bundleSources, id);

  function units(): PolicyUnitStatus[] {
    const list: PolicyUnitStatus[] = [];
    const b = unitStatus('base');
    if (b !== undefined) list.push(b);
    for (const tenant of [...registry.tenants().keys()].sort()) {
      const status = unitStatus(unitId('tenant', tenant));
      if (status !== undefined) list.push(status);
    }
    return list;
  }

  function status(running: boolean): ComponentStatus {
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
      ...(options.opa() !== undefined && { opa: options.opa() }),
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
  }

  return {
    units,
    status,
    started() {
      for (const [tenant, entry] of registry.tenants())
        if (entry.kind === 'failed') startupFailures.add(tenant);
    },
    setStartFailure(error) {
      lastFailure = error;
    },
    reset() {
      lastFailure = undefined;
      startupFailures.clear();
    },
  };
}
