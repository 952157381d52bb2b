// The stdout and file destinations: each drain's JSON lines written in one system call, the file rotated by size.
//
// Writes are synchronous, one per drain of the audit queue (which runs after the decisions it
// holds were answered). An asynchronous write goes through libuv's thread pool: a copy of the
// text, two thread hand-offs and a completion callback per write, which on a busy sidecar cost
// more than the write itself (a regular file or a pipe being read takes it at once). A descriptor
// that would block (a non-blocking pipe nobody reads fast enough) is never waited on: what it did
// not take is kept, in order, and retried on a timer, up to a bound past which batches are dropped
// and counted.
import {
  closeSync,
  existsSync,
  fdatasync,
  fdatasyncSync,
  mkdirSync,
  openSync,
  renameSync,
  statSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import type { AuditFormat } from '../config/types.js';
import type { ComponentStatus } from '../lib/lifecycle.js';
import type { AuditDestination, AuditDestinationEvents } from './destination.js';

export interface LineDestinationOptions extends AuditDestinationEvents {
  readonly name: string;
  readonly format: AuditFormat;
  /** An open file descriptor (1: stdout; never closed here) or a file path (its folder is created). */
  readonly destination: number | string;
  /** Rotate a file destination at this many bytes. */
  readonly maxBytes?: number;
  /** Rotated files kept (`path.1` newest … `path.N` oldest). */
  readonly maxFiles?: number;
  /** Bytes kept for a destination that would block before batches are dropped. Default 64 MiB. */
  readonly maxBacklogBytes?: number;
}

const DEFAULT_MAX_BACKLOG = 64 * 1024 * 1024;
/** Between attempts to write a backlog to a descriptor that would block. */
const RETRY_MS = 10;

function isWouldBlock(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EAGAIN' || code === 'EWOULDBLOCK';
}

/** The `stdout` and `file` drivers of a `sinks` entry: lines written synchronously, one write per drain. */
export function createLineDestination(options: LineDestinationOptions): AuditDestination {
  const file = typeof options.destination === 'string' ? options.destination : undefined;
  const maxBacklog = options.maxBacklogBytes ?? DEFAULT_MAX_BACKLOG;
  let fd = -1;
  let lastError: string | undefined;
  /** Lines of the current drain, joined once at commit: one flat string, one write. */
  let lines: string[] = [];
  /** Every line of the current drain is known to be ASCII: written as Latin-1, a plain copy. */
  let linesAscii = true;
  let size = 0;
  let closed = false;
  /** What a descriptor that would block has not taken yet, oldest first. */
  let backlog: Buffer[] = [];
  let backlogBytes = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  /** flush() calls waiting for the backlog to be written. */
  let waiting: (() => void)[] = [];
  /** Records dropped since the last sync(): that sync() must not claim they are on disk. */
  let droppedSinceSync = 0;
  /** The file was written since the last sync(), or rotated away unsynced. */
  let unsynced = false;

  const dropped = (count: number) => {
    droppedSinceSync += count;
    options.onRecords?.('dropped', count);
  };

  const fail = (err: unknown, what: string) => {
    const error = err instanceof Error ? err : new Error(String(err));
    // Reported once per kind of failure, not once per drain while it lasts.
    if (lastError !== error.message) options.onError?.(error, what);
    lastError = error.message;
  };

  /** Opens (creating its folder) the file for appending; true when a descriptor is ready. */
  const open = (): boolean => {
    if (fd >= 0) return true;
    if (!file) {
      fd = options.destination as number;
      return true;
    }
    try {
      mkdirSync(dirname(file), { recursive: true });
      fd = openSync(file, 'a');
      size = statSync(file).size;
      return true;
    } catch (err) {
      fail(err, 'open');
      return false;
    }
  };

  /** Renames path → path.1 → … → path.N (the oldest falls off) and starts path again, empty. */
  const rotate = () => {
    if (!file || fd < 0) return;
    const keep = options.maxFiles ?? 5;
    try {
      // What the old file holds must be durable before sync() only looks at the new one.
      if (unsynced) fdatasyncSync(fd);
      closeSync(fd);
    } catch (err) {
      fail(err, 'rotate');
    }
    fd = -1;
    try {
      for (let i = keep - 1; i >= 1; i--) {
        if (existsSync(`${file}.${i}`)) renameSync(`${file}.${i}`, `${file}.${i + 1}`);
      }
      if (existsSync(file)) renameSync(file, `${file}.1`);
    } catch (err) {
      fail(err, 'rotate');
    }
    // Reopened now, or by the next commit if this fails.
    open();
  };

  const settleWaiters = () => {
    const done = waiting;
    waiting = [];
    for (const resolve of done) resolve();
  };

  /** Writes the backlog, in order, until done or the descriptor would block again. */
  const writeBacklog = () => {
    retryTimer = undefined;
    while (backlog.length > 0) {
      const chunk = backlog[0] as Buffer;
      let n: number;
      try {
        n = writeSync(fd, chunk);
      } catch (err) {
        if (isWouldBlock(err)) {
          retryTimer = setTimeout(writeBacklog, RETRY_MS);
          return;
        }
        fail(err, 'write');
        backlog = [];
        backlogBytes = 0;
        break;
      }
      backlogBytes -= n;
      if (n < chunk.length) backlog[0] = chunk.subarray(n);
      else backlog.shift();
    }
    settleWaiters();
  };

  /** Keeps what the descriptor did not take, for writeBacklog. */
  const keep = (rest: Buffer) => {
    backlog.push(rest);
    backlogBytes += rest.length;
    retryTimer ??= setTimeout(writeBacklog, RETRY_MS);
  };

  /** Writes one drain's text; the number of lines it holds is counted as written or dropped. */
  const write = (text: string, count: number, ascii: boolean) => {
    if (!open()) {
      dropped(count);
      return;
    }
    if (backlog.length > 0) {
      // Behind what is already waiting, never before it.
      const chunk = Buffer.from(text);
      if (backlogBytes + chunk.length > maxBacklog) {
        fail(new Error('the destination is not taking records fast enough'), 'write');
        dropped(count);
        return;
      }
      keep(chunk);
      options.onRecords?.('written', count);
      return;
    }
    let n: number;
    try {
      // ASCII's UTF-8 is its Latin-1: a copy, with no encoding pass.
      n = writeSync(fd, text, null, ascii ? 'latin1' : 'utf8');
    } catch (err) {
      if (isWouldBlock(err)) {
        keep(Buffer.from(text));
        options.onRecords?.('written', count);
      } else {
        fail(err, 'write');
        dropped(count);
      }
      return;
    }
    lastError = undefined;
    unsynced = true;
    options.onRecords?.('written', count);
    // A regular file or a blocking pipe takes everything; a short write only happens when the
    // descriptor would have blocked (or hit a limit). Bytes, as max_bytes and the size found at
    // start are.
    const bytes = ascii ? text.length : Buffer.byteLength(text);
    if (n < bytes) keep(Buffer.from(text).subarray(n));
    if (file && options.maxBytes !== undefined) {
      size += bytes;
      if (size >= options.maxBytes) rotate();
    }
  };

  // At once, so a file that cannot be opened shows in status from the start.
  open();

  return {
    name: options.name,
    driver: file ? 'file' : 'stdout',
    format: options.format,
    add(_record, line, ascii) {
      lines.push(line);
      if (ascii !== true) linesAscii = false;
    },
    commit() {
      const count = lines.length;
      if (count === 0) return;
      if (closed) dropped(count);
      else write(lines.join(''), count, linesAscii);
      lines = [];
      linesAscii = true;
    },
    admits: () => true,
    async start() {},
    flush() {
      if (backlog.length === 0) return Promise.resolve();
      return new Promise<void>((resolve) => waiting.push(resolve));
    },
    async sync() {
      if (backlog.length > 0) await new Promise<void>((resolve) => waiting.push(resolve));
      if (droppedSinceSync > 0) {
        droppedSinceSync = 0;
        throw new Error(
          `audit sink ${options.name}: records could not be written (${lastError ?? 'dropped'})`,
        );
      }
      if (!file || fd < 0 || !unsynced) return;
      unsynced = false;
      const target = fd;
      await new Promise<void>((resolve, reject) =>
        fdatasync(target, (err) => (err ? reject(err) : resolve())),
      );
    },
    async close(deadline: number) {
      if (closed) return;
      closed = true;
      if (backlog.length > 0) {
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
      }
      // A descriptor given (the process's stdout) is never closed here.
      if (file && fd >= 0) {
        try {
          closeSync(fd);
        } catch (err) {
          fail(err, 'close');
        }
        fd = -1;
      }
    },
    status(): ComponentStatus {
      return lastError === undefined
        ? { state: 'OK' }
        : { state: 'WARN', message: `last write failed: ${lastError}` };
    },
  };
}
