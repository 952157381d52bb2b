// The unit registry alone: what is in force after swaps, failures and removals, what it tells listeners and metrics, its load queue.
import { describe, expect, it } from 'vitest';
import type { ActiveUnit } from '../../src/policy/host-group.js';
import type { LayerResult } from '../../src/policy/types.js';
import {
  type PolicyObserver,
  type UnitRegistry,
  createUnitRegistry,
} from '../../src/policy/unit-registry.js';
import { recordingLogger } from './fixtures.js';

/** A unit that allows, answering with its own revision: enough to tell versions apart. */
function fakeUnit(id: string, revision: string): ActiveUnit {
  const tenant = id === 'base' ? undefined : id.slice('tenant:'.length);
  const result: LayerResult = { allow: true, reasons: [], revision, evalNs: 0 };
  return {
    id,
    kind: tenant === undefined ? 'base' : 'tenant',
    ...(tenant !== undefined && { tenant }),
    revision,
    origin: 'dir',
    group: `solo:${id}`,
    codeHash: revision,
    activatedAt: Date.now(),
    readsClock: false,
    evaluate: () => result,
  };
}

function units(...list: ActiveUnit[]): Map<string, ActiveUnit> {
  return new Map(list.map((unit) => [unit.id, unit]));
}

function registryWith(options: { onTenantRemoved?: 'deny' | 'base_only' } = {}): {
  registry: UnitRegistry;
  events: string[];
  logger: ReturnType<typeof recordingLogger>;
} {
  const events: string[] = [];
  const logger = recordingLogger();
  const observer: PolicyObserver = {
    revision: (unit, revision, previous) =>
      events.push(`revision ${unit} ${previous}->${revision}`),
    load: (unit, origin, result) => events.push(`load ${unit} ${origin} ${result}`),
    totals: (t) => events.push(`totals ${t.active}/${t.failed}/${t.removed}/${t.modules}`),
  };
  const registry = createUnitRegistry({
    logger,
    observer,
    onTenantRemoved: options.onTenantRemoved ?? 'deny',
    builtins: {},
  });
  return { registry, events, logger };
}

