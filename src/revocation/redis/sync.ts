// Keeps the local index equal to Redis: full resyncs (reseeding a Redis that lost its data), changes heard over pub/sub, and journaling what was learned.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
  decodeChange,
  decodeEntry,
  encodeChange,
  encodeEntry,
  type ChangeMessage,
} from '../codec.js';
import type { RevocationIndex } from '../revocation-index.js';
import type { LogRecord, RevocationLog } from '../revocation-log.js';
import type { StoreLogger } from '../store-logger.js';
import type { RevocationEntry } from '../types.js';
import type { RedisConnection, RedisKeys } from './connection.js';

/** Keys per SCAN step and per MGET / pipeline batch during a resync. */
const BATCH = 1000;
/** Changes learned from other sidecars are journaled in batches gathered over this window, ms. */
const LEARN_DELAY_MS = 20;

/** Milliseconds an entry still has to live at `nowMs`; undefined when it never expires. */
export function remainingMs(entry: RevocationEntry, nowMs: number): number | undefined {
  return entry.expiresAtMs === undefined ? undefined : entry.expiresAtMs - nowMs;
}

export interface RedisSyncOptions {
  readonly connection: RedisConnection;
  readonly keys: RedisKeys;
  readonly index: RevocationIndex;
  readonly log: RevocationLog;
  /** Longest back-off between failed resyncs, ms. */
  readonly retryMaxDelayMs: number;
  readonly now: () => number;
  readonly logger?: StoreLogger;
}

/** Where the local copy stands against Redis, for the store's status. */
export interface SyncState {
  /** True between a completed resync and the next loss of the subscription. */
  readonly inSync: boolean;
  readonly syncedOnce: boolean;
  /** Epoch ms since Redis has been out of reach; undefined while in sync. */
  readonly downSince: number | undefined;
}

export interface RedisSync {
  /** The Redis epoch the durable copy was last synced with (from the journal at start). */
  setKnownEpoch(epoch: string | undefined): void;
  /** Runs a full resync now, or once more after the one in progress. Never rejects. */
  resync(): Promise<void>;
  /** A resync every `intervalMs`, a safety net under pub/sub. */
  resyncEvery(intervalMs: number): void;
  /** A message heard on the change channel. */
  heard(text: string): void;
  /** Applies a change to the index; true when it changed what is enforced. */
  apply(change: ChangeMessage): boolean;
  /** The subscription is gone: changes may be missed from now on. */
  connectionLost(): void;
  /** Resolves after the first completed resync, or after `timeoutMs`; true when synced. */
  firstSync(timeoutMs: number): Promise<boolean>;
  state(): SyncState;
  /** Stops retrying and resyncing, and journals what was learned so far. */
  stop(): Promise<void>;
}

