// Audit sink writing JSON lines through pino's async destination, serialised after the response instead of inside the check.
import pino from 'pino';
import type { AuditRecord } from './record.js';
import type { AuditSink } from './sink.js';

export interface PinoSinkOptions {
  /** File descriptor 1 (stdout) or a file path (its folder is created). */
  readonly destination: 1 | string;
  /** Records queued but not yet serialised beyond which new ones are dropped and counted. Default 100000. */
  readonly maxQueue?: number;
  /** Called per record with `written` or `dropped`, for metrics. */
  readonly onRecord?: (result: 'written' | 'dropped') => void;
  /** Called when the destination reports an error; audit failures never fail a request. */
  readonly onError?: (err: Error) => void;
}

export function createPinoAuditSink(options: PinoSinkOptions): AuditSink {
  // The record is the whole line: no pino level/time/pid envelope, so the documented schema is exactly what lands.
  const stream = pino.destination({
    dest: options.destination,
    sync: false,
    minLength: 4096,
    ...(typeof options.destination === 'string' ? { mkdir: true } : {}),
  });
  stream.on('error', (err: Error) => options.onError?.(err));
  const maxQueue = options.maxQueue ?? 100_000;
  let queue: AuditRecord[] = [];
  let scheduled = false;
  let closed = false;

  // Serialising a record costs microseconds; doing it in a later macrotask keeps it out of the
  // decision's latency, and batching keeps the number of scheduled callbacks at one.
  const drain = () => {
    scheduled = false;
    if (queue.length === 0) return;
    const batch = queue;
    queue = [];
    let text = '';
    for (const record of batch) text += `${JSON.stringify(record)}\n`;
    stream.write(text);
    for (let i = 0; i < batch.length; i++) options.onRecord?.('written');
  };

  const flushStream = () =>
    new Promise<void>((resolve) => {
      // A destination still opening its file cannot flush yet; wait for it first.
      const go = () =>
        stream.flush((err?: Error) => {
          if (err) options.onError?.(err);
          resolve();
        });
      if ((stream as unknown as { fd: number }).fd >= 0) go();
      else stream.once('ready', go);
    });

  return {
    write(record) {
      if (closed || queue.length >= maxQueue) {
        options.onRecord?.('dropped');
        return;
      }
      queue.push(record);
      if (!scheduled) {
        scheduled = true;
        setImmediate(drain);
      }
    },
    async flush() {
      drain();
      await flushStream();
    },
    async close() {
      if (closed) return;
      closed = true;
      drain();
      await flushStream();
      if (options.destination === 1) return; // never close the process's stdout
      await new Promise<void>((resolve) => {
        stream.once('close', () => resolve());
        stream.once('error', () => resolve());
        stream.end();
      });
    },
  };
}
