// The policy directory as a source of units: reads base and tenants, compiles them (tenants in packs), loads them into the registry; watch mode.
//
// At start-up tenants are compiled several to a module (a pack); later a changed tenant is compiled
// alone, and a data-only change rebuilds its group's instance without running opa. Whatever is
// built is handed to the registry, which puts it in force; a failure is recorded there per unit
// and leaves what was in force. The steps live in dir-load.ts and dir-compile.ts; the watcher in
// dir-watcher.ts.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { PolicyConfig } from '../config/types.js';
import type { DirContext } from './dir-context.js';
import { loadBaseFromDir, loadDir, reloadFromDir } from './dir-load.js';
import { type DirWatcher, watchPolicyDir } from './dir-watcher.js';
import { describeThrown } from './errors.js';
import type { PolicyLogger, PolicyObserver, UnitRegistry } from './unit-registry.js';

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
