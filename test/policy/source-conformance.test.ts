// One suite for every policy source (the directory, bundle files): each loads units into the registry, fails per tenant, swaps atomically.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PolicyConfig } from '../../src/config/policies.js';
import { buildUnitBundle } from '../../src/policy/bundle-build.js';
import { createBundleSources } from '../../src/policy/bundle-source.js';
import { createDecisionClock } from '../../src/policy/builtins.js';
import { createDirSource } from '../../src/policy/dir-source.js';
import { createLayeredEval } from '../../src/policy/layered-eval.js';
import { type UnitCompiler, createUnitCompiler } from '../../src/policy/unit-compiler.js';
import { type UnitRegistry, createUnitRegistry } from '../../src/policy/unit-registry.js';
import { readUnitSnapshot } from '../../src/policy/unit-sources.js';
import {
  ALLOW_ALL_BASE,
  type UnitFiles,
  delegatedSubject,
  makePolicyDir,
  policyInput,
  recordingLogger,
} from './fixtures.js';

const input = policyInput('contacts.read', delegatedSubject('agent-1', ['contacts.read']));

/** A tenant that denies with "<code version>/<data version>", so a half-swapped unit would show. */
function versioned(code: string, data: string): UnitFiles {
  return {
    'policy.rego': `package mandate.tenant\n\ndecision := {"allow": false, "reasons": [{"code": "policy_denied", "message": concat("/", ["${code}", data.version])}]}\n`,
    'data.json': JSON.stringify({ version: data }),
  };
}

/** Rego that does not parse. */
const BROKEN: UnitFiles = { 'policy.rego': 'package mandate.tenant\n\ndecision := {\n' };

/** How the suite drives one kind of source. */
interface SourceDriver {
  readonly origin: 'dir' | 'bundle';
  /** Builds the source over `registry` with base (allow all) and these tenants, and loads it. */
  start(registry: UnitRegistry, tenants: Record<string, UnitFiles>): Promise<void>;
  /** Gives `tenant` new files (a new version) and resolves once the source has handled them. */
  update(registry: UnitRegistry, tenant: string, files: UnitFiles): Promise<void>;
  stop(): Promise<void>;
}

const cleanups: (() => Promise<unknown>)[] = [];
let compiler: UnitCompiler;

beforeAll(async () => {
  compiler = await createUnitCompiler();
});