describe('unit registry', () => {
  it('starts empty', () => {
    const { registry } = registryWith();
    expect(registry.base()).toBeUndefined();
    expect(registry.tenants().size).toBe(0);
    expect(registry.active('base')).toBeUndefined();
    expect(registry.groupCount()).toBe(0);
  });

  it('swapIn puts units in force, one entry each, and reports revision changes by metric name', () => {
    const { registry, events } = registryWith();
    registry.swapIn(units(fakeUnit('base', 'b1'), fakeUnit('tenant:acme', 'a1')));
    expect(registry.base()?.unit.revision).toBe('b1');
    expect(registry.tenant('acme')).toMatchObject({ kind: 'active', unit: { revision: 'a1' } });
    expect(registry.active('tenant:acme')?.revision).toBe('a1');

    registry.swapIn(units(fakeUnit('tenant:acme', 'a2')));
    registry.swapIn(units(fakeUnit('tenant:acme', 'a2'))); // same revision: no event
    expect(registry.active('tenant:acme')?.revision).toBe('a2');
    expect(registry.base()?.unit.revision).toBe('b1');
    expect(events).toEqual([
      'revision base undefined->b1',
      'revision tenants/acme undefined->a1',
      'revision tenants/acme a1->a2',
    ]);
  });

  it('tells every listener about each change until it unsubscribes', () => {
    const { registry } = registryWith();
    let first = 0;
    let second = 0;
    const stopFirst = registry.onChange(() => first++);
    registry.onChange(() => second++);
    registry.swapIn(units(fakeUnit('base', 'b1')));
    registry.reportTotals();
    expect([first, second]).toEqual([2, 2]);
    stopFirst();
    registry.removeTenant('gone');
    expect([first, second]).toEqual([2, 3]);
  });

  it('a failed load of a tenant with nothing in force denies it, with a frozen deny naming only the tenant', () => {
    const { registry, events, logger } = registryWith();
    registry.recordFailure('tenant:acme', new Error('boom at /secret/path'), 'dir', 'r9');
    const entry = registry.tenant('acme');
    expect(entry?.kind).toBe('failed');
    if (entry?.kind !== 'failed') return;
    expect(Object.isFrozen(entry.deny)).toBe(true);
    expect(entry.deny).toMatchObject({ allow: false, revision: 'r9' });
    expect(entry.deny.reasons[0]?.code).toBe('policy_denied');
    expect(entry.deny.reasons[0]?.message).not.toContain('secret');
    expect(entry.failure.error.code).toBe('load_failed');
    expect(events).toEqual(['load tenants/acme dir error']);
    expect(logger.lines.at(-1)?.message).toContain('fail closed');
  });

  it('a failed load of a unit in force keeps it serving and remembers the error', () => {
    const { registry } = registryWith();
    registry.swapIn(units(fakeUnit('base', 'b1'), fakeUnit('tenant:acme', 'a1')));
    registry.recordFailure('tenant:acme', new Error('bad'), 'bundle');
    registry.recordFailure('base', new Error('bad base'), 'dir');
    expect(registry.tenant('acme')).toMatchObject({ kind: 'active', unit: { revision: 'a1' } });
    expect(registry.tenant('acme')).toHaveProperty('lastError');
    expect(registry.base()?.unit.revision).toBe('b1');
    expect(registry.base()?.lastError?.error.message).toContain('bad base');

    // The next good version clears the error.
    registry.swapIn(units(fakeUnit('tenant:acme', 'a2')));
    expect(registry.tenant('acme')).not.toHaveProperty('lastError');
  });

  it('a failed base with nothing in force leaves no base', () => {
    const { registry } = registryWith();
    registry.recordFailure('base', new Error('no'), 'dir');
    expect(registry.base()).toBeUndefined();
  });

  it('a removed tenant is denied with on_tenant_removed: deny', () => {
    const { registry, events } = registryWith();
    registry.swapIn(units(fakeUnit('tenant:acme', 'a1')));
    registry.removeTenant('acme');
    expect(registry.tenant('acme')).toMatchObject({ kind: 'removed', deny: { allow: false } });
    expect(registry.active('tenant:acme')).toBeUndefined();
    expect(events.at(-1)).toBe('revision tenants/acme a1->undefined');
  });

  it('a removed tenant is forgotten with on_tenant_removed: base_only', () => {
    const { registry } = registryWith({ onTenantRemoved: 'base_only' });
    registry.swapIn(units(fakeUnit('tenant:acme', 'a1')));
    registry.removeTenant('acme');
    expect(registry.tenant('acme')).toBeUndefined();
  });

  it('reports totals by state', () => {
    const { registry, events } = registryWith();
    registry.swapIn(units(fakeUnit('base', 'b1'), fakeUnit('tenant:a', 'a1')));
    registry.recordFailure('tenant:b', new Error('x'), 'dir');
    registry.swapIn(units(fakeUnit('tenant:c', 'c1')));
    registry.removeTenant('c');
    registry.reportTotals();
    expect(events.at(-1)).toBe('totals 2/1/1/0');
  });

  it('runs loads one at a time, in order, and a failed load does not stop the queue', async () => {
    const { registry } = registryWith();
    const log: string[] = [];
    const task =
      (name: string, fail = false) =>
      async () => {
        log.push(`start ${name}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
        log.push(`end ${name}`);
        if (fail) throw new Error(name);
        return name;
      };
    const results = await Promise.allSettled([
      registry.runLoad(task('a')),
      registry.runLoad(task('b', true)),
      registry.runLoad(task('c')),
    ]);
    await registry.idle();
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('clear forgets every unit', () => {
    const { registry } = registryWith();
    registry.swapIn(units(fakeUnit('base', 'b1'), fakeUnit('tenant:a', 'a1')));
    registry.clear();
    expect(registry.base()).toBeUndefined();
    expect(registry.tenants().size).toBe(0);
  });
});
