// stdout and file sinks: JSON lines through pino's async destination, the file rotated by size.
import { existsSync, renameSync, statSync } from 'node:fs';
import pino from 'pino';
import type { AuditFormat } from '../config/types.js';
import type { ComponentStatus } from '../lib/lifecycle.js';
import type { AuditDestination, AuditDestinationEvents } from './destination.js';

export interface LineSinkOptions extends AuditDestinationEvents {
  readonly name: string;
  readonly format: AuditFormat;
  /** File descriptor 1 (stdout) or a file path (its folder is created). */
  readonly destination: 1 | string;
  /** Rotate a file destination at this many bytes. */
  readonly maxBytes?: number;
  /** Rotated files kept (`path.1` newest … `path.N` oldest). */
  readonly maxFiles?: number;
}

type Boom = ReturnType<typeof pino.destination>;

export function createLineSink(options: LineSinkOptions): AuditDestination {
  const file = typeof options.destination === 'string' ? options.destination : undefined;
  // The record is the whole line: no pino level/time/pid envelope, so the documented schema is exactly what lands.
  const stream: Boom = pino.destination({
    dest: options.destination,
    sync: false,
    minLength: 4096,
    // Strings (the default utf8 mode), not contentMode 'buffer': in buffer mode sonic-boom 4 throws
    // from its open callback when a rotation reopens the file while a write is in flight.
    ...(file ? { mkdir: true } : {}),
  });
  let lastError: string | undefined;
  stream.on('error', (err: Error) => {
    reopening = false;
    lastError = err.message;
    options.onError?.(err, 'write');
  });
  /** Lines of the batch, joined once at commit: one flat string, not a deep chain of concatenations. */
  let lines: string[] = [];
  let size = file && existsSync(file) ? statSync(file).size : 0;
  let closed = false;
  /**
   * A reopen has not finished yet. sonic-boom queues a reopen asked for meanwhile and runs it
   * later, even after close() destroyed the stream, where it throws out of an event handler; so
   * no second rotation starts until the first is done (the next commit tries again).
   */
  let reopening = false;
  const reopened = () => {
    reopening = false;
  };

  /** Renames path → path.1 → … → path.N (the oldest falls off) and reopens path, new and empty. */
  const rotate = () => {
    if (!file || reopening || closed) return;
    const keep = options.maxFiles ?? 5;
    try {
      for (let i = keep - 1; i >= 1; i--) {
        if (existsSync(`${file}.${i}`)) renameSync(`${file}.${i}`, `${file}.${i + 1}`);
      }
      if (existsSync(file)) renameSync(file, `${file}.1`);
      // Lines still buffered land in the renamed file or the new one, in order either way.
      reopening = true;
      stream.once('ready', reopened);
      stream.reopen();
      size = 0;
    } catch (err) {
      options.onError?.(err as Error, 'rotate');
    }
  };

  const flushStream = () =>
    new Promise<void>((resolve) => {
      // A destination still opening its file cannot flush yet; wait for it first.
      const go = (again: boolean) =>
        stream.flush((err?: Error) => {
          // A pipe or a terminal cannot be fsynced (EINVAL): its data is already written.
          if (err && (err as NodeJS.ErrnoException).code !== 'EINVAL') {
            options.onError?.(err, 'flush');
            resolve();
            return;
          }
          // A flush asked for while a write is in flight only waits for that write: sonic-boom
          // then leaves up to min_length bytes buffered. Nothing is in flight now, so a second
          // flush writes them (and whatever came since: once is enough, even under load).
          if (again && (stream as unknown as { _len: number })._len > 0) go(false);
          else resolve();
        });
      if ((stream as unknown as { fd: number }).fd >= 0) go(true);
      // Not from inside 'ready': sonic-boom's open handler, after emitting it, writes again when a
      // flush is pending, and the buffer still in flight would land twice.
      else stream.once('ready', () => process.nextTick(go, true));
    });

  return {
    name: options.name,
    driver: file ? 'file' : 'stdout',
    format: options.format,
    add(_record, line) {
      lines.push(line);
    },
    commit() {
      const count = lines.length;
      if (count === 0) return;
      if (closed) {
        options.onRecords?.('dropped', count);
      } else {
        // Measuring (sonic-boom does, to buffer) or writing a string built by many `+=` first
        // flattens it, slowly for a deep chain; join() writes one flat string in a single pass.
        const text = lines.join('');
        stream.write(text);
        options.onRecords?.('written', count);
        if (file && options.maxBytes !== undefined) {
          size += Buffer.byteLength(text); // bytes, as max_bytes and the size found at start are
          if (size >= options.maxBytes) rotate();
        }
      }
      lines = [];
    },
    admits: () => true,
    async start() {},
    flush: flushStream,
    async close() {
      if (closed) return;
      closed = true;
      await flushStream();
      if (!file) return; // never close the process's stdout
      await new Promise<void>((resolve) => {
        stream.once('close', () => resolve());
        stream.once('error', () => resolve());
        stream.end();
      });
    },
    status(): ComponentStatus {
      return lastError === undefined
        ? { state: 'OK' }
        : { state: 'WARN', message: `last write failed: ${lastError}` };
    },
  };
}
