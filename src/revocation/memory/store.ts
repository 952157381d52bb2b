// The built-in revocation store: the in-memory index, each change journaled to disk before it is acknowledged so a restart forgets nothing.
import type { ComponentStatus } from '../../lib/lifecycle.js';
import { RevocationStoreError } from '../errors.js';
import type { RevocationIndex } from '../revocation-index.js';
import type { LogRecord, RevocationLog } from '../revocation-log.js';
import { logLoaded, type StoreLogger } from '../store-logger.js';
import type { RevocationStore } from '../types.js';

export interface MemoryStoreOptions {
  readonly index: RevocationIndex;
  /** The durable copy: snapshot plus journal. */
  readonly log: RevocationLog;
  /** How often expired entries are dropped, ms. */
  readonly sweepIntervalMs: number;
  readonly logger?: StoreLogger;
}

/** The memory store: one process's index, journaled to disk before each change is acknowledged. */
export function createMemoryRevocationStore(options: MemoryStoreOptions): RevocationStore {
  const { index, log, logger } = options;
  let sweeper: NodeJS.Timeout | undefined;
  let lastWriteError: string | undefined;
  let started = false;

  async function persist(record: LogRecord): Promise<void> {
    try {
      await log.append([record]);
      lastWriteError = undefined;
    } catch (err) {
      lastWriteError = (err as Error).message;
      throw new RevocationStoreError(
        'store_unavailable',
        `cannot write the revocation journal ${log.journalPath}`,
        { cause: err },
      );
    }
  }

  // Expired entries need no journal record: load and compaction drop them.
  const sweep = (): number => index.sweep();

  return {
    driver: 'memory',
    match: index.match,
    onAdded: index.onAdded,

    async add(entry) {
      const previous = index.get(entry.id);
      index.add(entry);
      try {
        await persist({ op: 'add', entry });
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
        await persist({ op: 'del', id });
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
      const loaded = await log.load();
      index.replaceAll(loaded.entries);
      const expired = index.sweep();
      logLoaded(logger, log, loaded, index.size(), expired);
      started = true;
      sweeper = setInterval(sweep, options.sweepIntervalMs);
      sweeper.unref();
    },

    async stop() {
      if (sweeper) clearInterval(sweeper);
      sweeper = undefined;
      // Let a write still in flight land before the process goes.
      await log.close().catch(() => {});
    },

    status(): ComponentStatus {
      const detail = { driver: 'memory', entries: index.size(), path: log.path };
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
