// The one owner of what is in force: the base unit, each tenant's entry, the groups sharing a module instance.
//
// Sources (the policy directory, bundles) build units and hand them here; nothing else writes this
// state. Every swap replaces one map entry in one assignment, so evaluate() (synchronous) sees one
// version of each unit from start to end. Loads run one after another through one queue
// (runLoad), whatever source they come from. Listeners added with onChange() hear of every change
// of the units in force: a swap, a failure, a removal.
import type { JsBuiltin } from './builtins.js';
import { PolicyError, describeThrown } from './errors.js';
import { type ActiveUnit, type GroupMember, type UnitOrigin, buildGroup } from './host-group.js';
import type { LayerResult } from './types.js';
import type { CompiledModule } from './wasm-host.js';

/** The logging the engine does; pino's logger fits. Objects first, message second. */
export interface PolicyLogger {
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

/** Hooks for metrics; unit names are `base` or `tenants/<id>`. */
export interface PolicyObserver {
  /** A unit's active revision changed; `revision` undefined: it has none any more. */
  revision?(unit: string, revision: string | undefined, previous: string | undefined): void;
  /** A load of a unit finished. */
  load?(unit: string, origin: UnitOrigin, result: 'ok' | 'error'): void;
  /** A bundle poll finished. */
  bundlePoll?(unit: string, result: 'activated' | 'not_modified' | 'error'): void;
  /** A bundle was activated, at this time (ms since the epoch). */
  bundleActivated?(unit: string, at: number): void;
  /** A decision cache look-up: served (hit), evaluated and stored (miss), or evaluated only (bypass). */
  decisionCache?(result: 'hit' | 'miss' | 'bypass'): void;
  /** Totals after any change. */
  totals?(totals: { active: number; failed: number; removed: number; modules: number }): void;
}

/** A failed load, kept for status. */
export interface UnitFailure {
  readonly error: PolicyError;
  readonly at: number;
}

/** The base unit in force, with the last failure to load a newer version. */
export interface BaseEntry {
  readonly unit: ActiveUnit;
  readonly lastError?: UnitFailure;
}

/** What is in force for one tenant: a unit, or a fail-closed deny (failed to load, or removed). */
export type TenantEntry =
  | { readonly kind: 'active'; readonly unit: ActiveUnit; readonly lastError?: UnitFailure }
  | {
      readonly kind: 'failed';
      readonly failure: UnitFailure;
      readonly deny: LayerResult;
      readonly revision?: string;
    }
  | { readonly kind: 'removed'; readonly deny: LayerResult; readonly at: number };

/** One module instance and the units placed in it. */
export interface UnitGroup {
  readonly compiled: CompiledModule;
  readonly members: Map<string, GroupMember>;
}

export interface UnitRegistryOptions {
  readonly logger: PolicyLogger;
  readonly observer: PolicyObserver;
  /** `policies.on_tenant_removed`: deny the tenant's requests, or let base alone decide them. */
  readonly onTenantRemoved: 'deny' | 'base_only';
  /** The host builtins every instance gets (the decision clock's `time.now_ns`). */
  readonly builtins: Readonly<Record<string, JsBuiltin>>;
}

export interface UnitRegistry {
  /** The base unit in force, if any. */
  base(): BaseEntry | undefined;
  /** What is in force for `tenant`, if anything. */
  tenant(tenant: string): TenantEntry | undefined;
  /** Every tenant entry, by tenant id (a live view: do not keep it across awaits). */
  tenants(): ReadonlyMap<string, TenantEntry>;
  /** The unit in force for a unit id (`base`, `tenant:<id>`), when one is active. */
  active(id: string): ActiveUnit | undefined;
  /** The group with this key (`pack:<n>`, `solo:<id>`, `bundle:<hash>`), if it exists. */
  group(key: string): UnitGroup | undefined;
  groupCount(): number;
  /** Instantiates `compiled` for `members` and records the group; the units are not yet in force. */
  buildGroup(
    key: string,
    compiled: CompiledModule,
    members: readonly GroupMember[],
  ): Promise<Map<string, ActiveUnit>>;
  /** Puts built units in force, one map entry each, replacing whatever was there. */
  swapIn(units: ReadonlyMap<string, ActiveUnit>): void;
  /** Records a failed load: an active version keeps serving, else the tenant is denied. */
  recordFailure(id: string, thrown: unknown, origin: UnitOrigin, revision?: string): void;
  /** A tenant's source is gone: deny it, or forget it, per `onTenantRemoved`. */
  removeTenant(tenant: string): void;
  /** Logs and counts successful loads (`ms`: compile time). */
  reportLoaded(units: ReadonlyMap<string, ActiveUnit>, ms?: number): void;
  /** Publishes the totals (metrics) and tells the listeners. */
  reportTotals(): void;
  /** Evaluation errors of a unit since it was swapped in. */
  evalErrors(id: string): number | undefined;
  /** Runs `task` after every load queued before it: one load at a time. */
  runLoad<T>(task: () => Promise<T>): Promise<T>;
  /** Resolves when every queued load has finished. */
  idle(): Promise<unknown>;
  /** Forgets every unit and group (stop, a failed start). */
  clear(): void;
  /** Calls `listener` after any change of the units in force; returns the unsubscribe. */
  onChange(listener: () => void): () => void;
}

/** Metric / config name of a unit id: `base` or `tenants/<id>`. */
export function unitMetricName(id: string): string {
  return id === 'base' ? 'base' : `tenants/${id.slice('tenant:'.length)}`;
}

/** A failure as status shows it (wire names). */
export function failureReport(failure: UnitFailure | undefined) {
  if (failure === undefined) return undefined;
  const { error } = failure;
  return {
    code: error.code,
    message: error.message,
    at: new Date(failure.at).toISOString(),
    ...(error.problems.length > 0 && { problems: error.problems }),
  };
}

/** Wraps anything thrown by a load into a PolicyError naming the unit. */
export function asPolicyError(thrown: unknown, id: string): PolicyError {
  if (thrown instanceof PolicyError) return thrown;
  return new PolicyError('load_failed', `${id}: ${describeThrown(thrown)}`, {
    unit: id,
    cause: thrown,
  });
}

/** A frozen deny layer: the same object is served for every request of a failed or removed tenant. */
export function frozenDeny(code: string, message: string, revision: string): LayerResult {
  return Object.freeze({
    allow: false,
    reasons: Object.freeze([Object.freeze({ code, message })]),
    revision,
    evalNs: 0,
  });
}

function failedDeny(tenant: string, revision?: string): LayerResult {
  // Callers learn only that the tenant's policy is unavailable; the details are for operators.
  return frozenDeny(
    'policy_denied',
    `the policy of tenant ${tenant} failed to load; its requests are denied until it is fixed`,
    revision ?? '',
  );
}

function logFailure(logger: PolicyLogger, id: string, error: PolicyError, serving: boolean): void {
  logger.error(
    {
      unit: id,
      code: error.code,
      error: error.message,
      ...(error.problems.length > 0 && {
        problems: error.problems.map((p) => `${p.file}:${p.line}: ${p.kind}: ${p.text}`),
      }),
    },
    serving
      ? 'policy failed to load; still serving the previous version'
      : id === 'base'
        ? 'base policy failed to load'
        : 'tenant policy failed to load; denying all of its requests (fail closed)',
  );
}

/** Counts successful loads and logs them: one line per unit, or one for a whole pack. */
function logLoaded(
  logger: PolicyLogger,
  observer: PolicyObserver,
  units: ReadonlyMap<string, ActiveUnit>,
  ms: number | undefined,
): void {
  for (const unit of units.values()) observer.load?.(unitMetricName(unit.id), unit.origin, 'ok');
  if (units.size > 4) {
    // A pack at start-up: one line, not one per tenant.
    const first = units.values().next().value!;
    logger.info(
      { units: units.size, module: first.group, ...(ms !== undefined && { compileMs: ms }) },
      'policies loaded',
    );
    return;
  }
  for (const unit of units.values()) {
    logger.info(
      {
        unit: unit.id,
        revision: unit.revision,
        module: unit.group,
        ...(ms !== undefined && { compileMs: ms }),
      },
      'policy loaded',
    );
  }
}

function removedDeny(tenant: string): LayerResult {
  return frozenDeny(
    'policy_denied',
    `the policy of tenant ${tenant} was removed; its requests are denied (policies.on_tenant_removed: deny)`,
    '',
  );
}

/** Builds an empty registry. */
export function createUnitRegistry(options: UnitRegistryOptions): UnitRegistry {
  const { logger, observer, onTenantRemoved, builtins } = options;
  let base: BaseEntry | undefined;
  const tenants = new Map<string, TenantEntry>();
  const groups = new Map<string, UnitGroup>();
  const evalErrors = new Map<string, number>();
  const listeners = new Set<() => void>();
  let queue: Promise<unknown> = Promise.resolve();

  function changed(): void {
    for (const listener of listeners) listener();
  }

  function revisionChanged(id: string, revision: string | undefined, previous?: string): void {
    observer.revision?.(unitMetricName(id), revision, previous);
    changed();
  }

  function onEvalError(unit: string, message: string): void {
    const count = (evalErrors.get(unit) ?? 0) + 1;
    evalErrors.set(unit, count);
    // A policy that fails on every request must not flood the log: 1st, 10th, 100th, ...
    if (/^10*$/.test(String(count))) {
      logger.error({ unit, count, error: message }, 'policy evaluation failed; request denied');
    }
  }

  function active(id: string): ActiveUnit | undefined {
    if (id === 'base') return base?.unit;
    const entry = tenants.get(id.slice('tenant:'.length));
    return entry?.kind === 'active' ? entry.unit : undefined;
  }

  /** Forgets `id` in every group but `keep`; drops groups left empty. */
  function leaveGroups(id: string, keep?: string): void {
    for (const [key, group] of groups) {
      if (key === keep) continue;
      if (group.members.delete(id) && group.members.size === 0) groups.delete(key);
    }
  }

  return {
    base: () => base,
    tenant: (tenant) => tenants.get(tenant),
    tenants: () => tenants,
    active,
    group: (key) => groups.get(key),
    groupCount: () => groups.size,

    async buildGroup(key, compiled, members) {
      const units = await buildGroup(key, key, compiled, members, builtins, onEvalError);
      groups.set(key, { compiled, members: new Map(members.map((m) => [m.id, m])) });
      return units;
    },

    swapIn(units) {
      for (const unit of units.values()) {
        const previous = active(unit.id)?.revision;
        if (unit.id === 'base') base = { unit };
        else tenants.set(unit.tenant!, { kind: 'active', unit });
        leaveGroups(unit.id, unit.group);
        evalErrors.delete(unit.id);
        if (previous !== unit.revision) revisionChanged(unit.id, unit.revision, previous);
      }
    },

    recordFailure(id, thrown, origin, revision) {
      const error = asPolicyError(thrown, id);
      const failure: UnitFailure = { error, at: Date.now() };
      observer.load?.(unitMetricName(id), origin, 'error');
      if (id === 'base') {
        if (base !== undefined) base = { unit: base.unit, lastError: failure };
        logFailure(logger, id, error, base !== undefined);
        return;
      }
      const tenant = id.slice('tenant:'.length);
      const entry = tenants.get(tenant);
      if (entry?.kind === 'active') {
        tenants.set(tenant, { kind: 'active', unit: entry.unit, lastError: failure });
        logFailure(logger, id, error, true);
      } else {
        tenants.set(tenant, {
          kind: 'failed',
          failure,
          deny: failedDeny(tenant, revision),
          ...(revision !== undefined && { revision }),
        });
        logFailure(logger, id, error, false);
      }
    },

    removeTenant(tenant) {
      const id = `tenant:${tenant}`;
      const previous = active(id)?.revision;
      leaveGroups(id);
      if (onTenantRemoved === 'deny') {
        tenants.set(tenant, { kind: 'removed', at: Date.now(), deny: removedDeny(tenant) });
      } else {
        tenants.delete(tenant);
      }
      revisionChanged(id, undefined, previous);
      logger.warn(
        { unit: id, onTenantRemoved },
        onTenantRemoved === 'deny'
          ? 'tenant policy directory removed; denying its requests'
          : 'tenant policy directory removed; its requests are decided by base alone',
      );
    },

    reportLoaded: (units, ms) => logLoaded(logger, observer, units, ms),

    reportTotals() {
      let activeCount = base === undefined ? 0 : 1;
      let failed = 0;
      let removed = 0;
      for (const entry of tenants.values()) {
        if (entry.kind === 'active') activeCount++;
        else if (entry.kind === 'failed') failed++;
        else removed++;
      }
      observer.totals?.({ active: activeCount, failed, removed, modules: groups.size });
      changed();
    },

    evalErrors: (id) => evalErrors.get(id),

    runLoad(task) {
      const next = queue.then(task, task);
      queue = next.catch(() => undefined);
      return next;
    },

    idle: () => queue,

    clear() {
      base = undefined;
      tenants.clear();
      groups.clear();
    },

    onChange(listener) {
      // Wrapped, so one listener subscribed twice is two subscriptions, each removable on its own.
      const entry = () => listener();
      listeners.add(entry);
      return () => void listeners.delete(entry);
    },
  };
}
