// The stdout and file destinations: each drain's JSON lines written in one system call, the file rotated by size.
//
// Writes are synchronous, one per drain of the audit queue (which runs after the decisions it
// holds were answered). An asynchronous write goes through libuv's thread pool: a copy of the
// text, two thread hand-offs and a completion callback per write, which on a busy sidecar cost
// more than the write itself (a regular file or a pipe being read takes it at once). A descriptor
// that would block (a non-blocking pipe nobody reads fast enough) is never waited on: what it did
// not take is kept, in order, and retried on a timer, up to a bound past which batches are dropped
// and counted.
import { writeSync } from 'node:fs';
import type { AuditFormat } from '../config/types.js';
import type { ComponentStatus } from '../lib/lifecycle.js';
import type { AuditDestination, AuditDestinationEvents } from './destination.js';
import { createLineBacklog, isWouldBlock } from './line-backlog.js';
import { createLineFile, type LineFileOptions } from './line-file.js';

export interface LineDestinationOptions extends AuditDestinationEvents, LineFileOptions {
  readonly name: string;
  readonly format: AuditFormat;
  /** Bytes kept for a destination that would block before batches are dropped. Default 64 MiB. */
  readonly maxBacklogBytes?: number;
}

const DEFAULT_MAX_BACKLOG = 64 * 1024 * 1024;

/** The `stdout` and `file` drivers of a `sinks` entry: lines written synchronously, one write per drain. */
export function createLineDestination(options: LineDestinationOptions): AuditDestination {
  const maxBacklog = options.maxBacklogBytes ?? DEFAULT_MAX_BACKLOG;
  let lastError: string | undefined;
  /** Lines of the current drain, joined once at commit: one flat string, one write. */
  let lines: string[] = [];
  /** Every line of the current drain is known to be ASCII: written as Latin-1, a plain copy. */
  let linesAscii = true;
  let closed = false;
  /** Records dropped since the last sync(): that sync() must not claim they are on disk. */
  let droppedSinceSync = 0;

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

  const out = createLineFile(options, fail);
  const backlog = createLineBacklog(out.fd, fail);

  /** Keeps what the descriptor did not take, behind what is already waiting. */
  const keep = (chunk: Buffer, count: number) => {
    backlog.keep(chunk);
    options.onRecords?.('written', count);
  };

  /** Writes one drain's text; the number of lines it holds is counted as written or dropped. */
  const write = (text: string, count: number, ascii: boolean) => {
    if (!out.open()) {
      dropped(count);
      return;
    }
    if (!backlog.isEmpty()) {
      // Behind what is already waiting, never before it.
      const chunk = Buffer.from(text);
      if (backlog.bytes() + chunk.length > maxBacklog) {
        fail(new Error('the destination is not taking records fast enough'), 'write');
        dropped(count);
        return;
      }
      keep(chunk, count);
      return;
    }
    let n: number;
    try {
      // ASCII's UTF-8 is its Latin-1: a copy, with no encoding pass.
      n = writeSync(out.fd(), text, null, ascii ? 'latin1' : 'utf8');
    } catch (err) {
      if (isWouldBlock(err)) {
        keep(Buffer.from(text), count);
      } else {
        fail(err, 'write');
        dropped(count);
      }
      return;
    }
    lastError = undefined;
    options.onRecords?.('written', count);
    // A regular file or a blocking pipe takes everything; a short write only happens when the
    // descriptor would have blocked (or hit a limit). Bytes, as max_bytes and the size found at
    // start are.
    const bytes = ascii ? text.length : Buffer.byteLength(text);
    if (n < bytes) backlog.keep(Buffer.from(text).subarray(n));
    out.wrote(bytes);
  };

  // At once, so a file that cannot be opened shows in status from the start.
  out.open();

  return {
    name: options.name,
    driver: out.isFile ? 'file' : 'stdout',
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
    flush: () => backlog.drained(),
    async sync() {
      if (!backlog.isEmpty()) await backlog.drained();
      if (droppedSinceSync > 0) {
        droppedSinceSync = 0;
        throw new Error(
          `audit sink ${options.name}: records could not be written (${lastError ?? 'dropped'})`,
        );
      }
      await out.sync();
    },
    async close(deadline: number) {
      if (closed) return;
      closed = true;
      await backlog.stop(deadline);
      out.close();
    },
    status(): ComponentStatus {
      return lastError === undefined
        ? { state: 'OK' }
        : { state: 'WARN', message: `last write failed: ${lastError}` };
    },
  };
}