afterAll(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mandate-sources-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The policy directory: units are folders, a reload re-reads the named tenant. */
function dirDriver(): SourceDriver {
  let dir = '';
  let source: ReturnType<typeof createDirSource> | undefined;
  return {
    origin: 'dir',
    async start(registry, tenants) {
      const made = await makePolicyDir({ base: ALLOW_ALL_BASE, tenants });
      cleanups.push(made.remove);
      dir = made.dir;
      source = createDirSource({
        config: { dir },
        registry,
        logger: recordingLogger(),
        observer: {},
        skip: new Set(),
        concurrency: 1,
      });
      await registry.runLoad(source.loadAll);
    },
    async update(registry, tenant, files) {
      const unitDir = join(dir, 'tenants', tenant);
      await rm(unitDir, { recursive: true, force: true });
      await mkdir(unitDir, { recursive: true });
      for (const [name, content] of Object.entries(files)) {
        await writeFile(join(unitDir, name), content);
      }
      await registry.runLoad(() => source!.reload({ tenants: [tenant] }));
    },
    async stop() {
      source?.close();
    },
  };
}

/** Bundle files, one per unit, watched: a reload is the file being rewritten. */
function bundleDriver(): SourceDriver {
  let out = '';
  let sources: ReturnType<typeof createBundleSources> | undefined;
  let version = 0;
  /** A bundle built from `files`, or bytes that are no bundle when the Rego does not compile. */
  async function bundleBytes(kind: 'base' | 'tenant', files: UnitFiles): Promise<Uint8Array> {
    const made = await makePolicyDir(kind === 'base' ? { base: files } : { tenants: { x: files } });
    cleanups.push(made.remove);
    const snapshot = await readUnitSnapshot(made.dir, kind, kind === 'base' ? undefined : 'x');
    try {
      const built = await buildUnitBundle(compiler, snapshot, { revision: `r${++version}` });
      return built.bytes;
    } catch {
      return new TextEncoder().encode('not a bundle');
    }
  }
  return {
    origin: 'bundle',
    async start(registry, tenants) {
      out = await tempDir();
      await writeFile(join(out, 'base.tar.gz'), await bundleBytes('base', ALLOW_ALL_BASE));
      for (const [tenant, files] of Object.entries(tenants)) {
        await writeFile(join(out, `${tenant}.tar.gz`), await bundleBytes('tenant', files));
      }
      const config: PolicyConfig = {
        dir: join(out, 'no-policy-dir'),
        watch: true,
        watchDebounceMs: 20,
        bundles: [
          { unit: 'base', source: 'file', path: join(out, 'base.tar.gz') },
          ...Object.keys(tenants).map((tenant) => ({
            unit: `tenants/${tenant}`,
            tenant,
            source: 'file' as const,
            path: join(out, `${tenant}.tar.gz`),
          })),
        ],
      };
      sources = createBundleSources({ config, registry, logger: recordingLogger(), observer: {} });
      await sources.start();
    },
    async update(registry, tenant, files) {
      const bytes = await bundleBytes('tenant', files);
      // Every load ends with a change notice (a swap, or a failure recorded): wait for it.
      const handled = new Promise<void>((resolve) => {
        const stop = registry.onChange(() => {
          stop();
          resolve();
        });
      });
      await writeFile(join(out, `${tenant}.tar.gz`), bytes);
      await handled;
      await registry.idle();
    },
    async stop() {
      await sources?.stop();
    },
  };
}

for (const makeDriver of [dirDriver, bundleDriver]) {
  describe(`policy source conformance: ${makeDriver().origin}`, () => {
    let driver: SourceDriver;
    let registry: UnitRegistry;
    let evaluate: (tenant: string) => { allow: boolean; message: string | undefined };

    async function start(tenants: Record<string, UnitFiles>) {
      driver = makeDriver();
      const clock = createDecisionClock();
      registry = createUnitRegistry({
        logger: recordingLogger(),
        observer: {},
        onTenantRemoved: 'deny',
        builtins: clock.builtins,
      });
      const layered = createLayeredEval({ registry, clock, decisionCacheSize: 0, observer: {} });
      evaluate = (tenant) => {
        const outcome = layered.evaluate(tenant, { ...input, tenant });
        return { allow: outcome.allow, message: outcome.reasons[0]?.message };
      };
      await driver.start(registry, tenants);
    }

    afterEach(async () => {
      await driver.stop();
    });

    it('loads base and every tenant into the registry', async () => {
      await start({ a: versioned('a', 'v1'), b: versioned('b', 'v1') });
      expect(registry.base()?.unit.origin).toBe(driver.origin);
      for (const tenant of ['a', 'b']) {
        expect(registry.tenant(tenant)).toMatchObject({
          kind: 'active',
          unit: { origin: driver.origin },
        });
      }
      expect(evaluate('a').message).toBe('a/v1');
      expect(evaluate('b').message).toBe('b/v1');
    });

    it('a tenant that fails to load is denied on its own; the others serve', async () => {
      await start({ a: versioned('a', 'v1'), bad: BROKEN });
      expect(registry.tenant('bad')?.kind).toBe('failed');
      expect(evaluate('bad')).toMatchObject({ allow: false });
      expect(evaluate('bad').message).toContain('failed to load');
      expect(evaluate('a').message).toBe('a/v1');
      expect(registry.base()).toBeDefined();
    });

    it('a failed reload keeps what is in force and records the error for that tenant only', async () => {
      await start({ a: versioned('a', 'v1'), b: versioned('b', 'v1') });
      const before = registry.active('tenant:a');
      await driver.update(registry, 'a', BROKEN);
      const entry = registry.tenant('a');
      expect(entry?.kind).toBe('active');
      if (entry?.kind !== 'active') return;
      expect(entry.unit).toBe(before);
      expect(entry.lastError).toBeDefined();
      expect(evaluate('a').message).toBe('a/v1');
      expect(registry.tenant('b')).not.toHaveProperty('lastError');

      // The next good version serves and clears the error.
      await driver.update(registry, 'a', versioned('a3', 'v3'));
      expect(evaluate('a').message).toBe('a3/v3');
      expect(registry.tenant('a')).not.toHaveProperty('lastError');
    });

    it('a reload swaps atomically: evaluations see the old version or the new, whole, and listeners hear of it', async () => {
      await start({ a: versioned('a', 'v1'), b: versioned('b', 'v1') });
      let changes = 0;
      const unsubscribe = registry.onChange(() => changes++);
      const seen = new Set<string>();
      let done = false;
      const loop = (async () => {
        while (!done) {
          seen.add(String(evaluate('a').message));
          await new Promise((resolve) => setImmediate(resolve));
        }
      })();
      await driver.update(registry, 'a', versioned('a2', 'v2'));
      done = true;
      await loop;
      unsubscribe();
      seen.add(String(evaluate('a').message));
      expect([...seen].every((m) => m === 'a/v1' || m === 'a2/v2')).toBe(true);
      expect(evaluate('a').message).toBe('a2/v2');
      expect(evaluate('b').message).toBe('b/v1');
      expect(changes).toBeGreaterThan(0);
    });
  });
}
