// The policy directory as a source of units: reads base and tenants, compiles them (tenants in packs), loads them into the registry; watch mode.
// size: the directory's load steps (first load in packs, per-tenant reloads, data-only reloads, removals) share one context and one set of rules about what is kept on failure; each step is a function of its own.
//
// At start-up tenants are compiled several to a module (a pack); later a changed tenant is compiled
// alone, and a data-only change rebuilds its group's instance without running opa. Whatever is
// built is handed to the registry, which puts it in force; a failure is recorded there per unit
// and leaves what was in force.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { PolicyConfig } from '../config/types.js';
import { BASE_DIR, TENANTS_DIR, UNIT_ENTRYPOINT } from './conventions.js';
import { mergeDataFiles } from './data-files.js';
import { type DirWatcher, watchPolicyDir } from './dir-watcher.js';
import { PolicyError, describeThrown } from './errors.js';
import type { ActiveUnit, GroupMember } from './host-group.js';
import { mapSettledLimited } from './map-limited.js';
import { PINNED_OPA_VERSION } from './opa-cli.js';
import { type UnitCompiler, createUnitCompiler } from './unit-compiler.js';
import {
  type PolicyLogger,
  type PolicyObserver,
  type UnitRegistry,
  asPolicyError,
  unitMetricName,
} from './unit-registry.js';
import { type UnitSnapshot, listTenants, readUnitSnapshot, unitId } from './unit-sources.js';

export interface DirSourceOptions {
  readonly config: PolicyConfig;
  readonly registry: UnitRegistry;
  readonly logger: PolicyLogger;
  readonly observer: PolicyObserver;
  /** Unit ids served by bundles: the directory never loads these. */
  readonly skip: ReadonlySet<string>;
  /** Compiles at once (each is an `opa build` process). */
  readonly concurrency: number;
}

/** What the policy directory loads into the registry. Loads are queued by the caller (registry.runLoad). */
export interface DirSource {
  /** First load: base alone (unless a bundle serves it), tenants in packs. Throws when base fails. */
  loadAll(): Promise<void>;
  /** (Re)loads base from the directory; throws when it fails (recorded in the registry first). */
  loadBase(): Promise<void>;
  /**
   * Re-reads the given units (`base`, tenant ids, `*`: every tenant; none: all) and swaps in
   * whatever changed. Failures are recorded per unit, never thrown.
   */
  reload(units?: { readonly base?: boolean; readonly tenants?: readonly string[] }): Promise<void>;
  /** With `policies.watch`, starts watching the directory; resolves once the watcher sees every change. */
  watch(): Promise<void>;
  /** Stops watching. */
  close(): void;
  /** Forgets what it compiled (stop, a failed start). */
  forget(): void;
  /** The opa binary in use, once one was needed. */
  opa(): { path: string; version: string } | undefined;
}

/** A directory tenant as last compiled successfully. */
interface DirMember {
  readonly snapshot: UnitSnapshot;
  readonly data: Record<string, unknown>;
}

function stablePack(tenant: string, packs: number): number {
  return createHash('sha256').update(tenant).digest().readUInt32BE(0) % packs;
}

/** What the directory steps share: the source's options and what it compiled. */
interface DirContext {
  readonly config: PolicyConfig;
  readonly registry: UnitRegistry;
  readonly logger: PolicyLogger;
  readonly observer: PolicyObserver;
  readonly concurrency: number;
  /** Unit ids served by bundles. */
  readonly bundleUnits: ReadonlySet<string>;
  readonly policyDir: string;
  readonly perModule: number;
  /** Directory tenants as last compiled successfully, by tenant id. */
  readonly dirMembers: Map<string, DirMember>;
  /** Packs the tenants were spread over at start-up. */
  packCount: number;
  compiler: UnitCompiler | undefined;
}

async function getCompiler(ctx: DirContext): Promise<UnitCompiler> {
  const { config, logger } = ctx;
  if (ctx.compiler !== undefined) return ctx.compiler;
  ctx.compiler = await createUnitCompiler({
    ...(config.opaPath !== undefined && { opaPath: config.opaPath }),
    ...(config.cacheDir !== undefined && { cacheDir: config.cacheDir }),
  });
  if (ctx.compiler.opaVersion !== PINNED_OPA_VERSION) {
    logger.warn(
      { opa: ctx.compiler.opa.path, version: ctx.compiler.opaVersion, pinned: PINNED_OPA_VERSION },
      'opa version differs from the pinned one; policies are tested against the pinned version',
    );
  }
  return ctx.compiler;
}

