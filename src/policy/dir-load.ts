// The directory's load steps: the first load (base alone, tenants in packs), base and tenant reloads, removals; what is kept when a step fails.
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { BASE_DIR, TENANTS_DIR, UNIT_ENTRYPOINT } from './conventions.js';
import { compileAlone, compileTenants, reloadData } from './dir-compile.js';
import {
  type DirContext,
  type DirMember,
  getCompiler,
  memberOf,
  snapshotOf,
  stablePack,
} from './dir-context.js';
import { PolicyError } from './errors.js';
import { mapSettledLimited } from './map-limited.js';
import { asPolicyError } from './unit-registry.js';
import { type UnitSnapshot, listTenants, unitId } from './unit-sources.js';

/** (Re)loads base from the directory; records and throws a failure. */
export async function loadBaseFromDir(ctx: DirContext): Promise<void> {
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

/** Re-reads the given units (none: all) and swaps in whatever changed. */
export async function reloadFromDir(
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
export async function loadDir(ctx: DirContext): Promise<void> {
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