/** Everything under our prefix, read in batches. */
async function loadAll(
  client: Redis,
  keys: RedisKeys,
  logger: StoreLogger | undefined,
): Promise<RevocationEntry[]> {
  const out: RevocationEntry[] = [];
  let cursor = '0';
  let skipped = 0;
  do {
    const [next, found] = await client.scan(cursor, 'MATCH', keys.entryPattern, 'COUNT', BATCH);
    cursor = next;
    if (found.length === 0) continue;
    const values = await client.mget(...found);
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
  if (skipped > 0) logger?.warn({ skipped }, 'malformed revocation entries in redis were skipped');
  return out;
}

/** Writes our entries back into a Redis that lost them; SET NX never overwrites what is there. */
async function reseed(
  client: Redis,
  keys: RedisKeys,
  entries: readonly RevocationEntry[],
  now: () => number,
): Promise<number> {
  const mine = entries.filter((e) => {
    const ttl = remainingMs(e, now());
    return ttl === undefined || ttl > 0;
  });
  let restored = 0;
  for (let i = 0; i < mine.length; i += BATCH) {
    const batch = mine.slice(i, i + BATCH);
    const pipeline = client.pipeline();
    for (const e of batch) {
      const ttl = remainingMs(e, now());
      if (ttl === undefined) pipeline.set(keys.entry(e.id), encodeEntry(e), 'NX');
      else pipeline.set(keys.entry(e.id), encodeEntry(e), 'PX', ttl, 'NX');
    }
    const results = (await pipeline.exec()) ?? [];
    const published = client.pipeline();
    results.forEach(([err, result], j) => {
      if (err === null && result === 'OK') {
        restored++;
        published.publish(
          keys.channel,
          encodeChange({ op: 'add', entry: batch[j] as RevocationEntry }),
        );
      }
    });
    if (restored > 0) await published.exec();
  }
  return restored;
}

/** Changes learned from Redis, journaled off the request path a batch at a time. */
interface LearnedJournal {
  learn(records: readonly LogRecord[]): void;
  /** Journals what is waiting now. Never rejects: a failure is logged. */
  flush(): Promise<void>;
}

function createLearnedJournal(log: RevocationLog, logger: StoreLogger | undefined): LearnedJournal {
  let timer: NodeJS.Timeout | undefined;
  /** Changes made by other sidecars, applied to the index and waiting to be journaled. */
  let learned: LogRecord[] = [];

  function flush(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = undefined;
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

  return {
    learn(records) {
      if (records.length === 0) return;
      for (const r of records) learned.push(r);
      if (timer) return;
      timer = setTimeout(() => void flush(), LEARN_DELAY_MS);
      timer.unref();
    },
    flush,
  };
}

/**
 * One full resync: reads (or creates) the epoch, reseeds a Redis with a new one, loads every
 * entry into the index, and returns the epoch and the difference to journal.
 */
async function loadFromRedis(
  client: Redis,
  options: RedisSyncOptions,
  knownEpoch: string | undefined,
): Promise<{ epoch: string; diff: LogRecord[] }> {
  const { keys, index, logger, now } = options;
  const address = options.connection.address;
  let epoch = await client.get(keys.epoch);
  if (epoch === null) {
    await client.set(keys.epoch, randomUUID(), 'NX');
    epoch = await client.get(keys.epoch);
  }
  if (epoch === null) throw new Error('the redis epoch key vanished');
  // Same epoch: Redis holds everything since we last synced, deletes included, so it wins.
  // Another epoch: Redis restarted empty (or is new); what we know goes back in first.
  if (epoch !== knownEpoch) {
    const restored = await reseed(client, keys, index.entries(), now);
    if (restored > 0 || knownEpoch !== undefined) {
      logger?.warn(
        { redis: address, restored },
        'redis lost its revocations (new epoch); restored the ones this sidecar knows',
      );
    }
  }
  const loaded = await loadAll(client, keys, logger);
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
  return { epoch, diff };
}

/** Applies a change to the index; true when it changed what is enforced. */
function applyChange(index: RevocationIndex, change: ChangeMessage, now: () => number): boolean {
  if (change.op === 'add') {
    const e = change.entry;
    if (index.get(e.id) !== undefined) return false;
    if (e.expiresAtMs === undefined || e.expiresAtMs > now()) index.add(e);
    return true;
  }
  return index.remove(change.id) !== undefined;
}

/** Builds the synchroniser; it does nothing until the connection reports ready. */
export function createRedisSync(options: RedisSyncOptions): RedisSync {
  const { connection, keys, index, log, logger, now } = options;
  const address = connection.address;
  const journal = createLearnedJournal(log, logger);
  const learn = journal.learn;
  let stopped = false;
  /** The Redis epoch our index reflects; a different one means Redis lost its data (or is another Redis). */
  let knownEpoch: string | undefined;
  let syncedOnce = false;
  let inSync = false;
  let downSince: number | undefined;
  let syncing = false;
  let syncAgain = false;
  /** Changes heard while a resync runs, applied on top of what it loaded. */
  let buffered: ChangeMessage[] | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let retryDelay = 100;
  let resyncTimer: NodeJS.Timeout | undefined;
  let firstSynced: (() => void) | undefined;

  const apply = (change: ChangeMessage): boolean => applyChange(index, change, now);

  /** A change another sidecar (or this one) made: enforced now, journaled soon when it is new here. */
  function applyLearned(change: ChangeMessage): void {
    if (apply(change)) learn([change]);
  }

  /** Reads (or creates) the epoch, reseeds a Redis with a new one, loads everything, journals the difference. */
  async function resyncOnce(client: Redis): Promise<void> {
    const { epoch, diff } = await loadFromRedis(client, options, knownEpoch);
    knownEpoch = epoch;
    learn(diff);
  }

  /** Applies the changes heard during a resync, on top of what it loaded. */
  function releaseBuffered(): void {
    const changes = buffered ?? [];
    buffered = undefined;
    for (const change of changes) applyLearned(change);
  }

  function retryLater(): void {
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void resync();
    }, retryDelay);
    retryTimer.unref();
    retryDelay = Math.min(retryDelay * 2, options.retryMaxDelayMs);
  }

  async function resync(): Promise<void> {
    if (stopped) return;
    if (syncing) {
      syncAgain = true;
      return;
    }
    const client = connection.commandClient();
    if (client === undefined || !connection.bothReady()) return;
    syncing = true;
    buffered = [];
    try {
      await resyncOnce(client);
      releaseBuffered();
      syncedOnce = true;
      inSync = true;
      downSince = undefined;
      retryDelay = 100;
      firstSynced?.();
      logger?.info({ redis: address, entries: index.size() }, 'revocations synced with redis');
    } catch (err) {
      releaseBuffered();
      logger?.warn(
        { redis: address, err: (err as Error).message },
        'revocation resync failed; retrying',
      );
      retryLater();
    } finally {
      syncing = false;
    }
    if (syncAgain) {
      syncAgain = false;
      void resync();
    }
  }

  return {
    setKnownEpoch(epoch) {
      knownEpoch = epoch;
    },

    resync,

    resyncEvery(intervalMs) {
      resyncTimer = setInterval(() => void resync(), intervalMs);
      resyncTimer.unref();
    },

    heard(text) {
      const change = decodeChange(text);
      if (change === undefined) {
        logger?.warn({ channel: keys.channel }, 'ignored a malformed revocation change message');
        return;
      }
      if (buffered) buffered.push(change);
      else applyLearned(change);
    },

    apply,

    connectionLost() {
      if (stopped) return;
      if (inSync) {
        logger?.warn(
          { redis: address, entries: index.size() },
          'redis connection lost; serving the last known revocations',
        );
      }
      inSync = false;
      downSince ??= now();
    },

    async firstSync(timeoutMs) {
      const synced = new Promise<void>((resolve) => (firstSynced = resolve));
      const timeout = new Promise<void>((resolve) => {
        const t = setTimeout(resolve, timeoutMs);
        t.unref();
      });
      await Promise.race([synced, timeout]);
      if (!syncedOnce) downSince ??= now();
      return syncedOnce;
    },

    state: () => ({ inSync, syncedOnce, downSince }),

    async stop() {
      stopped = true;
      if (retryTimer) clearTimeout(retryTimer);
      if (resyncTimer) clearInterval(resyncTimer);
      firstSynced?.();
      await journal.flush();
    },
  };
}
