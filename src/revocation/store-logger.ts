// The logger a revocation store writes to, and the report both stores give of what they loaded from disk.
import type { LoadedLog, RevocationLog } from './revocation-log.js';

/** The two levels a revocation store logs at (a pino logger fits). */
export interface StoreLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Logs what a store loaded from its durable copy, and anything it had to skip or cut. */
export function logLoaded(
  logger: StoreLogger | undefined,
  log: RevocationLog,
  loaded: LoadedLog,
  entries: number,
  expired: number,
): void {
  if (loaded.entries.length > 0 || loaded.replayed > 0) {
    logger?.info(
      { path: log.path, entries, expired, replayed: loaded.replayed },
      'revocations loaded from disk',
    );
  }
  if (loaded.skipped > 0) {
    logger?.warn(
      { path: log.path, skipped: loaded.skipped },
      'malformed revocation entries on disk were skipped',
    );
  }
  if (loaded.truncatedBytes > 0) {
    logger?.warn(
      { path: log.journalPath, bytes: loaded.truncatedBytes },
      'an unfinished last journal record (never acknowledged) was cut off',
    );
  }
}
