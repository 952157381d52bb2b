// The policy engine: base AND tenant over Wasm units from a directory (packed, watched) or bundles, swapped in atomically.
//
// Every unit is an immutable ActiveUnit held in one map entry. A reload builds the new unit fully
// (compile, instantiate, load data) and then replaces that entry in one assignment; evaluate() is
// synchronous, so a decision sees one version of each layer from start to end, and there is never
// a moment without one. A failed load leaves the entry as it was and is reported (status, metrics,
// log with file:line). All loads run one after another through one queue.
import type { FetchLike } from '../lib/fetch-deadline.js';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { watch, type FSWatcher } from 'node:fs';
import type { BundleSourceConfig } from '../config/policies.js';
import type { PolicyConfig } from '../config/types.js';
import type { ComponentState, ComponentStatus } from '../lib/lifecycle.js';
import { createDecisionClock } from './builtins.js';
import { createDecisionCache } from './decision-cache.js';
import { readPolicyBundle } from './bundle-format.js';
import { type BundlePoller, createBundlePoller } from './bundle-poller.js';
import { verifyBundleSignature } from './bundle-signing.js';
import { loadPersistedBundle, persistBundle } from './bundle-store.js';
import { BASE_DIR, TENANTS_DIR, UNIT_ENTRYPOINT } from './conventions.js';
import { mergeDataFiles } from './data-files.js';
import { type DirWatcher, watchPolicyDir } from './dir-watcher.js';
import { PolicyError, describeThrown } from './errors.js';
import type { ActiveUnit, GroupMember } from './host-group.js';
import { mapSettledLimited } from './map-limited.js';
import { PINNED_OPA_VERSION } from './opa-cli.js';
import type { PolicyEngine, PolicyOutcome, PolicyReason, PolicyUnitStatus } from './types.js';
import { type UnitCompiler, createUnitCompiler } from './unit-compiler.js';
import { type UnitSnapshot, listTenants, readUnitSnapshot, unitId } from './unit-sources.js';
import {
  type PolicyLogger,
  type PolicyObserver,
  type TenantEntry,
  type UnitFailure,
  asPolicyError,
  createUnitRegistry,
  frozenDeny,
  unitMetricName,
} from './unit-registry.js';
import { compileModule } from './wasm-host.js';

export type { PolicyLogger, PolicyObserver } from './unit-registry.js';

export interface PolicyEngineOptions {
  readonly config: PolicyConfig;
  /** Where load results and policy runtime errors go. Default: nowhere. */
  readonly logger?: PolicyLogger;
  readonly observer?: PolicyObserver;
  /**
   * The clock behind Rego's `time.now_ns()`: nanoseconds since the Unix epoch. Read at most once per
   * evaluate() call (when a policy first asks), so base and tenant see the same instant.
   * Default: the wall clock, millisecond resolution.
   */
  readonly now?: () => bigint | number;
  /** Compiles at once (each is an `opa build` process). Default: 2, or 1 on a single core. */
  readonly compileConcurrency?: number;
  /** HTTP client for bundle servers (tests). Default: global fetch. */
  readonly fetch?: FetchLike;
}

/** A directory tenant as last compiled successfully. */
interface DirMember {
  readonly snapshot: UnitSnapshot;
  readonly data: Record<string, unknown>;
}

interface BundleState {
  readonly config: BundleSourceConfig;
  readonly id: string;
  poller?: BundlePoller;
  watcher?: FSWatcher;
  etag?: string;
  lastActivationAt?: number;
  lastDownloadAt?: number;
  lastError?: UnitFailure;
  fromPersisted?: boolean;
}

const silent: PolicyLogger = { info() {}, warn() {}, error() {} };

const NOT_STARTED_LAYER = frozenDeny('internal_error', 'the policy engine is not started', '');

const NOT_STARTED: PolicyOutcome = Object.freeze({
  allow: false,
  decidedBy: 'base',
  reasons: NOT_STARTED_LAYER.reasons,
  base: NOT_STARTED_LAYER,
});

const NO_REASONS: readonly PolicyReason[] = Object.freeze([]);

function stablePack(tenant: string, packs: number): number {
  return createHash('sha256').update(tenant).digest().readUInt32BE(0) % packs;
}