async function snapshotOf(ctx: DirContext, kind: 'base' | 'tenant', tenant?: string) {
  const { policyDir } = ctx;
  const snapshot = await readUnitSnapshot(policyDir, kind, tenant);
  const data = mergeDataFiles(snapshot.id, snapshot.dataFiles);
  return { snapshot, data };
}

/** Compiles one pack of tenants (new snapshots replacing members) and swaps in every unit that built. */
async function compileTenants(
  ctx: DirContext,
  pack: number,
  changed: readonly DirMember[],
): Promise<void> {
  const { registry, logger, dirMembers } = ctx;
  const c = await getCompiler(ctx);
  const changedIds = new Set(changed.map((m) => m.snapshot.id));
  const members = new Map<string, DirMember>();
  for (const [tenant, member] of dirMembers) {
    if (
      stablePack(tenant, ctx.packCount) === pack &&
      registry.active(member.snapshot.id)?.group === `pack:${pack}`
    ) {
      members.set(member.snapshot.id, member);
    }
  }
  for (const member of changed) members.set(member.snapshot.id, member);
  const list = [...members.values()].sort((a, b) => a.snapshot.id.localeCompare(b.snapshot.id));
  const started = performance.now();
  const result = await c.compilePack(list.map((m) => m.snapshot));
  const ms = Math.round(performance.now() - started);

  for (const [id, error] of result.failures) {
    const member = members.get(id)!;
    if (changedIds.has(id)) registry.recordFailure(id, error, 'dir', member.snapshot.revision);
    else
      logger.warn(
        { unit: id, error: error.message },
        'a unit that compiled before no longer does; keeping it',
      );
  }
  const built = new Map<string, ActiveUnit>();
  if (result.module !== undefined && result.packed.size > 0) {
    const packMembers = [...result.packed].map(([id, entrypoint]) => {
      const m = members.get(id)!;
      return memberOf(m.snapshot, m.data, entrypoint);
    });
    try {
      for (const [id, unit] of await registry.buildGroup(
        `pack:${pack}`,
        result.module,
        packMembers,
      ))
        built.set(id, unit);
    } catch (thrown) {
      for (const m of packMembers)
        if (changedIds.has(m.id)) registry.recordFailure(m.id, thrown, 'dir', m.revision);
    }
  }
  for (const [id, compiled] of result.solo) {
    const m = members.get(id)!;
    try {
      const units = await registry.buildGroup(`solo:${id}`, compiled, [
        memberOf(m.snapshot, m.data, UNIT_ENTRYPOINT.tenant),
      ]);
      for (const [unitIdKey, unit] of units) built.set(unitIdKey, unit);
    } catch (thrown) {
      if (changedIds.has(id)) registry.recordFailure(id, thrown, 'dir', m.snapshot.revision);
    }
  }
  registry.swapIn(built);
  for (const unit of built.values()) {
    const m = members.get(unit.id)!;
    dirMembers.set(unit.tenant!, m);
  }
  registry.reportLoaded(new Map([...built].filter(([id]) => changedIds.has(id))), ms);
}

/** Compiles one tenant into a module of its own and swaps it in; a failure keeps what was serving. */
async function compileAlone(ctx: DirContext, next: DirMember): Promise<void> {
  const { registry, dirMembers } = ctx;
  const { snapshot, data } = next;
  try {
    const c = await getCompiler(ctx);
    const started = performance.now();
    const compiled = await c.compileSolo(snapshot);
    const units = await registry.buildGroup(`solo:${snapshot.id}`, compiled, [
      memberOf(snapshot, data, UNIT_ENTRYPOINT.tenant),
    ]);
    registry.swapIn(units);
    dirMembers.set(snapshot.tenant!, next);
    registry.reportLoaded(units, Math.round(performance.now() - started));
  } catch (thrown) {
    registry.recordFailure(snapshot.id, thrown, 'dir', snapshot.revision);
  }
}

/** Rebuilds a group's instance with new data for some members; same module, no compile. */
async function reloadData(
  ctx: DirContext,
  groupKey: string,
  updates: ReadonlyMap<string, DirMember>,
): Promise<void> {
  const { registry, logger, observer, dirMembers } = ctx;
  const group = registry.group(groupKey)!;
  const members = [...group.members.values()].map((m) => {
    const update = updates.get(m.id);
    return update === undefined
      ? m
      : { ...m, revision: update.snapshot.revision, data: update.data };
  });
  const units = await registry.buildGroup(groupKey, group.compiled, members);
  registry.swapIn(units);
  for (const [id, update] of updates) {
    if (update.snapshot.tenant !== undefined) dirMembers.set(update.snapshot.tenant, update);
    logger.info(
      { unit: id, revision: update.snapshot.revision, module: groupKey },
      'policy data reloaded',
    );
    observer.load?.(unitMetricName(id), 'dir', 'ok');
  }
}

