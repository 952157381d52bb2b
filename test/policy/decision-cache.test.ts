// The decision cache: an equal question under the same units skips Wasm; reloads, clock-reading units and failures are never served stale.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDecisionCache, type CachedOutcome } from '../../src/policy/decision-cache.js';
import { createPolicyEngine, type PolicyObserver } from '../../src/policy/engine.js';
import type { PolicyEngine } from '../../src/policy/types.js';
import {
  ALLOW_ALL_BASE,
  type PolicyDirLayout,
  delegatedSubject,
  makePolicyDir,
  policyInput,
} from './fixtures.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

/** A tenant that denies with its data's `version` as the message, so a stale answer would show. */
function versioned(version: string) {
  return {
    'policy.rego':
      'package mandate.tenant\n\ndecision := {"allow": false, "reasons": [{"code": "policy_denied", "message": data.version}]}\n',
    'data.json': JSON.stringify({ version }),
  };
}

async function start(layout: PolicyDirLayout, decisionCacheSize?: number) {
  const { dir, remove } = await makePolicyDir(layout);
  const results: string[] = [];
  const observer: PolicyObserver = { decisionCache: (result) => void results.push(result) };
  const engine: PolicyEngine = createPolicyEngine({
    config: { dir, ...(decisionCacheSize !== undefined && { decisionCacheSize }) },
    observer,
  });
  await engine.start();
  cleanups.push(async () => {
    await engine.stop();
    await remove();
  });
  return { engine, dir, results };
}

const input = policyInput('contacts.read', delegatedSubject('agent-1', ['contacts.read']));

describe('decision cache', () => {
  it('serves an equal question from the cache, marked cached, with the same answer', async () => {
    const { engine, results } = await start({
      base: ALLOW_ALL_BASE,
      tenants: { acme: versioned('v1') },
    });
    const owner = {};
    const first = engine.evaluate('acme', input, { owner, key: 'q1' });
    const second = engine.evaluate('acme', input, { owner, key: 'q1' });
    expect(first.cached).toBeUndefined();
    expect(second.cached).toBe(true);
    expect(second.allow).toBe(false);
    expect(second.reasons).toEqual(first.reasons);
    expect(second.tenant?.revision).toBe(first.tenant?.revision);
    expect(results).toEqual(['miss', 'hit']);
  });

  it('tells owners and keys apart', async () => {
    const { engine } = await start({ base: ALLOW_ALL_BASE, tenants: { acme: versioned('v1') } });
    const owner = {};
    engine.evaluate('acme', input, { owner, key: 'q1' });
    expect(engine.evaluate('acme', input, { owner, key: 'q2' }).cached).toBeUndefined();
    expect(engine.evaluate('acme', input, { owner: {}, key: 'q1' }).cached).toBeUndefined();
    // Without a key nothing is cached or served.
    expect(engine.evaluate('acme', input).cached).toBeUndefined();
  });

  it('never serves an answer from before a reload of the tenant', async () => {
    const { engine, dir } = await start({
      base: ALLOW_ALL_BASE,
      tenants: { acme: versioned('v1') },
    });
    const owner = {};
    expect(engine.evaluate('acme', input, { owner, key: 'q' }).reasons[0]?.message).toBe('v1');
    await writeFile(join(dir, 'tenants', 'acme', 'data.json'), JSON.stringify({ version: 'v2' }));
    await engine.reloadFromDir({ tenants: ['acme'] });
    const after = engine.evaluate('acme', input, { owner, key: 'q' });
    expect(after.cached).toBeUndefined();
    expect(after.reasons[0]?.message).toBe('v2');
    expect(engine.evaluate('acme', input, { owner, key: 'q' }).cached).toBe(true);
  });

  it('never serves an answer from before a reload of base', async () => {
    const { engine, dir } = await start({ base: ALLOW_ALL_BASE });
    const owner = {};
    expect(engine.evaluate(undefined, input, { owner, key: 'q' }).allow).toBe(true);
    await writeFile(
      join(dir, 'base', 'policy.rego'),
      'package mandate.base\n\ndecision := {"allow": false, "reasons": [{"code": "policy_denied", "message": "closed"}]}\n',
    );
    await engine.reloadFromDir({ base: true });
    const after = engine.evaluate(undefined, input, { owner, key: 'q' });
    expect(after.allow).toBe(false);
    expect(after.cached).toBeUndefined();
  });

  it('does not cache units that read the clock', async () => {
    const { engine, results } = await start({
      base: ALLOW_ALL_BASE,
      tenants: {
        timed: {
          'policy.rego':
            'package mandate.tenant\n\ndecision := {"allow": time.now_ns() > 0, "reasons": []}\n',
        },
      },
    });
    const owner = {};
    engine.evaluate('timed', input, { owner, key: 'q' });
    expect(engine.evaluate('timed', input, { owner, key: 'q' }).cached).toBeUndefined();
    expect(results).toEqual(['bypass', 'bypass']);
  });

  it('does not cache an evaluation that failed', async () => {
    const { engine, results } = await start({
      base: ALLOW_ALL_BASE,
      tenants: {
        broken: {
          // A Rego runtime error: a conflict between two complete definitions.
          'policy.rego':
            'package mandate.tenant\n\nx := 1 if input.action\nx := 2 if input.action\n\ndecision := {"allow": x == 1, "reasons": []}\n',
        },
      },
    });
    const owner = {};
    const first = engine.evaluate('broken', input, { owner, key: 'q' });
    expect(first.allow).toBe(false);
    expect(first.tenant?.failed).toBe(true);
    expect(engine.evaluate('broken', input, { owner, key: 'q' }).cached).toBeUndefined();
    expect(results).toEqual(['bypass', 'bypass']);
  });

  it('is off with decision_cache_size 0', async () => {
    const { engine, results } = await start({ base: ALLOW_ALL_BASE }, 0);
    const owner = {};
    engine.evaluate(undefined, input, { owner, key: 'q' });
    expect(engine.evaluate(undefined, input, { owner, key: 'q' }).cached).toBeUndefined();
    expect(results).toEqual([]);
  });
});