/** Builds the engine. Nothing is compiled until start(). */
export function createPolicyEngine(options: PolicyEngineOptions): PolicyEngine {
  const logger = options.logger ?? silent;
  const observer = options.observer ?? {};
  const config = options.config;
  const policyDir = resolve(config.dir);
  const concurrency = options.compileConcurrency ?? Math.min(2, availableParallelism());
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new TypeError('compileConcurrency must be a positive integer');
  }
  const perModule = config.tenantsPerModule ?? 32;
  const onRemoved = config.onTenantRemoved ?? 'deny';
  const bundleConfigs = config.bundles ?? [];
  const bundleUnits = new Set(
    bundleConfigs.map((b) => (b.tenant === undefined ? 'base' : `tenant:${b.tenant}`)),
  );
  const clock = createDecisionClock(options.now);
  const encoder = new TextEncoder();
  const decisionCache = createDecisionCache(config.decisionCacheSize ?? 10_000);

  const registry = createUnitRegistry({
    logger,
    observer,
    onTenantRemoved: onRemoved,
    builtins: clock.builtins,
  });
  let running = false;
  const dirMembers = new Map<string, DirMember>();
  let packCount = 1;
  let compiler: UnitCompiler | undefined;
  let lastFailure: PolicyError | undefined;
  /**
   * Tenants whose policy failed to load during start-up and has not loaded since. While any is left
   * the component is ERROR (not ready): a rollout with a broken tenant policy is held back, and the
   * replicas already serving keep serving. Failures after start-up only turn it WARN (ready).
   */
  const startupFailures = new Set<string>();
  const bundles = new Map<string, BundleState>();
  let dirWatcher: DirWatcher | undefined;

  async function getCompiler(): Promise<UnitCompiler> {
    if (compiler !== undefined) return compiler;
    compiler = await createUnitCompiler({
      ...(config.opaPath !== undefined && { opaPath: config.opaPath }),
      ...(config.cacheDir !== undefined && { cacheDir: config.cacheDir }),
    });
    if (compiler.opaVersion !== PINNED_OPA_VERSION) {
      logger.warn(
        { opa: compiler.opa.path, version: compiler.opaVersion, pinned: PINNED_OPA_VERSION },
        'opa version differs from the pinned one; policies are tested against the pinned version',
      );
    }
    return compiler;
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

  // ---- directory units ---------------------------------------------------------------------

  async function snapshotOf(kind: 'base' | 'tenant', tenant?: string) {
    const snapshot = await readUnitSnapshot(policyDir, kind, tenant);
    const data = mergeDataFiles(snapshot.id, snapshot.dataFiles);
    return { snapshot, data };
  }

  /** Compiles one pack of tenants (new snapshots replacing members) and swaps in every unit that built. */
  async function compileTenants(pack: number, changed: readonly DirMember[]): Promise<void> {
    const c = await getCompiler();
    const changedIds = new Set(changed.map((m) => m.snapshot.id));
    const members = new Map<string, DirMember>();
    for (const [tenant, member] of dirMembers) {
      if (
        stablePack(tenant, packCount) === pack &&
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
  async function compileAlone(next: DirMember): Promise<void> {
    const { snapshot, data } = next;
    try {
      const c = await getCompiler();
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
    groupKey: string,
    updates: ReadonlyMap<string, DirMember>,
  ): Promise<void> {
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

  async function loadBaseFromDir(): Promise<void> {
    let next: { snapshot: UnitSnapshot; data: Record<string, unknown> };
    try {
      next = await snapshotOf('base');
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
        await reloadData(current.group, new Map([['base', next]]));
        return;
      }
      const c = await getCompiler();
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

  function removeTenant(tenant: string): void {
    dirMembers.delete(tenant);
    registry.removeTenant(tenant);
  }

  /** Re-reads the given tenants from the directory and swaps in whatever changed. */
  async function reloadTenants(ids: readonly string[]): Promise<void> {
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
        if (entry !== undefined && entry.kind !== 'removed') removeTenant(tenant);
        continue;
      }
      let next: { snapshot: UnitSnapshot; data: Record<string, unknown> };
      try {
        next = await snapshotOf('tenant', tenant);
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
        await reloadData(groupKey, updates);
      } catch (thrown) {
        for (const [id, update] of updates)
          registry.recordFailure(id, thrown, 'dir', update.snapshot.revision);
      }
    }
    // A changed tenant is compiled alone (one small `opa build`, well under a second) rather than
    // with its pack: the edit is in effect sooner, and its pack mates are not touched at all.
    await mapSettledLimited(recompile, concurrency, (next) => compileAlone(next));
    registry.reportTotals();
  }

  async function reloadFromDir(
    units: { base?: boolean; tenants?: readonly string[] } = {},
  ): Promise<void> {
    const all = units.base === undefined && units.tenants === undefined;
    if (units.base || all) {
      if (!bundleUnits.has('base')) await loadBaseFromDir().catch(() => undefined);
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
    await reloadTenants(ids);
  }

  /** First load of the directory units: base alone, tenants in packs. */
  async function loadDir(): Promise<void> {
    const wantBase = !bundleUnits.has('base');
    const hasDir = existsSync(policyDir);
    if (!wantBase && !hasDir) return;
    if (wantBase) {
      try {
        await loadBaseFromDir();
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
    packCount = Math.max(1, Math.ceil(ids.length / perModule));
    const byPack = new Map<number, DirMember[]>();
    const snapshots = await mapSettledLimited(ids, 8, (tenant) => snapshotOf('tenant', tenant));
    snapshots.forEach((settled, index) => {
      const tenant = ids[index]!;
      if (settled.status === 'rejected') {
        registry.recordFailure(unitId('tenant', tenant), settled.reason, 'dir');
        return;
      }
      const pack = stablePack(tenant, packCount);
      byPack.set(pack, [...(byPack.get(pack) ?? []), settled.value]);
    });
    await getCompiler();
    const results = await mapSettledLimited([...byPack], concurrency, ([pack, changed]) =>
      compileTenants(pack, changed),
    );
    for (const settled of results) if (settled.status === 'rejected') throw settled.reason;
  }

  // ---- bundles -----------------------------------------------------------------------------

  async function activateBundle(
    state: BundleState,
    bytes: Uint8Array,
    etag: string | undefined,
    persist: boolean,
  ) {
    const { config: source, id } = state;
    const kind = source.tenant === undefined ? 'base' : 'tenant';
    const bundle = await readPolicyBundle(bytes, id, UNIT_ENTRYPOINT[kind]);
    if (source.signing !== undefined) {
      await verifyBundleSignature(id, bundle.files, bundle.signatures, {
        keys: config.keys ?? {},
        ...(source.signing.keyId !== undefined && { keyId: source.signing.keyId }),
        ...(source.signing.scope !== undefined && { scope: source.signing.scope }),
        excludeFiles: source.signing.excludeFiles,
      });
    }
    const key = `bundle:${bundle.wasmHash.slice(0, 16)}`;
    const existing = registry.group(key);
    const compiled = existing?.compiled ?? (await compileModule(bundle.wasm, bundle.wasmHash, id));
    const member: GroupMember = {
      id,
      kind,
      ...(source.tenant !== undefined && { tenant: source.tenant }),
      revision: bundle.revision,
      origin: 'bundle',
      codeHash: bundle.wasmHash,
      entrypoint: UNIT_ENTRYPOINT[kind],
      data: bundle.data,
    };
    const others =
      existing === undefined ? [] : [...existing.members.values()].filter((m) => m.id !== id);
    const units = await registry.buildGroup(key, compiled, [...others, member]);
    registry.swapIn(units);
    const now = Date.now();
    state.lastActivationAt = now;
    state.lastError = undefined;
    if (etag !== undefined) state.etag = etag;
    observer.bundleActivated?.(unitMetricName(id), now);
    registry.reportLoaded(new Map([[id, units.get(id)!]]));
    registry.reportTotals();
    if (persist && source.source === 'url' && source.persist && config.persistDir !== undefined) {
      await persistBundle(config.persistDir, bytes, {
        unit: id,
        url: source.url,
        ...(etag !== undefined && { etag }),
        revision: bundle.revision,
        activatedAt: now,
      }).catch((error: unknown) =>
        logger.warn(
          { unit: id, error: describeThrown(error) },
          'cannot persist the bundle; a restart needs the server',
        ),
      );
    }
  }

  function bundleFailed(state: BundleState, thrown: unknown): void {
    const error = asPolicyError(thrown, state.id);
    state.lastError = { error, at: Date.now() };
    registry.recordFailure(state.id, error, 'bundle');
    registry.reportTotals();
  }

  async function startFileBundle(
    state: BundleState & { config: { source: 'file'; path: string } },
  ) {
    const load = async () => {
      const bytes = await readFile(state.config.path).catch((cause: unknown) => {
        throw new PolicyError('bundle_invalid', `${state.id}: cannot read ${state.config.path}`, {
          unit: state.id,
          cause,
        });
      });
      state.lastDownloadAt = Date.now();
      await activateBundle(state, bytes, undefined, false);
    };
    try {
      await registry.runLoad(load);
    } catch (thrown) {
      bundleFailed(state, thrown);
      if (state.id === 'base') throw thrown;
    }
    if (config.watch) {
      let timer: NodeJS.Timeout | undefined;
      state.watcher = watch(dirname(state.config.path), (_event, name) => {
        if (name?.toString() !== basename(state.config.path)) return;
        if (timer !== undefined) clearTimeout(timer);
        timer = setTimeout(() => {
          registry.runLoad(load).catch((thrown: unknown) => bundleFailed(state, thrown));
        }, config.watchDebounceMs ?? 100);
      });
      state.watcher.on('error', (error) =>
        logger.warn({ unit: state.id, error: describeThrown(error) }, 'bundle watch failed'),
      );
    }
  }

  async function startUrlBundle(state: BundleState & { config: { source: 'url' } }) {
    const source = state.config;
    const persisted =
      source.persist && config.persistDir !== undefined
        ? await loadPersistedBundle(config.persistDir, state.id)
        : undefined;
    const usePersisted = async (why: string) => {
      if (persisted === undefined) return false;
      try {
        await registry.runLoad(() =>
          activateBundle(state, persisted.bytes, persisted.meta.etag, false),
        );
        state.fromPersisted = true;
        logger.warn(
          { unit: state.id, revision: persisted.meta.revision, why },
          'serving the persisted bundle',
        );
        return true;
      } catch (thrown) {
        logger.error(
          { unit: state.id, error: describeThrown(thrown) },
          'the persisted bundle does not load',
        );
        return false;
      }
    };
    let bootError: unknown;
    const poller = createBundlePoller({
      url: source.url,
      headers: source.headers,
      minDelayMs: source.polling.minDelaySeconds * 1000,
      maxDelayMs: source.polling.maxDelaySeconds * 1000,
      ...(source.polling.longPollingTimeoutSeconds !== undefined && {
        longPollingTimeoutSeconds: source.polling.longPollingTimeoutSeconds,
      }),
      timeoutMs: source.timeoutMs,
      ...(persisted?.meta.etag !== undefined && { etag: persisted.meta.etag }),
      ...(options.fetch !== undefined && { fetch: options.fetch }),
      onBundle: async (bytes, etag) => {
        state.lastDownloadAt = Date.now();
        try {
          await registry.runLoad(() => activateBundle(state, bytes, etag, true));
          state.fromPersisted = false;
        } catch (thrown) {
          bundleFailed(state, thrown);
          throw thrown;
        }
      },
      onResult: (result) => {
        observer.bundlePoll?.(unitMetricName(state.id), result.kind);
        if (result.kind === 'error' && result.stage === 'download') {
          const error = new PolicyError(
            'download_failed',
            `${state.id}: ${source.url}: ${describeThrown(result.error)}`,
            {
              unit: state.id,
              cause: result.error,
            },
          );
          state.lastError = { error, at: Date.now() };
          bootError = error;
          if (running)
            logger.warn(
              { unit: state.id, error: error.message },
              'bundle download failed; keeping the active bundle',
            );
        }
      },
    });
    state.poller = poller;
    const first = await poller.pollOnce();
    if (first.kind === 'not_modified') {
      if (!(await usePersisted('the server reports it unchanged'))) {
        bootError = new PolicyError(
          'download_failed',
          `${state.id}: the server answered 304 but no bundle is persisted`,
          {
            unit: state.id,
          },
        );
      }
    } else if (first.kind === 'error' && registry.active(state.id) === undefined) {
      const served = await usePersisted(`the bundle server failed: ${describeThrown(first.error)}`);
      if (!served) {
        const error = asPolicyError(bootError ?? first.error, state.id);
        bundleFailed(state, error);
        if (state.id === 'base') {
          poller.start();
          throw error;
        }
      }
    }
    poller.start();
  }

  async function startBundles(): Promise<void> {
    for (const source of bundleConfigs) {
      const id = source.tenant === undefined ? 'base' : `tenant:${source.tenant}`;
      const state: BundleState = { config: source, id };
      bundles.set(id, state);
    }
    // Base first: nothing is served without it.
    const ordered = [...bundles.values()].sort((a, b) =>
      a.id === 'base' ? -1 : b.id === 'base' ? 1 : 0,
    );
    for (const state of ordered) {
      if (state.config.source === 'file') {
        await startFileBundle(state as BundleState & { config: { source: 'file'; path: string } });
      } else {
        await startUrlBundle(state as BundleState & { config: { source: 'url' } });
      }
    }
  }

  async function stopAll(): Promise<void> {
    dirWatcher?.close();
    dirWatcher = undefined;
    await Promise.all(
      [...bundles.values()].map(async (state) => {
        state.watcher?.close();
        await state.poller?.stop();
      }),
    );
    bundles.clear();
  }

  // ---- status ------------------------------------------------------------------------------

  function errorOf(failure: UnitFailure | undefined) {
    if (failure === undefined) return undefined;
    const { error } = failure;
    return {
      code: error.code,
      message: error.message,
      at: new Date(failure.at).toISOString(),
      ...(error.problems.length > 0 && { problems: error.problems }),
    };
  }

  function bundleStatus(id: string): Record<string, unknown> | undefined {
    const state = bundles.get(id);
    if (state === undefined) return undefined;
    const source = state.config;
    const poll = state.poller?.status();
    const iso = (ms: number | undefined) =>
      ms === undefined ? undefined : new Date(ms).toISOString();
    return {
      source: source.source,
      ...(source.source === 'file' ? { path: source.path } : { url: source.url }),
      signed: source.signing !== undefined,
      ...(state.etag !== undefined && { etag: state.etag }),
      ...(poll !== undefined && { long_polling: poll.longPolling, retries: poll.retries }),
      ...(iso(poll?.lastRequestAt) && { last_request: iso(poll?.lastRequestAt) }),
      ...(iso(poll?.lastSuccessfulRequestAt) && {
        last_successful_request: iso(poll?.lastSuccessfulRequestAt),
      }),
      ...(iso(state.lastDownloadAt) && { last_successful_download: iso(state.lastDownloadAt) }),
      ...(iso(state.lastActivationAt) && {
        last_successful_activation: iso(state.lastActivationAt),
      }),
      ...(state.fromPersisted && { serving_persisted: true }),
      ...(state.lastError !== undefined && { last_error: errorOf(state.lastError) }),
    };
  }

  function unitStatus(id: string): PolicyUnitStatus | undefined {
    const bundle = bundleStatus(id);
    const common = (unit: ActiveUnit) => ({
      revision: unit.revision,
      module: unit.group,
      activated_at: new Date(unit.activatedAt).toISOString(),
      ...(registry.evalErrors(id) !== undefined && { eval_errors: registry.evalErrors(id) }),
    });
    if (id === 'base') {
      const base = registry.base();
      if (base === undefined) return undefined;
      const error = errorOf(base.lastError ?? bundles.get('base')?.lastError);
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
    const origin = bundleUnits.has(id) ? 'bundle' : 'dir';
    if (entry.kind === 'active') {
      const error = errorOf(entry.lastError ?? bundles.get(id)?.lastError);
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
        error: errorOf(entry.failure)!,
        ...(bundle && { bundle }),
      };
    }
    return { unit: id, state: 'ERROR', origin, removed: true };
  }

  /** Base, then the tenant's layer unless base already denied: one serialisation shared by both. */
  function evaluateLayers(
    baseUnit: ActiveUnit,
    entry: TenantEntry | undefined,
    input: unknown,
  ): PolicyOutcome {
    clock.begin();
    const json = encoder.encode(JSON.stringify(input ?? null));

    const baseLayer = baseUnit.evaluate(json);
    if (!baseLayer.allow)
      return { allow: false, decidedBy: 'base', reasons: baseLayer.reasons, base: baseLayer };
    if (entry === undefined)
      return { allow: true, decidedBy: 'base', reasons: NO_REASONS, base: baseLayer };

    const layer = entry.kind === 'active' ? entry.unit.evaluate(json) : entry.deny;
    if (!layer.allow) {
      return {
        allow: false,
        decidedBy: 'tenant',
        reasons: layer.reasons,
        base: baseLayer,
        tenant: layer,
      };
    }
    return { allow: true, decidedBy: 'base', reasons: NO_REASONS, base: baseLayer, tenant: layer };
  }

  /** An outcome may be reused only when no unit that ran reads the clock and none failed. */
  function isCacheable(
    baseUnit: ActiveUnit,
    entry: TenantEntry | undefined,
    outcome: PolicyOutcome,
  ): boolean {
    if (baseUnit.readsClock || outcome.base.failed) return false;
    if (outcome.tenant === undefined) return true;
    if (outcome.tenant.failed) return false;
    return entry?.kind !== 'active' || !entry.unit.readsClock;
  }

  return {
    evaluate(tenant, input, cacheKey) {
      const current = registry.base();
      if (current === undefined || !running) return NOT_STARTED;
      const entry = tenant === undefined ? undefined : registry.tenant(tenant);

      if (cacheKey !== undefined && decisionCache !== undefined) {
        const hit = decisionCache.get(cacheKey);
        if (
          hit !== undefined &&
          hit.baseEntry === current.unit &&
          hit.tenantEntry === entry &&
          hit.tenant === tenant
        ) {
          observer.decisionCache?.('hit');
          return hit.outcome;
        }
      }

      const outcome = evaluateLayers(current.unit, entry, input);

      if (cacheKey !== undefined && decisionCache !== undefined) {
        if (isCacheable(current.unit, entry, outcome)) {
          decisionCache.set(cacheKey, {
            tenant,
            baseEntry: current.unit,
            tenantEntry: entry,
            outcome: Object.freeze({ ...outcome, cached: true as const }),
          });
          observer.decisionCache?.('miss');
        } else {
          observer.decisionCache?.('bypass');
        }
      }
      return outcome;
    },

    revisions() {
      const result: Record<string, string> = {};
      const base = registry.base();
      if (base === undefined || !running) return { tenants: result };
      for (const [tenant, entry] of registry.tenants()) {
        if (entry.kind === 'active') result[tenant] = entry.unit.revision;
      }
      return { base: base.unit.revision, tenants: result };
    },

    units() {
      if (!running) return [];
      const list: PolicyUnitStatus[] = [];
      const b = unitStatus('base');
      if (b !== undefined) list.push(b);
      for (const tenant of [...registry.tenants().keys()].sort()) {
        const status = unitStatus(unitId('tenant', tenant));
        if (status !== undefined) list.push(status);
      }
      return list;
    },

    reloadFromDir(units) {
      if (!running) return Promise.resolve();
      return registry
        .runLoad(() => reloadFromDir(units ?? {}))
        .catch((thrown: unknown) =>
          logger.error({ error: describeThrown(thrown) }, 'policy reload failed'),
        );
    },

    async start() {
      if (running) {
        // A second start() is a full reload of the directory units: everything is rebuilt, and a
        // base that no longer compiles leaves every unit as it was.
        await registry.runLoad(async () => {
          try {
            if (!bundleUnits.has('base')) await loadBaseFromDir();
          } catch (thrown) {
            lastFailure = asPolicyError(thrown, 'base');
            throw lastFailure;
          }
          lastFailure = undefined;
          await reloadFromDir({ tenants: ['*'] });
        });
        return;
      }
      try {
        await registry.runLoad(loadDir);
        await startBundles();
        if (registry.base() === undefined) {
          throw new PolicyError(
            'unit_invalid',
            'no base policy: neither policies.dir/base nor a base bundle is loaded',
          );
        }
      } catch (thrown) {
        await stopAll();
        registry.clear();
        dirMembers.clear();
        lastFailure = asPolicyError(thrown, 'base');
        logger.error(
          { code: lastFailure.code, error: lastFailure.message },
          'policies failed to load',
        );
        throw lastFailure;
      }
      running = true;
      lastFailure = undefined;
      for (const [tenant, entry] of registry.tenants())
        if (entry.kind === 'failed') startupFailures.add(tenant);
      registry.reportTotals();
      if (config.watch && existsSync(policyDir)) {
        dirWatcher = watchPolicyDir(
          policyDir,
          config.watchDebounceMs ?? 100,
          (changed) =>
            registry.runLoad(() =>
              reloadFromDir({ base: changed.base, tenants: [...changed.tenants] }),
            ),
          (error) => logger.warn({ error: describeThrown(error) }, 'policy directory watch failed'),
        );
        await dirWatcher.ready;
        logger.info({ dir: policyDir }, 'watching the policy directory');
      }
    },

    async stop() {
      running = false;
      await stopAll();
      await registry.idle();
      registry.clear();
      dirMembers.clear();
      lastFailure = undefined;
      startupFailures.clear();
    },

    status(): ComponentStatus {
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
        ...(compiler !== undefined && {
          opa: { path: compiler.opa.path, version: compiler.opaVersion },
        }),
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
    },
  };
}
