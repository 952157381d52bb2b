// The spool's append side: queues lines in memory, coalesces them into one write, writes and fsyncs them into the open segment, retries failed writes.
import type { FileHandle } from 'node:fs/promises';
import type { AuditSpoolConfig } from '../../config/types.js';
import type { Segment } from './segment-file.js';
import type { Segments } from './segments.js';

/** Records wait at most this long in memory before they are written to the open segment. */
export const COALESCE_MS = 5;
const COALESCE_BYTES = 64 * 1024;
const WRITE_RETRY_MS = 1000;

export interface WriterEvents {
  readonly onError?: (err: Error, what: string) => void;
  /** New bytes are on disk (wakes the shipper). */
  readonly onAppended?: () => void;
}

/** The write half of a spool; it owns what is accepted but not yet on disk. */
export interface SpoolWriter {
  /** Starts the periodic fdatasync when `fsync` is `interval`. */
  start(): void;
  /** Queues whole lines (each ending in `\n`) for the next write; never waits. */
  append(text: string, records: number): void;
  /** Bytes accepted but not yet in a segment (queued or being written). */
  pendingBytes(): number;
  /** Epoch ms the oldest queued line was accepted; undefined when none is queued. */
  pendingSince(): number | undefined;
  /** The last write's failure, cleared by the next good write. */
  writeError(): string | undefined;
  /** Resolves once everything appended so far is written (or the write is failing and will be retried). */
  flush(): Promise<void>;
  /** Writes what is queued, stops retrying and syncing, and seals the open segment. */
  close(): Promise<void>;
}

/** Lines accepted but not yet written, oldest first. */
interface Pending {
  chunks: string[];
  records: number;
  bytes: number;
  /** When the oldest of them was accepted, epoch ms. */
  since: number | undefined;
}

const nothingPending = (): Pending => ({ chunks: [], records: 0, bytes: 0, since: undefined });

/** A failed write's lines go back ahead of those accepted since, keeping their age. */
function putBack(failed: Pending, newer: Pending): Pending {
  return {
    chunks: [...failed.chunks, ...newer.chunks],
    records: newer.records + failed.records,
    bytes: newer.bytes + failed.bytes,
    since: failed.since,
  };
}

/** Writes one buffer whole into `seg`, then fdatasyncs it when `datasync` is set. */
async function writeAll(seg: Segment, buf: Buffer, datasync: boolean): Promise<void> {
  const handle = seg.handle as FileHandle;
  let written = 0;
  while (written < buf.length) {
    const { bytesWritten } = await handle.write(buf, written, buf.length - written);
    written += bytesWritten;
  }
  if (datasync) await handle.datasync();
}

/** A writer appending to the newest of `segments`. */
export function createSpoolWriter(
  config: AuditSpoolConfig,
  segments: Segments,
  events: WriterEvents,
): SpoolWriter {
  let pending = nothingPending();
  /** Bytes of the write in progress: no longer pending, not yet in a segment's size. */
  let writingBytes = 0;
  let writing = false;
  let idleWaiters: (() => void)[] = [];
  let writeError: string | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let coalesceTimer: NodeJS.Timeout | undefined;
  let fsyncTimer: NodeJS.Timeout | undefined;
  let dirty = false;
  let closed = false;

  function startPump(): void {
    if (coalesceTimer !== undefined) {
      clearTimeout(coalesceTimer);
      coalesceTimer = undefined;
    }
    void pump();
  }

  /** Writes queued lines, one write per batch; failures keep the lines queued and retry. */
  async function pump(): Promise<void> {
    if (writing || closed) return;
    writing = true;
    try {
      while (pending.chunks.length > 0) {
        const batch = pending;
        const { chunks } = batch;
        const since = batch.since ?? Date.now();
        pending = nothingPending();
        writingBytes = batch.bytes;
        const buf = Buffer.from(chunks.length === 1 ? (chunks[0] as string) : chunks.join(''));
        let seg: Segment | undefined;
        try {
          seg = await segments.active();
          await writeAll(seg, buf, config.fsync === 'always');
          segments.grew(seg, buf.length, batch.records, since);
          writingBytes = 0;
          dirty = true;
          writeError = undefined;
          if (seg.size >= config.segmentMaxBytes) await segments.seal(seg);
          events.onAppended?.();
        } catch (err) {
          // Keep the lines, ahead of newer ones, and retry later. The segment may now end in a
          // partial line: seal it where its last complete line ended and never append to it again.
          pending = putBack({ ...batch, since }, pending);
          writingBytes = 0;
          writeError = (err as Error).message;
          events.onError?.(err as Error, 'spool write');
          if (seg && !seg.sealed) {
            seg.validate = true;
            await segments.seal(seg).catch(() => {});
          }
          retryTimer = setTimeout(() => {
            retryTimer = undefined;
            void pump();
          }, WRITE_RETRY_MS);
          retryTimer.unref();
          break;
        }
      }
    } finally {
      writing = false;
      if (pending.chunks.length === 0 || retryTimer !== undefined) {
        const waiters = idleWaiters;
        idleWaiters = [];
        for (const w of waiters) w();
      }
    }
  }

  async function syncActive(): Promise<void> {
    if (!dirty) return;
    const seg = segments.openSegment();
    if (!seg?.handle) return;
    dirty = false;
    try {
      await seg.handle.datasync();
    } catch (err) {
      events.onError?.(err as Error, 'spool fsync');
    }
  }

  async function flush(): Promise<void> {
    if (pending.chunks.length > 0 || writing) {
      await new Promise<void>((resolve) => {
        idleWaiters.push(resolve);
        if (!writing && retryTimer === undefined) startPump();
      });
    }
    const seg = segments.openSegment();
    if (seg?.handle && config.fsync !== 'never') {
      dirty = false;
      await seg.handle.datasync().catch(() => {});
    }
  }

  return {
    start() {
      if (config.fsync === 'interval') {
        fsyncTimer = setInterval(() => void syncActive(), config.fsyncIntervalMs);
        fsyncTimer.unref();
      }
    },

    append(text, records) {
      if (records === 0) return;
      pending.chunks.push(text);
      pending.records += records;
      pending.bytes += Buffer.byteLength(text);
      pending.since ??= Date.now();
      if (writing || retryTimer !== undefined) return;
      if (pending.bytes >= COALESCE_BYTES) {
        startPump();
      } else if (coalesceTimer === undefined) {
        // Gather a few milliseconds of records into one write: one syscall and one promise per
        // write, however many event-loop turns the records came in.
        coalesceTimer = setTimeout(() => startPump(), COALESCE_MS);
      }
    },

    pendingBytes: () => pending.bytes + writingBytes,
    pendingSince: () => pending.since,
    writeError: () => writeError,
    flush,

    async close() {
      if (retryTimer !== undefined) {
        clearTimeout(retryTimer);
        retryTimer = undefined;
      }
      await flush();
      closed = true;
      if (fsyncTimer) clearInterval(fsyncTimer);
      const last = segments.openSegment();
      if (last && !last.sealed) await segments.seal(last).catch(() => {});
    },
  };
}
