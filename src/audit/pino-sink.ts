// Audit sink writing JSON lines through pino, serialised after the response instead of inside the check.
import pino, { type Logger } from 'pino';
import type { AuditRecord } from './record.js';
import type { AuditSink } from './sink.js';

export interface PinoSinkOptions {
  /** File descriptor 1 (stdout) or a file path. */
  readonly destination: 1 | string;
  /** Records queued but not yet serialised beyond which new ones are dropped and counted. Default 100000. */
  readonly maxQueue?: number;
  /** Called per record with `written` or `dropped`, for metrics. */
  readonly onRecord?: (result: 'written' | 'dropped') => void;
  /** Called when the destination reports an error; audit failures never fail a request. */
  readonly onError?: (err: Error) => void;
}

export function createPinoAuditSink(options: PinoSinkOptions): AuditSink {
  const stream = pino.destination({
    dest: options.destination,
    sync: false,
    minLength: 4096,
    ...(typeof options.destination === 'string' ? { mkdir: true } : {}),
  });
  stream.on('error', (err: Error) => options.onError?.(err));
  const logger: Logger = pino(
    { base: null, timestamp: false, messageKey: 'msg', formatters: { level: () => ({}) } },
    stream,
  );
  const maxQueue = options.maxQueue ?? 100_000;
  let queue: AuditRecord[] = [];
  let scheduled = false;

  // Serialising a record costs microseconds; doing it in a later macrotask keeps it out of the
  // decision's latency, and batching keeps the number of scheduled callbacks at one.
  const drain = () => {
    scheduled = false;
    const batch = queue;
    queue = [];
    for (const record of batch) {
      logger.info(record);
      options.onRecord?.('written');
    }
  };

  return {
    write(record) {
      if (queue.length >= maxQueue) {
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
      await new Promise<void>((resolve) => {
        stream.flush((err?: Error) => {
          if (err) options.onError?.(err);
          resolve();
        });
      });
    },
    async close() {
      drain();
      await new Promise<void>((resolve) => {
        stream.once('close', () => resolve());
        stream.once('error', () => resolve());
        stream.end();
      });
    },
  };
}
