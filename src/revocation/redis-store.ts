// The shared revocation store for a fleet: entries in Redis with TTLs, changes over pub/sub, a full resync on every (re)connect.
import { randomUUID } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type { ComponentStatus } from '../lib/lifecycle.js';
import {
  decodeChange,
  decodeEntry,
  encodeChange,
  encodeEntry,
  type ChangeMessage,
} from './codec.js';
import { RevocationStoreError } from './errors.js';
import { logLoaded, type StoreLogger } from './memory-store.js';
import type { RevocationIndex } from './revocation-index.js';
import type { LogRecord, RevocationLog } from './revocation-log.js';
import type { RevocationEntry, RevocationStore } from './types.js';

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

/** Keys per SCAN step and per MGET / pipeline batch during a resync. */
const BATCH = 1000;
/** Changes learned from other sidecars are journaled in batches gathered over this window, ms. */
const LEARN_DELAY_MS = 20;

/** host:port of a Redis URL, for logs: never the password. */
function redisAddress(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '6379'}`;
  } catch {
    return '(invalid url)';
  }
}

export function createRedisRevocationStore(options: RedisStoreOptions): RevocationStore {
  const { index, log, logger, keyPrefix } = options;
  const now = options.now ?? Date.now;
  const entryKey = (id: string) => `${keyPrefix}e:${id}`;
  const epochKey = `${keyPrefix}epoch`;
  const channel = `${keyPrefix}changes`;
  const address = redisAddress(options.url);

  let cmd: Redis | undefined;
  let sub: Redis | undefined;
  let stopped = false;
  /** The Redis epoch our index reflects; a different one means Redis lost its data (or is another Redis). */
  let knownEpoch: string | undefined;
  let syncedOnce = false;
  /** True between a completed resync and the next loss of the subscription. */
  let inSync = false;
  let downSince: number | undefined;
  let syncing = false;
  let syncAgain = false;
  /** Changes heard while a resync runs, applied on top of what it loaded. */
  let buffered: ChangeMessage[] | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let retryDelay = 100;
  let resyncTimer: NodeJS.Timeout | undefined;
  let sweeper: NodeJS.Timeout | undefined;
  let learnTimer: NodeJS.Timeout | undefined;
  /** Changes made by other sidecars, applied to the index and waiting to be journaled. */
  let learned: LogRecord[] = [];
  let firstSync: { resolve: () => void } | undefined;
  let errorLogged = false;

  function flushLearned(): Promise<void> {
    if (learnTimer) clearTimeout(learnTimer);
    learnTimer = undefined;
    const batch = learned;
    learned = [];
    return log
      .append(batch)
      .catch((err: unknown) =>
        logger?.warn(
          { path: log.journalPath, err: (err as Error).message, changes: batch.length },
          'cannot journal revocation changes learned from redis',
        ),
      );
  }

  /** Journals changes heard from Redis off the request path, a batch at a time. */
  function learn(records: readonly LogRecord[]): void {
    if (records.length === 0) return;
    for (const r of records) learned.push(r);
    if (learnTimer) return;
    learnTimer = setTimeout(() => void flushLearned(), LEARN_DELAY_MS);
    learnTimer.unref();
  }

  /** Applies a change to the index; true when it changed what is enforced. */
  function apply(change: ChangeMessage): boolean {
    if (change.op === 'add') {
      const e = change.entry;
      if (index.get(e.id) !== undefined) return false;
      if (e.expiresAtMs === undefined || e.expiresAtMs > now()) index.add(e);
      return true;
    }
    return index.remove(change.id) !== undefined;
  }

  /** A change another sidecar (or this one) made: enforced now, journaled soon when it is new here. */
  function applyLearned(change: ChangeMessage): void {
    if (apply(change)) learn([change]);
  }

  function onMessage(ch: string, text: string): void {
    if (ch !== channel) return;
    const change = decodeChange(text);
    if (change === undefined) {
      logger?.warn({ channel }, 'ignored a malformed revocation change message');
      return;
    }
    if (buffered) buffered.push(change);
    else applyLearned(change);
  }

  function ttlOf(entry: RevocationEntry): number | undefined {
    return entry.expiresAtMs === undefined ? undefined : entry.expiresAtMs - now();
  }

  /** Everything under our prefix, read in batches. */
  async function loadAll(client: Redis): Promise<RevocationEntry[]> {
    const out: RevocationEntry[] = [];
    let cursor = '0';
    let skipped = 0;
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${keyPrefix}e:*`, 'COUNT', BATCH);
      cursor = next;
      if (keys.length === 0) continue;
      const values = await client.mget(...keys);
      for (const value of values) {
        if (value === null) continue; // expired between SCAN and MGET
        let parsed: unknown;
        try {
          parsed = JSON.parse(value);
        } catch {
          parsed = undefined;
        }
        const entry = decodeEntry(parsed);
        if (entry) out.push(entry);
        else skipped++;
      }
    } while (cursor !== '0');
    if (skipped > 0)
      logger?.warn({ skipped }, 'malformed revocation entries in redis were skipped');
    return out;
  }

  /** Writes our entries back into a Redis that lost them; SET NX never overwrites what is there. */
  async function reseed(client: Redis): Promise<number> {
    const mine = index.entries().filter((e) => {
      const ttl = ttlOf(e);
      return ttl === undefined || ttl > 0;
    });
    let restored = 0;
    for (let i = 0; i < mine.length; i += BATCH) {
      const batch = mine.slice(i, i + BATCH);
      const pipeline = client.pipeline();
      for (const e of batch) {
        const ttl = ttlOf(e);
        if (ttl === undefined) pipeline.set(entryKey(e.id), encodeEntry(e), 'NX');
        else pipeline.set(entryKey(e.id), encodeEntry(e), 'PX', ttl, 'NX');
      }
      const results = (await pipeline.exec()) ?? [];
      const published = client.pipeline();
      results.forEach(([err, result], j) => {
        if (err === null && result === 'OK') {
          restored++;
          published.publish(
            channel,
            encodeChange({ op: 'add', entry: batch[j] as RevocationEntry }),
          );
        }
      });
      if (restored > 0) await published.exec();
    }
    return restored;
  }

  async function resyncOnce(client: Redis): Promise<void> {
    let epoch = await client.get(epochKey);
    if (epoch === null) {
      await client.set(epochKey, randomUUID(), 'NX');
      epoch = await client.get(epochKey);
    }
    if (epoch === null) throw new Error('the redis epoch key vanished');
    // Same epoch: Redis holds everything since we last synced, deletes included, so it wins.
    // Another epoch: Redis restarted empty (or is new); what we know goes back in first.
    if (epoch !== knownEpoch) {
      const restored = await reseed(client);
      if (restored > 0 || knownEpoch !== undefined) {
        logger?.warn(
          { redis: address, restored },
          'redis lost its revocations (new epoch); restored the ones this sidecar knows',
        );
      }
    }
    const loaded = await loadAll(client);
    const nowMs = now();
    // SCAN order is arbitrary; lists are oldest first.
    loaded.sort((a, b) => a.createdAtMs - b.createdAtMs || (a.id < b.id ? -1 : 1));
    const fresh = loaded.filter((e) => e.expiresAtMs === undefined || e.expiresAtMs > nowMs);
    const before = new Set(index.entries().map((e) => e.id));
    index.replaceAll(fresh);
    // Only the difference goes to the journal (entries are immutable by id): a resync that changes nothing writes nothing.
    const diff: LogRecord[] = [];
    for (const e of fresh) if (!before.delete(e.id)) diff.push({ op: 'add', entry: e });
    for (const id of before) diff.push({ op: 'del', id });
    if (epoch !== knownEpoch) diff.push({ op: 'epoch', epoch });
    knownEpoch = epoch;
    learn(diff);
  }

  async function resync(): Promise<void> {
    if (stopped) return;
    if (syncing) {
      syncAgain = true;
      return;
    }
    const client = cmd;
    if (client === undefined || client.status !== 'ready' || sub?.status !== 'ready') return;
    syncing = true;
    buffered = [];
    try {
      await resyncOnce(client);
      const changes = buffered;
      buffered = undefined;
      for (const change of changes) applyLearned(change);
      syncedOnce = true;
      inSync = true;
      downSince = undefined;
      retryDelay = 100;
      firstSync?.resolve();
      logger?.info({ redis: address, entries: index.size() }, 'revocations synced with redis');
    } catch (err) {
      const changes = buffered ?? [];
      buffered = undefined;
      for (const change of changes) applyLearned(change);
      logger?.warn(
        { redis: address, err: (err as Error).message },
        'revocation resync failed; retrying',
      );
      retryTimer = setTimeout(() => {
        retryTimer = undefined;
        void resync();
      }, retryDelay);
      retryTimer.unref();
      retryDelay = Math.min(retryDelay * 2, options.retryMaxDelayMs);
    } finally {
      syncing = false;
    }
    if (syncAgain) {
      syncAgain = false;
      void resync();
    }
  }

  function connectionLost(): void {
    if (stopped) return;
    if (inSync) {
      logger?.warn(
        { redis: address, entries: index.size() },
        'redis connection lost; serving the last known revocations',
      );
    }
    inSync = false;
    downSince ??= now();
  }

  function clientOptions(): RedisOptions {
    return {
      lazyConnect: true,
      // Fail fast while disconnected: an admin write must error, not hang in a queue.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: options.connectTimeoutMs,
      autoResubscribe: false,
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 10), options.retryMaxDelayMs),
    };
  }

  function onError(err: Error): void {
    if (errorLogged) return;
    errorLogged = true;
    logger?.warn({ redis: address, err: err.message }, 'redis error (revocation store)');
  }

  async function readyClient(): Promise<Redis> {
    if (cmd === undefined || cmd.status !== 'ready') {
      throw new RevocationStoreError(
        'store_unavailable',
        'the revocation store (redis) is unreachable',
      );
    }
    return cmd;
  }

  async function exec(
    run: (client: Redis) => Promise<[Error | null, unknown][] | null>,
  ): Promise<unknown[]> {
    const client = await readyClient();
    let results: [Error | null, unknown][] | null;
    try {
      results = await run(client);
    } catch (err) {
      throw new RevocationStoreError('store_unavailable', 'the revocation store (redis) failed', {
        cause: err,
      });
    }
    if (results === null) {
      throw new RevocationStoreError('store_unavailable', 'the redis transaction was aborted');
    }
    return results.map(([err, value]) => {
      if (err) {
        throw new RevocationStoreError('store_unavailable', 'the revocation store (redis) failed', {
          cause: err,
        });
      }
      return value;
    });
  }

  return {
    driver: 'redis',
    match: index.match,

    async add(entry) {
      const ttl = ttlOf(entry);
      if (ttl !== undefined && ttl <= 0) return; // already irrelevant: nothing to store
      const message = encodeChange({ op: 'add', entry });
      await exec((client) => {
        const tx = client.multi();
        if (ttl === undefined) tx.set(entryKey(entry.id), encodeEntry(entry));
        else tx.set(entryKey(entry.id), encodeEntry(entry), 'PX', ttl);
        return tx.publish(channel, message).exec();
      });
      // Applied here at once too: this sidecar denies before its own message comes back.
      apply({ op: 'add', entry });
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
    },

    async remove(id) {
      const local = index.get(id);
      const [stored] = await exec((client) =>
        client
          .multi()
          .get(entryKey(id))
          .del(entryKey(id))
          .publish(channel, encodeChange({ op: 'del', id }))
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
      apply({ op: 'del', id });
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
    },

    get: (id) => index.get(id),
    list: (filter) => index.list(filter),
    size: () => index.size(),
    sweep: () => index.sweep(),

    async start() {
      const loaded = await log.load();
      index.replaceAll(loaded.entries);
      const expired = index.sweep();
      knownEpoch = loaded.epoch;
      logLoaded(logger, log, loaded, index.size(), expired);
      // Expired entries need no journal record: load and compaction drop them.
      sweeper = setInterval(() => index.sweep(), options.sweepIntervalMs);
      sweeper.unref();
      if (options.resyncIntervalMs > 0) {
        resyncTimer = setInterval(() => void resync(), options.resyncIntervalMs);
        resyncTimer.unref();
      }

      cmd = new Redis(options.url, clientOptions());
      sub = new Redis(options.url, clientOptions());
      cmd.on('error', onError);
      sub.on('error', onError);
      sub.on('message', onMessage);
      cmd.on('ready', () => {
        errorLogged = false;
        void resync();
      });
      sub.on('ready', () => {
        errorLogged = false;
        // Subscribe before loading, so no change falls between the two.
        sub?.subscribe(channel).then(
          () => void resync(),
          (err: unknown) => onError(err as Error),
        );
      });
      sub.on('close', connectionLost);

      const synced = new Promise<void>((resolve) => (firstSync = { resolve }));
      const timeout = new Promise<void>((resolve) => {
        const t = setTimeout(resolve, options.connectTimeoutMs);
        t.unref();
      });
      // Connection failures are retried in the background by the clients themselves.
      cmd.connect().catch(() => {});
      sub.connect().catch(() => {});
      await Promise.race([synced, timeout]);
      if (!syncedOnce) {
        downSince ??= now();
        logger?.warn(
          { redis: address, entries: index.size(), path: log.path },
          'redis unreachable at start; serving revocations from disk and retrying',
        );
      }
    },

    async stop() {
      stopped = true;
      if (retryTimer) clearTimeout(retryTimer);
      for (const t of [resyncTimer, sweeper]) if (t) clearInterval(t);
      firstSync?.resolve();
      await flushLearned();
      await log.close().catch(() => {});
      sub?.disconnect();
      cmd?.disconnect();
    },

    status(): ComponentStatus {
      const detail = {
        driver: 'redis',
        redis: address,
        entries: index.size(),
        connected: inSync,
        ...(downSince !== undefined ? { down_since: new Date(downSince).toISOString() } : {}),
      };
      if (inSync) {
        return {
          state: 'OK',
          message: `${detail.entries} revocation(s), synced with redis`,
          detail,
        };
      }
      if (!syncedOnce) {
        return {
          state: options.unavailableAtStart === 'degraded' ? 'WARN' : 'NOT_READY',
          message: `redis ${address} not reached since start; serving ${detail.entries} revocation(s) from disk`,
          detail,
        };
      }
      return {
        state: 'WARN',
        message: `redis ${address} connection lost; serving the last known ${detail.entries} revocation(s) and reconnecting`,
        detail,
      };
    },
  };
}
