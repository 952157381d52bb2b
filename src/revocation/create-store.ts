// Builds the configured revocation store (memory or Redis) over one index and one durable log (snapshot plus journal).
import type { RevocationConfig } from '../config/revocation.js';
import type { IssuerConfig } from '../config/types.js';
import { createLifetimeRules, type LifetimeRules } from './lifetime.js';
import { createMemoryRevocationStore } from './memory/store.js';
import { createRedisRevocationStore } from './redis/store.js';
import { createRevocationIndex } from './revocation-index.js';
import { createRevocationLog } from './revocation-log.js';
import { createSnapshotFile } from './snapshot-file.js';
import type { StoreLogger } from './store-logger.js';
import type { RevocationStore } from './types.js';

export interface RevocationStoreDeps {
  /** Data-plane issuers: their lifetimes and clock tolerances bound how long entries must live. */
  readonly issuers: readonly IssuerConfig[];
  readonly logger?: StoreLogger;
  /** Clock, epoch ms (test seam). Default Date.now. */
  readonly now?: () => number;
  /** Journal records before a compaction into the snapshot (test seam). Default 1000, or the snapshot's size. */
  readonly compactAfterRecords?: number;
}

export interface RevocationSetup {
  readonly store: RevocationStore;
  readonly lifetime: LifetimeRules;
}

export function createRevocationStore(
  config: RevocationConfig,
  deps: RevocationStoreDeps,
): RevocationSetup {
  const perIssuer = new Map<string, number>();
  let toleranceSeconds = 0;
  for (const issuer of deps.issuers) {
    perIssuer.set(issuer.issuer, issuer.maxTokenLifetimeSeconds ?? config.maxTokenLifetimeSeconds);
    toleranceSeconds = Math.max(toleranceSeconds, issuer.clockToleranceSeconds);
  }
  const lifetime = createLifetimeRules({
    defaultSeconds: config.maxTokenLifetimeSeconds,
    perIssuer,
    toleranceSeconds,
  });
  const index = createRevocationIndex({
    grantClaim: config.grantClaim,
    lifetime,
    ...(deps.now ? { now: deps.now } : {}),
  });
  const log = createRevocationLog({
    snapshot: createSnapshotFile(config.path),
    ...(deps.now ? { now: deps.now } : {}),
    ...(deps.compactAfterRecords !== undefined
      ? { compactAfterRecords: deps.compactAfterRecords }
      : {}),
    onCompactError: (err) =>
      deps.logger?.warn(
        { path: config.path, err: err.message },
        'cannot fold the revocation journal into the snapshot; retrying later',
      ),
  });
  const sweepIntervalMs = config.sweepIntervalSeconds * 1000;
  const common = {
    index,
    log,
    sweepIntervalMs,
    ...(deps.logger ? { logger: deps.logger } : {}),
  };
  const store =
    config.store.driver === 'redis'
      ? createRedisRevocationStore({
          ...common,
          url: config.store.url,
          keyPrefix: config.store.keyPrefix,
          connectTimeoutMs: config.store.connectTimeoutMs,
          unavailableAtStart: config.store.unavailableAtStart,
          resyncIntervalMs: config.store.resyncIntervalSeconds * 1000,
          retryMaxDelayMs: config.store.retryMaxDelayMs,
          ...(deps.now ? { now: deps.now } : {}),
        })
      : createMemoryRevocationStore(common);
  return { store, lifetime };
}
