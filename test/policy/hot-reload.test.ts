// Hot reload from the policy directory: atomic per-tenant swaps, failed reloads keep the old version, data-only reloads, watch mode.
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { createPolicyEngine, type PolicyEngineOptions } from '../../src/policy/engine.js';
import { locateOpa } from '../../src/policy/opa-cli.js';
import type { PolicyEngine } from '../../src/policy/types.js';
import {
  ALLOW_ALL_BASE,
  type PolicyDirLayout,
  delegatedSubject,
  makePolicyDir,
  policyInput,
  recordingLogger,
} from './fixtures.js';

const cleanups: (() => Promise<unknown>)[] = [];
const engines: PolicyEngine[] = [];

afterEach(async () => {
  await Promise.all(engines.splice(0).map((engine) => engine.stop()));
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

const input = policyInput('contacts.read', delegatedSubject('agent-1', ['contacts.read']));

/** A tenant whose decision denies with "<code version>/<data version>", so a half-swapped unit would show. */
function versioned(code: string, data: string) {
  return {
    'policy.rego': `package mandate.tenant\n\ndecision := {"allow": false, "reasons": [{"code": "policy_denied", "message": concat("/", ["${code}", data.version])}]}\n`,
    'data.json': JSON.stringify({ version: data }),
  };
}

async function dirWith(layout: PolicyDirLayout): Promise<string> {
  const { dir, remove } = await makePolicyDir(layout);
  cleanups.push(remove);
  return dir;
}

async function writeUnit(dir: string, tenant: string, files: Record<string, string>) {
  await mkdir(join(dir, 'tenants', tenant), { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    await writeFile(join(dir, 'tenants', tenant, name), content);
  }
}

/** An `opa` that records each command line before running the real one. */
async function countingOpa(dir: string): Promise<{ path: string; builds: () => Promise<number> }> {
  const log = join(dir, '.opa-calls');
  const path = join(dir, '.opa-wrapper.sh');
  await writeFile(path, `#!/bin/sh\necho "$1" >> '${log}'\nexec '${locateOpa()}' "$@"\n`);
  await chmod(path, 0o755);
  return {
    path,
    builds: async () =>
      (await readFile(log, 'utf8').catch(() => '')).split('\n').filter((line) => line === 'build')
        .length,
  };
}

async function start(
  dir: string,
  extra: Partial<PolicyEngineOptions['config']> = {},
  logger = recordingLogger(),
) {
  const engine = createPolicyEngine({ config: { dir, ...extra }, logger });
  engines.push(engine);
  await engine.start();
  return engine;
}

const messageOf = (engine: PolicyEngine, tenant: string) =>
  engine.evaluate(tenant, input).reasons[0]?.message;

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('a reload is atomic per tenant', () => {
  it('a tight loop of evaluations during reloads only ever sees whole versions', async () => {
    const dir = await dirWith({
      base: ALLOW_ALL_BASE,
      tenants: { acme: versioned('c0', 'd0'), other: versioned('o', 'o') },
    });
    const engine = await start(dir);
    const seen = new Map<string, number>();
    let reloading = true;
    const loop = (async () => {
      while (reloading) {
        const outcome = engine.evaluate('acme', input);
        // Never base alone, never a missing tenant, never an error: always one whole version.
        expect(outcome.decidedBy).toBe('tenant');
        const message = outcome.reasons[0]?.message ?? 'none';
        seen.set(message, (seen.get(message) ?? 0) + 1);
        expect(engine.evaluate('other', input).reasons[0]?.message).toBe('o/o');
        await tick();
      }
    })();
    const valid = new Set(['c0/d0']);
    for (let i = 1; i <= 6; i++) {
      // Code and data change together: a unit with new code and old data (or the reverse) would show.
      await writeUnit(dir, 'acme', versioned(`c${i}`, `d${i}`));
      valid.add(`c${i}/d${i}`);
      await engine.reloadFromDir({ tenants: ['acme'] });
      expect(messageOf(engine, 'acme')).toBe(`c${i}/d${i}`);
      // And a data-only change in between.
      await writeFile(
        join(dir, 'tenants', 'acme', 'data.json'),
        JSON.stringify({ version: `e${i}` }),
      );
      valid.add(`c${i}/e${i}`);
      await engine.reloadFromDir({ tenants: ['acme'] });
      expect(messageOf(engine, 'acme')).toBe(`c${i}/e${i}`);
    }
    reloading = false;
    await loop;
    expect([...seen.keys()].filter((message) => !valid.has(message))).toEqual([]);
    expect([...seen.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(10);
  });
});

describe('onChange', () => {
  it('tells subscribers after a reload swaps a unit or records a failure, until they unsubscribe', async () => {
    const dir = await dirWith({ base: ALLOW_ALL_BASE, tenants: { acme: versioned('c0', 'd0') } });
    const engine = await start(dir);
    let calls = 0;
    const unsubscribe = engine.onChange(() => calls++);
    await writeUnit(dir, 'acme', versioned('c1', 'd1'));
    await engine.reloadFromDir({ tenants: ['acme'] });
    expect(calls).toBeGreaterThan(0);
    const afterSwap = calls;
    await writeUnit(dir, 'acme', { 'policy.rego': 'package mandate.tenant\n\ndecision := {\n' });
    await engine.reloadFromDir({ tenants: ['acme'] });
    expect(calls).toBeGreaterThan(afterSwap);
    unsubscribe();
    const afterFailure = calls;
    await writeUnit(dir, 'acme', versioned('c2', 'd2'));
    await engine.reloadFromDir({ tenants: ['acme'] });
    expect(calls).toBe(afterFailure);
    expect(engine.evaluate('acme', input).reasons[0]?.message).toBe('c2/d2');
  });
});

describe('a failed reload', () => {
  it('keeps the previous version serving, visible in status, metrics hooks and a log line with file:line', async () => {
    const dir = await dirWith({ base: ALLOW_ALL_BASE, tenants: { acme: versioned('good', 'd') } });
    const logger = recordingLogger();
    const loads: [string, string][] = [];
    const engine = createPolicyEngine({
      config: { dir },
      logger,
      observer: { load: (unit, _origin, result) => void loads.push([unit, result]) },
    });
    engines.push(engine);
    await engine.start();
    const revision = engine.revisions().tenants['acme'];

    await writeFile(
      join(dir, 'tenants', 'acme', 'policy.rego'),
      'package mandate.tenant\n\ndecision := {"allow": true, "reasons": [x]}\n',
    );
    await engine.reloadFromDir({ tenants: ['acme'] });
    expect(messageOf(engine, 'acme')).toBe('good/d');
    expect(engine.revisions().tenants['acme']).toBe(revision);
    const unit = engine.units().find((u) => u.unit === 'tenant:acme');
    expect(unit).toMatchObject({
      state: 'WARN',
      revision,
      error: {
        code: 'compile_failed',
        problems: [{ file: 'tenants/acme/policy.rego', line: 3, kind: 'rego_unsafe_var_error' }],
      },
    });
    const status = engine.status();
    expect(status.state).toBe('WARN');
    expect(status.message).toContain('acme');
    expect(status.detail).toMatchObject({
      tenants: { acme: { state: 'WARN', code: 'compile_failed' } },
    });
    const line = logger.lines.find(
      (l) => l.level === 'error' && l.message?.includes('still serving'),
    );
    expect(JSON.stringify(line?.fields)).toContain('tenants/acme/policy.rego:3');
    expect(loads.at(-1)).toEqual(['tenants/acme', 'error']);

    // Fixed: served, and the error is gone.
    await writeUnit(dir, 'acme', versioned('fixed', 'd'));
    await engine.reloadFromDir({ tenants: ['acme'] });
    expect(messageOf(engine, 'acme')).toBe('fixed/d');
    expect(engine.units().find((u) => u.unit === 'tenant:acme')).toMatchObject({ state: 'OK' });
    expect(engine.units().find((u) => u.unit === 'tenant:acme')?.error).toBeUndefined();
    expect(loads.at(-1)).toEqual(['tenants/acme', 'ok']);
  });

  it('of base keeps the old base, and bad data does too', async () => {
    const dir = await dirWith({ base: { ...ALLOW_ALL_BASE, 'data.json': '{"a": 1}' } });
    const engine = await start(dir);
    const revision = engine.revisions().base;
    await writeFile(join(dir, 'base', 'data.json'), '{"a": ');
    await engine.reloadFromDir({ base: true });
    expect(engine.revisions().base).toBe(revision);
    expect(engine.evaluate(undefined, input).allow).toBe(true);
    expect(engine.units()[0]).toMatchObject({
      unit: 'base',
      state: 'WARN',
      error: { code: 'unit_invalid' },
    });
  });
});

describe('data-only changes', () => {
  it('are loaded without running opa, into the same module', async () => {
    const dir = await dirWith({
      base: ALLOW_ALL_BASE,
      tenants: { acme: versioned('c', 'd1'), beta: versioned('b', 'b') },
    });
    const opa = await countingOpa(dir);
    const engine = await start(dir, { opaPath: opa.path });
    const builds = await opa.builds();
    const before = engine.units().find((u) => u.unit === 'tenant:acme')!;

    await writeFile(join(dir, 'tenants', 'acme', 'data.json'), JSON.stringify({ version: 'd2' }));
    await engine.reloadFromDir({ tenants: ['acme'] });
    expect(messageOf(engine, 'acme')).toBe('c/d2');
    expect(await opa.builds()).toBe(builds);
    const after = engine.units().find((u) => u.unit === 'tenant:acme')!;
    expect(after.module).toBe(before.module);
    expect(after.revision).not.toBe(before.revision);
    expect(messageOf(engine, 'beta')).toBe('b/b');
  });
});

describe('tenants appear and disappear', () => {
  it('a new tenant directory is picked up', async () => {
    const dir = await dirWith({ base: ALLOW_ALL_BASE });
    const engine = await start(dir);
    expect(engine.evaluate('newco', input).tenant).toBeUndefined();
    await writeUnit(dir, 'newco', versioned('new', 'co'));
    await engine.reloadFromDir();
    expect(messageOf(engine, 'newco')).toBe('new/co');
  });

  it('a removed tenant is denied by default (on_tenant_removed: deny)', async () => {
    const dir = await dirWith({ base: ALLOW_ALL_BASE, tenants: { gone: versioned('g', 'g') } });
    const engine = await start(dir);
    await rm(join(dir, 'tenants', 'gone'), { recursive: true });
    await engine.reloadFromDir();
    const outcome = engine.evaluate('gone', input);
    expect(outcome.allow).toBe(false);
    expect(outcome.decidedBy).toBe('tenant');
    expect(outcome.reasons[0]?.message).toContain('was removed');
    expect(engine.units().find((u) => u.unit === 'tenant:gone')).toMatchObject({
      state: 'ERROR',
      removed: true,
    });
    expect(engine.status()).toMatchObject({
      state: 'WARN',
      message: expect.stringContaining('removed'),
    });
    // Back again: served again.
    await writeUnit(dir, 'gone', versioned('back', 'g'));
    await engine.reloadFromDir();
    expect(messageOf(engine, 'gone')).toBe('back/g');
  });

  it('a removed tenant falls back to base alone with on_tenant_removed: base_only', async () => {
    const dir = await dirWith({ base: ALLOW_ALL_BASE, tenants: { gone: versioned('g', 'g') } });
    const engine = await start(dir, { onTenantRemoved: 'base_only' });
    await rm(join(dir, 'tenants', 'gone'), { recursive: true });
    await engine.reloadFromDir();
    const outcome = engine.evaluate('gone', input);
    expect(outcome.allow).toBe(true);
    expect(outcome.tenant).toBeUndefined();
    expect(engine.revisions().tenants).toEqual({});
  });
});

describe('watch mode', () => {
  it('recompiles only the tenant whose file was saved, and it takes effect quickly', async () => {
    const tenants = Object.fromEntries(
      Array.from({ length: 6 }, (_, i) => [`t${i}`, versioned(`t${i}`, 'v0')]),
    );
    const dir = await dirWith({ base: ALLOW_ALL_BASE, tenants });
    const opa = await countingOpa(dir);
    const engine = await start(dir, {
      opaPath: opa.path,
      watch: true,
      watchDebounceMs: 20,
      tenantsPerModule: 3,
    });
    const before = new Map(engine.units().map((u) => [u.unit, u]));
    const builds = await opa.builds();

    const saved = Date.now();
    await writeFile(
      join(dir, 'tenants', 't4', 'policy.rego'),
      versioned('t4-edited', 'x')['policy.rego'],
    );
    await until(() => messageOf(engine, 't4') === 't4-edited/v0');
    expect(Date.now() - saved).toBeLessThan(5000);
    expect(await opa.builds()).toBe(builds + 1);
    for (const unit of engine.units()) {
      if (unit.unit === 'tenant:t4') continue;
      // Untouched: same revision, same activation, same module.
      expect(unit).toEqual(before.get(unit.unit));
    }

    // A new tenant directory appears while watching.
    await writeUnit(dir, 'late', versioned('late', 'v'));
    await until(() => messageOf(engine, 'late') === 'late/v');
  });
  it('keeps seeing a file after editors save it by writing a temporary file and renaming it', async () => {
    const dir = await dirWith({ base: ALLOW_ALL_BASE, tenants: { t: versioned('t', 'v0') } });
    const engine = await start(dir, { watch: true, watchDebounceMs: 20 });
    const policy = join(dir, 'tenants', 't', 'policy.rego');
    const data = join(dir, 'tenants', 't', 'data.json');

    // An atomic save (as sed -i, vim and many editors do): write beside, then rename over.
    const renameSave = async (path: string, content: string) => {
      const temp = `${path}.tmp-save`;
      await writeFile(temp, content);
      await rename(temp, path);
    };
    await renameSave(policy, versioned('t-renamed', 'x')['policy.rego']);
    await until(() => messageOf(engine, 't') === 't-renamed/v0');
    // Later saves of the same file, in place and by rename, must still be seen.
    await writeFile(policy, versioned('t-in-place', 'x')['policy.rego']);
    await until(() => messageOf(engine, 't') === 't-in-place/v0');
    await renameSave(data, JSON.stringify({ version: 'v1' }));
    await until(() => messageOf(engine, 't') === 't-in-place/v1');
    await writeFile(data, JSON.stringify({ version: 'v2' }));
    await until(() => messageOf(engine, 't') === 't-in-place/v2');
    // A tenant directory renamed in (as a sync tool would) is seen, and so are its later edits.
    const staged = join(dir, 'staged-tenant');
    await mkdir(staged);
    await writeFile(join(staged, 'policy.rego'), versioned('moved', 'x')['policy.rego']);
    await writeFile(join(staged, 'data.json'), JSON.stringify({ version: 'm0' }));
    await rename(staged, join(dir, 'tenants', 'moved'));
    await until(() => messageOf(engine, 'moved') === 'moved/m0');
    await renameSave(join(dir, 'tenants', 'moved', 'data.json'), JSON.stringify({ version: 'm1' }));
    await until(() => messageOf(engine, 'moved') === 'moved/m1');
  });
});

describe('packing many tenants into few modules', () => {
  it('keeps each tenant on its own data and rules, and compiles unpackable Rego alone', async () => {
    const tenants: PolicyDirLayout['tenants'] = {};
    for (let i = 0; i < 10; i++) {
      tenants[`p${i}`] = {
        'policy.rego': `package mandate.tenant\n\nimport data.mandate.tenant.helpers\n\ndecision := {"allow": false, "reasons": [{"code": "policy_denied", "message": helpers.label}]}\n`,
        'helpers.rego': `package mandate.tenant.helpers\n\nlabel := sprintf("p${i}:%d", [data.limit])\n`,
        'data.json': JSON.stringify({ limit: i * 10 }),
      };
    }
    // Refers to base's package: not packable, so compiled alone, where base does not exist for it.
    tenants['whole'] = {
      'policy.rego':
        'package mandate.tenant\n\ndefault seen := "no base"\n\nseen := "saw base" if data.mandate.base.decision\n\ndecision := {"allow": false, "reasons": [{"code": "policy_denied", "message": concat("/", [seen, data.mine])}]}\n',
      'data.json': '{"mine": "mine"}',
    };
    const dir = await dirWith({ base: ALLOW_ALL_BASE, tenants });
    const engine = await start(dir, { tenantsPerModule: 4 });
    for (let i = 0; i < 10; i++) expect(messageOf(engine, `p${i}`)).toBe(`p${i}:${i * 10}`);
    expect(messageOf(engine, 'whole')).toBe('no base/mine');
    const units = engine.units();
    expect(units.find((u) => u.unit === 'tenant:whole')?.module).toBe('solo:tenant:whole');
    const modules = new Set(units.map((u) => u.module));
    // base + whole + at most 3 packs for 10 tenants.
    expect(modules.size).toBeLessThanOrEqual(5);
    expect(units.filter((u) => u.module?.startsWith('pack:')).length).toBe(10);
    expect(engine.status().detail).toMatchObject({ tenant_count: 11 });
  });
});
