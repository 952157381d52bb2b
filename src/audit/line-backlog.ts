// What a descriptor that would block has not taken yet: kept in order, retried on a timer, bounded by the line destination.
import { writeSync } from 'node:fs';

/** Between attempts to write a backlog to a descriptor that would block. */
const RETRY_MS = 10;

/** True for the errors of a non-blocking descriptor that cannot take more now. */
export function isWouldBlock(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EAGAIN' || code === 'EWOULDBLOCK';
}

/** The bytes a descriptor has not taken yet, oldest first, and the callers waiting for them. */
export interface LineBacklog {
  /** Bytes kept, not yet written. */
  bytes(): number;
  isEmpty(): boolean;
  /** Keeps `chunk` behind what is already kept and schedules a retry. */
  keep(chunk: Buffer): void;
  /** Resolves once everything kept is written (or given up on after a failure). */
  drained(): Promise<void>;
  /** Waits for the backlog until `deadline` (epoch ms), then stops retrying and releases waiters. */
  stop(deadline: number): Promise<void>;
}

/**
 * A backlog written to `fd()` with synchronous writes; a failure other than would-block is
 * reported to `fail` and the backlog is given up.
 */
export function createLineBacklog(
  fd: () => number,
  fail: (err: unknown, what: string) => void,
): LineBacklog {
  let chunks: Buffer[] = [];
  let bytes = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  /** Callers waiting for the backlog to be written. */
  let waiting: (() => void)[] = [];

  const settleWaiters = () => {
    const done = waiting;
    waiting = [];
    for (const resolve of done) resolve();
  };

  /** Writes the backlog, in order, until done or the descriptor would block again. */
  const writeBacklog = () => {
    retryTimer = undefined;
    while (chunks.length > 0) {
      const chunk = chunks[0] as Buffer;
      let n: number;
      try {
        n = writeSync(fd(), chunk);
      } catch (err) {
        if (isWouldBlock(err)) {
          retryTimer = setTimeout(writeBacklog, RETRY_MS);
          return;
        }
        fail(err, 'write');
        chunks = [];
        bytes = 0;
        break;
      }
      bytes -= n;
      if (n < chunk.length) chunks[0] = chunk.subarray(n);
      else chunks.shift();
    }
    settleWaiters();
  };

  return {
    bytes: () => bytes,
    isEmpty: () => chunks.length === 0,
    keep(chunk) {
      chunks.push(chunk);
      bytes += chunk.length;
      retryTimer ??= setTimeout(writeBacklog, RETRY_MS);
    },
    drained() {
      if (chunks.length === 0) return Promise.resolve();
      return new Promise<void>((resolve) => waiting.push(resolve));
    },
    async stop(deadline) {
      if (chunks.length === 0) return;
      const left = Math.max(0, deadline - Date.now());
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        waiting.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      if (retryTimer !== undefined) clearTimeout(retryTimer);
      retryTimer = undefined;
      settleWaiters();
    },
  };
}
