// The built-in revocation store: the in-memory index, persisted to a snapshot file on every change so a restart forgets nothing.
import type { ComponentStatus } from '../lib/lifecycle.js';
import { RevocationStoreError } from './errors.js';
import type { RevocationIndex } from './revocation-index.js';
import type { SnapshotFile } from './snapshot-file.js';
import type { RevocationStore } from './types.js';

export interface StoreLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface MemoryStoreOptions {
  readonly index: RevocationIndex;
  readonly snapshot: SnapshotFile;
  /** How often expired entries are dropped, ms. */
  readonly sweepIntervalMs: number;
  readonly logger?: StoreLogger;
}

export function createMemoryRevocationStore(options: MemoryStoreOptions): RevocationStore {
  const { index, snapshot, logger } = options;
  let sweeper: NodeJS.Timeout | undefined;
  let lastWriteError: string | undefined;
  let started = false;

  const state = () => ({ entries: index.entries() });

  async function persist(): Promise<void> {
    try {
      await snapshot.save(state);
      lastWriteError = undefined;
    } catch (err) {
      lastWriteError = (err as Error).message;
      throw new RevocationStoreError(
        'store_unavailable',
        `cannot write the revocation snapshot ${snapshot.path}`,
        { cause: err },
      );
    }
  }

  function sweep(): number {
    const removed = index.sweep();
    // Expired entries are harmless in the file (load skips nothing live); rewriting just keeps it small.
    if (removed > 0) persist().catch(() => {});
    return removed;
  }

  return {
    driver: 'memory',
    match: index.match,

    async add(entry) {
      const previous = index.get(entry.id);
      index.add(entry);
      try {
        await persist();
      } catch (err) {
        // Not durable means not stored: the admin gets an error and the index stays as it was.
        if (previous) index.add(previous);
        else index.remove(entry.id);
        throw err;
      }
    },

    async remove(id) {
      const entry = index.get(id);
      if (entry === undefined) return undefined;
      index.remove(id);
      try {
        await persist();
      } catch (err) {
        index.add(entry);
        throw err;
      }
      return entry;
    },

    get: (id) => index.get(id),
    list: (filter) => index.list(filter),
    size: () => index.size(),
    sweep,

    async start() {
      const loaded = await snapshot.load();
      if (loaded) {
        index.replaceAll(loaded.entries);
        const expired = index.sweep();
        logger?.info(
          { path: snapshot.path, entries: index.size(), expired, skipped: loaded.skipped },
          'revocations loaded from the snapshot',
        );
        if (loaded.skipped > 0) {
          logger?.warn(
            { path: snapshot.path, skipped: loaded.skipped },
            'malformed revocation entries in the snapshot were skipped',
          );
        }
      }
      started = true;
      sweeper = setInterval(sweep, options.sweepIntervalMs);
      sweeper.unref();
    },

    async stop() {
      if (sweeper) clearInterval(sweeper);
      sweeper = undefined;
      // Let a write still in flight land before the process goes.
      await snapshot.save(state).catch(() => {});
    },

    status(): ComponentStatus {
      const detail = { driver: 'memory', entries: index.size(), path: snapshot.path };
      if (!started) return { state: 'NOT_READY', message: 'revocations not loaded yet', detail };
      if (lastWriteError !== undefined) {
        return {
          state: 'WARN',
          message: `cannot write the revocation snapshot: ${lastWriteError}`,
          detail,
        };
      }
      return { state: 'OK', message: `${detail.entries} revocation(s), in memory`, detail };
    },
  };
}
