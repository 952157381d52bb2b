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
    // Bytes in, bytes out: in its default utf8 mode sonic-boom measures each string, has fs encode it,
    // then encodes it again once written to find what is left; one Buffer.from here replaces all that.
    contentMode: 'buffer',
    ...(file ? { mkdir: true } : {}),
  });
  let lastError: string | undefined;
  stream.on('error', (err: Error) => {
    lastError = err.message;
    options.onError?.(err, 'write');
  });
  let text = '';
  let count = 0;
  let size = file && existsSync(file) ? statSync(file).size : 0;
  let closed = false;

  /** Renames path → path.1 → … → path.N (the oldest falls off) and reopens path, new and empty. */
  const rotate = () => {
    if (!file) return;
    const keep = options.maxFiles ?? 5;
    try {
      for (let i = keep - 1; i >= 1; i--) {
        if (existsSync(`${file}.${i}`)) renameSync(`${file}.${i}`, `${file}.${i + 1}`);
      }
      if (existsSync(file)) renameSync(file, `${file}.1`);
      // Lines still buffered land in the renamed file or the new one, in order either way.
      stream.reopen();
      size = 0;
    } catch (err) {
      options.onError?.(err as Error, 'rotate');
    }
  };

  const flushStream = () =>
    new Promise<void>((resolve) => {
      // A destination still opening its file cannot flush yet; wait for it first.
      const go = () =>
        stream.flush((err?: Error) => {
          // A pipe or a terminal cannot be fsynced (EINVAL): its data is already written.
          if (err && (err as NodeJS.ErrnoException).code !== 'EINVAL')
            options.onError?.(err, 'flush');
          resolve();
        });
      if ((stream as unknown as { fd: number }).fd >= 0) go();
      // Not from inside 'ready': sonic-boom's open handler, after emitting it, writes again when a
      // flush is pending, and the buffer still in flight would land twice.
      else stream.once('ready', () => process.nextTick(go));
    });

  return {
    name: options.name,
    driver: file ? 'file' : 'stdout',
    format: options.format,
    add(_record, line) {
      text += line;
      count++;
    },
    commit() {
      if (count === 0) return;
      if (closed) {
        options.onRecords?.('dropped', count);
      } else {
        const bytes = Buffer.from(text);
        stream.write(bytes as unknown as string); // contentMode 'buffer'; the typings only know strings
        options.onRecords?.('written', count);
        size += bytes.length; // bytes, as max_bytes and the size found at start are
        if (file && options.maxBytes !== undefined && size >= options.maxBytes) rotate();
      }
      text = '';
      count = 0;
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
