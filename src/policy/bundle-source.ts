// Bundles as a source of units: reads them from a file (watched) or a server (polled), verifies signatures, loads them into the registry.
//
// One bundle serves one unit (base or a tenant). A bundle that does not verify or load is recorded
// in the registry as that unit's failure and leaves what was in force; a download failure keeps the
// active bundle. With `persist`, the last activated bundle serves a restart while the server is down.
import { readFile } from 'node:fs/promises';
import type { FetchLike } from '../lib/fetch-deadline.js';
import type { BundleSourceConfig } from '../config/policies.js';
import type { PolicyConfig } from '../config/types.js';
import { readPolicyBundle } from './bundle-format.js';
import { type BundlePoller, createBundlePoller } from './bundle-poller.js';
import { verifyBundleSignature } from './bundle-signing.js';
import { loadPersistedBundle, persistBundle } from './bundle-store.js';
import { UNIT_ENTRYPOINT } from './conventions.js';
import { type FileWatcher, watchFile } from './dir-watcher.js';
import { PolicyError, describeThrown } from './errors.js';
import type { GroupMember } from './host-group.js';
import {
  type PolicyLogger,
  type PolicyObserver,
  type UnitFailure,
  type UnitRegistry,
  asPolicyError,
  failureReport,
  unitMetricName,
} from './unit-registry.js';
import { compileModule } from './wasm-host.js';

export interface BundleSourceOptions {
  readonly config: PolicyConfig;
  readonly registry: UnitRegistry;
  readonly logger: PolicyLogger;
  readonly observer: PolicyObserver;
  /** HTTP client for bundle servers (tests). Default: global fetch. */
  readonly fetch?: FetchLike;
}

/** What the configured bundles load into the registry. */
export interface BundleSources {
  /** Unit ids served by bundles (`base`, `tenant:<id>`): the directory leaves these alone. */
  readonly units: ReadonlySet<string>;
  /**
   * Loads every bundle (base first) and starts polling / watching. Throws when the base bundle
   * cannot be served; a tenant bundle that fails is recorded as that tenant's failure.
   */
  start(): Promise<void>;
  /** Stops polling and watching; forgets the bundles' state. */
  stop(): Promise<void>;
  /** The bundle's download and activation state for the admin API, when `id` is served by one. */
  status(id: string): Record<string, unknown> | undefined;
  /** The last failure to download or activate the unit's bundle, if it has not activated since. */
  lastError(id: string): UnitFailure | undefined;
}

interface BundleState {
  readonly config: BundleSourceConfig;
  readonly id: string;
  poller?: BundlePoller;
  watcher?: FileWatcher;
  etag?: string;
  lastActivationAt?: number;
  lastDownloadAt?: number;
  lastError?: UnitFailure;
  fromPersisted?: boolean;
}

/** The unit id a bundle serves. */
function bundleUnitId(source: BundleSourceConfig): string {
  return source.tenant === undefined ? 'base' : `tenant:${source.tenant}`;
}

/** What the bundle steps share: the source's options, and whether start-up is over. */
interface BundleContext {
  readonly config: PolicyConfig;
  readonly registry: UnitRegistry;
  readonly logger: PolicyLogger;
  readonly observer: PolicyObserver;
  readonly fetch: FetchLike | undefined;
  /** Set once every bundle is started: a download failure is logged from then on (before, start() reports it). */
  started: boolean;
}

