// The shared revocation store for a fleet: entries in Redis with TTLs, changes over pub/sub, a full resync on every (re)connect.
import type { ComponentStatus } from '../../lib/lifecycle.js';
import { decodeEntry, encodeChange, encodeEntry } from '../codec.js';
import { RevocationStoreError } from '../errors.js';
import type { RevocationIndex } from '../revocation-index.js';
import type { RevocationLog } from '../revocation-log.js';
import { logLoaded, type StoreLogger } from '../store-logger.js';
import type { RevocationEntry, RevocationStore } from '../types.js';
import { createRedisConnection, redisKeys } from './connection.js';
import { createRedisSync, remainingMs, type SyncState } from './sync.js';

export interface RedisStoreOptions {
  /** `redis://[user:password@]host:port[/db]`. */
  readonly url: string;
  /** Prefix of every key and of the channel. */
  readonly keyPrefix: string;
  /** How long start() waits for the first sync before serving from the snapshot, ms. */
  readonly connectTimeoutMs: number;
  /** Status while Redis has not been reached since start: `degraded` (WARN, ready) or `not_ready`. */
  readonly unavailableAtStart: 'degraded' | 'not_ready';
  /** Full resync period while connected, a safety net under pub/sub, ms. 0 disables. */
  readonly resyncIntervalMs: number;
  /** Longest back-off between reconnect attempts, ms. */
  readonly retryMaxDelayMs: number;
  readonly sweepIntervalMs: number;
  readonly index: RevocationIndex;
  /**
   * The durable local copy (snapshot plus journal): every change this sidecar acknowledges is in it
   * before the answer, changes learned from Redis shortly after; served when Redis is down at start.
   */
  readonly log: RevocationLog;
  readonly now?: () => number;
  readonly logger?: StoreLogger;
}

/** OK while in sync; WARN or NOT_READY (as configured) before the first sync; WARN after a loss. */
function redisStoreStatus(
  state: SyncState,
  address: string,
  entries: number,
  unavailableAtStart: RedisStoreOptions['unavailableAtStart'],
): ComponentStatus {
  const detail = {
    driver: 'redis',
    redis: address,
    entries,
    connected: state.inSync,
    ...(state.downSince !== undefined
      ? { down_since: new Date(state.downSince).toISOString() }
      : {}),
  };
  if (state.inSync) {
    return { state: 'OK', message: `${detail.entries} revocation(s), synced with redis`, detail };
  }
  if (!state.syncedOnce) {
    return {
      state: unavailableAtStart === 'degraded' ? 'WARN' : 'NOT_READY',
      message: `redis ${address} not reached since start; serving ${detail.entries} revocation(s) from disk`,
      detail,
    };
  }
  return {
    state: 'WARN',
    message: `redis ${address} connection lost; serving the last known ${detail.entries} revocation(s) and reconnecting`,
    detail,
  };
}

/**
 * The Redis store: writes go to Redis (and this sidecar's journal) before they are acknowledged;
 * reads and matches are served from the local index, which the sync keeps equal to Redis.
 */
export function createRedisRevocationStore(options: RedisStoreOptions): RevocationStore {
  const { index, log, logger } = options;
  const now = options.now ?? Date.now;
  const keys = redisKeys(options.keyPrefix);
  const connection = createRedisConnection({
    url: options.url,
    channel: keys.channel,
    connectTimeoutMs: options.connectTimeoutMs,
    retryMaxDelayMs: options.retryMaxDelayMs,
    ...(logger ? { logger } : {}),
    onReady: () => void sync.resync(),
    onMessage: (text) => sync.heard(text),
    onLost: () => sync.connectionLost(),
  });
  const sync = createRedisSync({
    connection,
    keys,
    index,
    log,
    retryMaxDelayMs: options.retryMaxDelayMs,
    now,
    ...(logger ? { logger } : {}),
  });
  const address = connection.address;
  let sweeper: NodeJS.Timeout | undefined;

  async function add(entry: RevocationEntry): Promise<void> {
    const ttl = remainingMs(entry, now());
    if (ttl !== undefined && ttl <= 0) return; // already irrelevant: nothing to store
    const message = encodeChange({ op: 'add', entry });
    await connection.exec((client) => {
      const tx = client.multi();
      if (ttl === undefined) tx.set(keys.entry(entry.id), encodeEntry(entry));
      else tx.set(keys.entry(entry.id), encodeEntry(entry), 'PX', ttl);
      return tx.publish(keys.channel, message).exec();
    });
    // Applied here at once too: this sidecar denies before its own message comes back.
    sync.apply({ op: 'add', entry });
    // Acknowledged only once it is on this sidecar's disk too: a Redis without persistence and
    // this sidecar may both crash, and the restarted sidecar puts it back into Redis.
    try {
      await log.append([{ op: 'add', entry }]);
    } catch (err) {
      throw new RevocationStoreError(
        'store_unavailable',
        `stored in redis but cannot write the revocation journal ${log.journalPath}`,
        { cause: err },
      );
    }
  }

  async function remove(id: string): Promise<RevocationEntry | undefined> {
    const local = index.get(id);
    const [stored] = await connection.exec((client) =>
      client
        .multi()
        .get(keys.entry(id))
        .del(keys.entry(id))
        .publish(keys.channel, encodeChange({ op: 'del', id }))
        .exec(),
    );
    let entry: RevocationEntry | undefined;
    if (typeof stored === 'string') {
      try {
        entry = decodeEntry(JSON.parse(stored));
      } catch {
        entry = undefined;
      }
    }
    sync.apply({ op: 'del', id });
    // A delete the journal misses only keeps an entry after a restart without Redis: failing closed.
    await log
      .append([{ op: 'del', id }])
      .catch((err: unknown) =>
        logger?.warn(
          { path: log.journalPath, err: (err as Error).message },
          'cannot journal a revocation delete',
        ),
      );
    entry ??= local;
    return entry !== undefined && (entry.expiresAtMs === undefined || entry.expiresAtMs > now())
      ? entry
      : undefined;
  }

  async function start(): Promise<void> {
    const loaded = await log.load();
    index.replaceAll(loaded.entries);
    const expired = index.sweep();
    sync.setKnownEpoch(loaded.epoch);
    logLoaded(logger, log, loaded, index.size(), expired);
    // Expired entries need no journal record: load and compaction drop them.
    sweeper = setInterval(() => index.sweep(), options.sweepIntervalMs);
    sweeper.unref();
    if (options.resyncIntervalMs > 0) sync.resyncEvery(options.resyncIntervalMs);
    const synced = sync.firstSync(options.connectTimeoutMs);
    connection.open();
    if (!(await synced)) {
      logger?.warn(
        { redis: address, entries: index.size(), path: log.path },
        'redis unreachable at start; serving revocations from disk and retrying',
      );
    }
  }

  async function stop(): Promise<void> {
    if (sweeper) clearInterval(sweeper);
    await sync.stop();
    await log.close().catch(() => {});
    connection.close();
  }

  const status = (): ComponentStatus =>
    redisStoreStatus(sync.state(), address, index.size(), options.unavailableAtStart);

  return {
    driver: 'redis',
    match: index.match,
    onAdded: index.onAdded,
    add,
    remove,
    get: (id) => index.get(id),
    list: (filter) => index.list(filter),
    size: () => index.size(),
    sweep: () => index.sweep(),
    start,
    stop,
    status,
  };
}
