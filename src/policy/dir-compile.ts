// The directory's build steps: a pack of tenants, one tenant alone, a data-only rebuild of a group; each swaps in what built and records what failed.
import { UNIT_ENTRYPOINT } from './conventions.js';
import {
  type DirContext,
  type DirMember,
  getCompiler,
  memberOf,
  stablePack,
} from './dir-context.js';
import type { ActiveUnit } from './host-group.js';
import { unitMetricName } from './unit-registry.js';

/** Compiles one pack of tenants (new snapshots replacing members) and swaps in every unit that built. */
export async function compileTenants(
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
export async function compileAlone(ctx: DirContext, next: DirMember): Promise<void> {
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
export async function reloadData(
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