async function loadBaseFromDir(ctx: DirContext): Promise<void> {
  const { registry } = ctx;
  let next: { snapshot: UnitSnapshot; data: Record<string, unknown> };
  try {
    next = await snapshotOf(ctx, 'base');
  } catch (thrown) {
    registry.recordFailure('base', thrown, 'dir');
    throw thrown;
  }
  const current = registry.base()?.unit;
  if (
    current?.origin === 'dir' &&
    current.revision === next.snapshot.revision &&
    registry.base()?.lastError === undefined
  )
    return;
  try {
    if (
      current?.origin === 'dir' &&
      current.codeHash === next.snapshot.regoHash &&
      registry.group(current.group)?.members.has('base')
    ) {
      await reloadData(ctx, current.group, new Map([['base', next]]));
      return;
    }
    const c = await getCompiler(ctx);
    const started = performance.now();
    const compiled = await c.compileSolo(next.snapshot);
    const units = await registry.buildGroup('solo:base', compiled, [
      memberOf(next.snapshot, next.data, UNIT_ENTRYPOINT.base),
    ]);
    registry.swapIn(units);
    registry.reportLoaded(units, Math.round(performance.now() - started));
  } catch (thrown) {
    registry.recordFailure('base', thrown, 'dir', next.snapshot.revision);
    throw thrown;
  }
}

function removeTenant(ctx: DirContext, tenant: string): void {
  const { registry, dirMembers } = ctx;
  dirMembers.delete(tenant);
  registry.removeTenant(tenant);
}

/** Re-reads the given tenants from the directory and swaps in whatever changed. */
async function reloadTenants(ctx: DirContext, ids: readonly string[]): Promise<void> {
  const { registry, concurrency, bundleUnits, policyDir } = ctx;
  const recompile: DirMember[] = [];
  const dataOnly = new Map<string, Map<string, DirMember>>();
  for (const tenant of ids) {
    if (bundleUnits.has(`tenant:${tenant}`)) continue;
    const id = unitId('tenant', tenant);
    const exists = await stat(join(policyDir, TENANTS_DIR, tenant)).then(
      (s) => s.isDirectory(),
      () => false,
    );
    const entry = registry.tenant(tenant);
    if (!exists) {
      if (entry !== undefined && entry.kind !== 'removed') removeTenant(ctx, tenant);
      continue;
    }
    let next: { snapshot: UnitSnapshot; data: Record<string, unknown> };
    try {
      next = await snapshotOf(ctx, 'tenant', tenant);
    } catch (thrown) {
      registry.recordFailure(id, thrown, 'dir');
      continue;
    }
    const current = entry?.kind === 'active' ? entry : undefined;
    if (
      current !== undefined &&
      current.unit.revision === next.snapshot.revision &&
      current.lastError === undefined
    ) {
      continue;
    }
    const group = current === undefined ? undefined : registry.group(current.unit.group);
    if (
      current?.unit.origin === 'dir' &&
      current.unit.codeHash === next.snapshot.regoHash &&
      group?.members.has(id)
    ) {
      const updates = dataOnly.get(current.unit.group) ?? new Map<string, DirMember>();
      updates.set(id, next);
      dataOnly.set(current.unit.group, updates);
      continue;
    }
    recompile.push(next);
  }
  for (const [groupKey, updates] of dataOnly) {
    try {
      await reloadData(ctx, groupKey, updates);
    } catch (thrown) {
      for (const [id, update] of updates)
        registry.recordFailure(id, thrown, 'dir', update.snapshot.revision);
    }
  }
  // A changed tenant is compiled alone (one small `opa build`, well under a second) rather than
  // with its pack: the edit is in effect sooner, and its pack mates are not touched at all.
  await mapSettledLimited(recompile, concurrency, (next) => compileAlone(ctx, next));
  registry.reportTotals();
}

