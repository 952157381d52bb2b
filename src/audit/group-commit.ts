// answer_after_write's group commit: the records of each drain are committed by one shared sync of every destination.
import type { AuditDestination } from './destination.js';

interface Commit {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(err: Error): void;
}

function createCommit(): Commit {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A decision may never wait on it (an error path): no unhandled rejection.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/** The commits of the audit log's drains. */
export interface GroupCommit {
  /** Settles once the records queued since the last drain are written and synced by every destination. */
  next(): Promise<void>;
  /** A record of the current drain could not be rendered: its commit must not report it written. */
  failDrain(): void;
  /** The current drain is done: its commit joins the next sync (or rejects when it failed). */
  drained(): void;
}

/**
 * Group commit: one sync of every destination covers every drain that completed before it
 * started, so concurrent decisions share an fsync; drains finishing meanwhile share the next one.
 */
export function createGroupCommit(destinations: readonly AuditDestination[]): GroupCommit {
  /** The commit the records queued since the last drain will be part of. */
  let nextCommit: Commit | undefined;
  /** Commits whose records are written, waiting for one sync of every destination. */
  let toSync: Commit[] = [];
  let syncing = false;
  let drainFailed = false;

  const syncCommits = async () => {
    syncing = true;
    while (toSync.length > 0) {
      const batch = toSync;
      toSync = [];
      try {
        await Promise.all(destinations.map((d) => d.sync()));
        for (const c of batch) c.resolve();
      } catch (err) {
        for (const c of batch) c.reject(err as Error);
      }
    }
    syncing = false;
  };

  return {
    next: () => (nextCommit ??= createCommit()).promise,
    failDrain() {
      drainFailed = true;
    },
    drained() {
      const c = nextCommit;
      const failed = drainFailed;
      drainFailed = false;
      if (c === undefined) return;
      nextCommit = undefined;
      if (failed) {
        c.reject(new Error('an audit record could not be rendered'));
        return;
      }
      toSync.push(c);
      if (!syncing) void syncCommits();
    },
  };
}