describe('decision cache bound', () => {
  const entry = (n: number): CachedOutcome => ({
    tenant: undefined,
    baseEntry: {},
    tenantEntry: undefined,
    outcome: Object.freeze({
      allow: true,
      decidedBy: 'base' as const,
      reasons: [],
      base: { allow: true, reasons: [], revision: `r${n}`, evalNs: 0 },
      cached: true as const,
    }),
  });

  it('holds at most its bound across all owners, evicting the oldest unread entry', () => {
    const cache = createDecisionCache(3)!;
    const [a, b] = [{}, {}];
    cache.set({ owner: a, key: 'q' }, entry(1));
    cache.set({ owner: b, key: 'q' }, entry(2));
    cache.set({ owner: a, key: 'r' }, entry(3));
    expect(cache.get({ owner: a, key: 'q' })?.outcome.base.revision).toBe('r1'); // a second chance
    cache.set({ owner: b, key: 'r' }, entry(4)); // evicts b/q, the oldest unread
    expect(cache.get({ owner: b, key: 'q' })).toBeUndefined();
    const held = [
      cache.get({ owner: a, key: 'q' }),
      cache.get({ owner: a, key: 'r' }),
      cache.get({ owner: b, key: 'r' }),
    ].map((e) => e?.outcome.base.revision);
    expect(held).toEqual(['r1', 'r3', 'r4']);
    // Many more owners: still three entries, each answer still its own question's.
    for (let i = 0; i < 50; i++) cache.set({ owner: {}, key: 'q' }, entry(100 + i));
    const owner = {};
    cache.set({ owner, key: 'last' }, entry(999));
    expect(cache.get({ owner, key: 'last' })?.outcome.base.revision).toBe('r999');
    expect(cache.get({ owner: a, key: 'q' })).toBeUndefined();
  });

  it('replaces an entry in place and forgets everything on clear', () => {
    const cache = createDecisionCache(2)!;
    const owner = {};
    cache.set({ owner, key: 'q' }, entry(1));
    cache.set({ owner, key: 'q' }, entry(2));
    cache.set({ owner, key: 'r' }, entry(3));
    expect(cache.get({ owner, key: 'q' })?.outcome.base.revision).toBe('r2');
    expect(cache.get({ owner, key: 'r' })?.outcome.base.revision).toBe('r3');
    cache.clear();
    expect(cache.get({ owner, key: 'q' })).toBeUndefined();
    cache.set({ owner, key: 'q' }, entry(4));
    expect(cache.get({ owner, key: 'q' })?.outcome.base.revision).toBe('r4');
  });
});