async function activateBundle(
  ctx: BundleContext,
  state: BundleState,
  bytes: Uint8Array,
  etag: string | undefined,
  persist: boolean,
) {
  const { config, registry, logger, observer } = ctx;
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

function bundleFailed(ctx: BundleContext, state: BundleState, thrown: unknown): void {
  const { registry } = ctx;
  const error = asPolicyError(thrown, state.id);
  state.lastError = { error, at: Date.now() };
  registry.recordFailure(state.id, error, 'bundle');
  registry.reportTotals();
}

async function startFileBundle(
  ctx: BundleContext,
  state: BundleState & { config: { source: 'file'; path: string } },
) {
  const { config, registry, logger } = ctx;
  const load = async () => {
    const bytes = await readFile(state.config.path).catch((cause: unknown) => {
      throw new PolicyError('bundle_invalid', `${state.id}: cannot read ${state.config.path}`, {
        unit: state.id,
        cause,
      });
    });
    state.lastDownloadAt = Date.now();
    await activateBundle(ctx, state, bytes, undefined, false);
  };
  try {
    await registry.runLoad(load);
  } catch (thrown) {
    bundleFailed(ctx, state, thrown);
    if (state.id === 'base') throw thrown;
  }
  if (config.watch) {
    state.watcher = watchFile(
      state.config.path,
      config.watchDebounceMs ?? 100,
      () => {
        registry.runLoad(load).catch((thrown: unknown) => bundleFailed(ctx, state, thrown));
      },
      (error) =>
        logger.warn({ unit: state.id, error: describeThrown(error) }, 'bundle watch failed'),
    );
  }
}

async function startUrlBundle(
  ctx: BundleContext,
  state: BundleState & { config: { source: 'url' } },
) {
  const { config, registry, logger, observer } = ctx;
  const source = state.config;
  const persisted =
    source.persist && config.persistDir !== undefined
      ? await loadPersistedBundle(config.persistDir, state.id)
      : undefined;
  const usePersisted = async (why: string) => {
    if (persisted === undefined) return false;
    try {
      await registry.runLoad(() =>
        activateBundle(ctx, state, persisted.bytes, persisted.meta.etag, false),
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
    ...(ctx.fetch !== undefined && { fetch: ctx.fetch }),
    onBundle: async (bytes, etag) => {
      state.lastDownloadAt = Date.now();
      try {
        await registry.runLoad(() => activateBundle(ctx, state, bytes, etag, true));
        state.fromPersisted = false;
      } catch (thrown) {
        bundleFailed(ctx, state, thrown);
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
        if (ctx.started)
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
      bundleFailed(ctx, state, error);
      if (state.id === 'base') {
        poller.start();
        throw error;
      }
    }
  }
  poller.start();
}

/** Builds the bundle sources of `config.bundles`; nothing is read until start(). */
export function createBundleSources(options: BundleSourceOptions): BundleSources {
  const { config } = options;
  const ctx: BundleContext = {
    config,
    registry: options.registry,
    logger: options.logger,
    observer: options.observer,
    fetch: options.fetch,
    started: false,
  };
  const bundleConfigs = config.bundles ?? [];
  const bundles = new Map<string, BundleState>();

  async function startBundles(): Promise<void> {
    for (const source of bundleConfigs) {
      const id = bundleUnitId(source);
      const state: BundleState = { config: source, id };
      bundles.set(id, state);
    }
    // Base first: nothing is served without it.
    const ordered = [...bundles.values()].sort((a, b) =>
      a.id === 'base' ? -1 : b.id === 'base' ? 1 : 0,
    );
    for (const state of ordered) {
      if (state.config.source === 'file') {
        await startFileBundle(
          ctx,
          state as BundleState & { config: { source: 'file'; path: string } },
        );
      } else {
        await startUrlBundle(ctx, state as BundleState & { config: { source: 'url' } });
      }
    }
    ctx.started = true;
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
      ...(state.lastError !== undefined && { last_error: failureReport(state.lastError) }),
    };
  }

  return {
    units: new Set(bundleConfigs.map(bundleUnitId)),
    start: startBundles,
    async stop() {
      ctx.started = false;
      await Promise.all(
        [...bundles.values()].map(async (state) => {
          state.watcher?.close();
          await state.poller?.stop();
        }),
      );
      bundles.clear();
    },
    status: bundleStatus,
    lastError: (id) => bundles.get(id)?.lastError,
  };
}