async function reloadFromDir(
  ctx: DirContext,
  units: { base?: boolean; tenants?: readonly string[] } = {},
): Promise<void> {
  const { registry, bundleUnits, policyDir } = ctx;
  const all = units.base === undefined && units.tenants === undefined;
  if (units.base || all) {
    if (!bundleUnits.has('base')) await loadBaseFromDir(ctx).catch(() => undefined);
  }
  let ids = units.tenants ?? [];
  if (all || ids.includes('*')) {
    const known = [...registry.tenants().entries()].filter(
      ([, e]) => e.kind !== 'active' || e.unit.origin === 'dir',
    );
    ids = [
      ...new Set([...(await listTenants(policyDir).catch(() => [])), ...known.map(([t]) => t)]),
    ];
  }
  await reloadTenants(ctx, ids);
}

/** First load of the directory units: base alone, tenants in packs. */
async function loadDir(ctx: DirContext): Promise<void> {
  const { registry, concurrency, bundleUnits, policyDir, perModule } = ctx;
  const wantBase = !bundleUnits.has('base');
  const hasDir = existsSync(policyDir);
  if (!wantBase && !hasDir) return;
  if (wantBase) {
    try {
      await loadBaseFromDir(ctx);
    } catch (thrown) {
      const error = asPolicyError(thrown, 'base');
      throw new PolicyError(
        error.code,
        `cannot load the base policy (${resolve(policyDir, BASE_DIR)}): ${error.message}`,
        { unit: 'base', problems: error.problems, builtins: error.builtins, cause: error },
      );
    }
  }
  const ids = (await listTenants(policyDir)).filter((t) => !bundleUnits.has(`tenant:${t}`));
  if (ids.length === 0) return;
  ctx.packCount = Math.max(1, Math.ceil(ids.length / perModule));
  const byPack = new Map<number, DirMember[]>();
  const snapshots = await mapSettledLimited(ids, 8, (tenant) => snapshotOf(ctx, 'tenant', tenant));
  snapshots.forEach((settled, index) => {
    const tenant = ids[index]!;
    if (settled.status === 'rejected') {
      registry.recordFailure(unitId('tenant', tenant), settled.reason, 'dir');
      return;
    }
    const pack = stablePack(tenant, ctx.packCount);
    byPack.set(pack, [...(byPack.get(pack) ?? []), settled.value]);
  });
  await getCompiler(ctx);
  const results = await mapSettledLimited([...byPack], concurrency, ([pack, changed]) =>
    compileTenants(ctx, pack, changed),
  );
  for (const settled of results) if (settled.status === 'rejected') throw settled.reason;
}

function memberOf(
  snapshot: UnitSnapshot,
  data: Record<string, unknown>,
  entrypoint: string,
): GroupMember {
  return {
    id: snapshot.id,
    kind: snapshot.kind,
    ...(snapshot.tenant !== undefined && { tenant: snapshot.tenant }),
    revision: snapshot.revision,
    origin: 'dir',
    codeHash: snapshot.regoHash,
    entrypoint,
    data,
  };
}

/** Builds the directory source; nothing is read until loadAll(). */
export function createDirSource(options: DirSourceOptions): DirSource {
  const { config, registry, logger } = options;
  const policyDir = resolve(config.dir);
  const ctx: DirContext = {
    config,
    registry,
    logger,
    observer: options.observer,
    concurrency: options.concurrency,
    bundleUnits: options.skip,
    policyDir,
    perModule: config.tenantsPerModule ?? 32,
    dirMembers: new Map(),
    packCount: 1,
    compiler: undefined,
  };
  let dirWatcher: DirWatcher | undefined;

  return {
    loadAll: () => loadDir(ctx),
    loadBase: () => loadBaseFromDir(ctx),
    reload: (units) => reloadFromDir(ctx, units),
    async watch() {
      if (!config.watch || !existsSync(policyDir)) return;
      dirWatcher = watchPolicyDir(
        policyDir,
        config.watchDebounceMs ?? 100,
        (changed) =>
          registry.runLoad(() =>
            reloadFromDir(ctx, { base: changed.base, tenants: [...changed.tenants] }),
          ),
        (error) => logger.warn({ error: describeThrown(error) }, 'policy directory watch failed'),
      );
      await dirWatcher.ready;
      logger.info({ dir: policyDir }, 'watching the policy directory');
    },
    close() {
      dirWatcher?.close();
      dirWatcher = undefined;
    },
    forget() {
      ctx.dirMembers.clear();
    },
    opa: () =>
      ctx.compiler === undefined
        ? undefined
        : { path: ctx.compiler.opa.path, version: ctx.compiler.opaVersion },
  };
}
