// The on-disk spool of the http destination: append-only segment files, a delivery cursor, bounded, surviving restarts (the facade over segments, writer and reader).
import { mkdir } from 'node:fs/promises';
import type { AuditSpoolConfig } from '../../config/types.js';
import { acquireSpoolLock, type SpoolLock } from './lock.js';
import type { SpoolBatch } from './reader.js';
import { createSpoolReader } from './reader.js';
import { createSegments } from './segments.js';
import { createSpoolWriter } from './writer.js';

export type { SpoolBatch } from './reader.js';
export { COALESCE_MS } from './writer.js';

export interface SpoolStats {
  /** Undelivered bytes on disk. */
  readonly bytes: number;
  /** Undelivered records on disk. */
  readonly records: number;
  /** Bytes accepted but not yet written. */
  readonly pendingBytes: number;
  readonly segments: number;
  /** Epoch ms when the oldest undelivered record was spooled; undefined when there is none. */
  readonly oldestMs: number | undefined;
  /** The last write failed (disk full, I/O error); cleared by the next good write. */
  readonly writeError: string | undefined;
}

export interface SpoolEvents {
  /** `n` records were removed undelivered (drop-oldest, or torn by a crash). */
  readonly onDropped?: (n: number, why: 'spool_full' | 'corrupt') => void;
  readonly onError?: (err: Error, what: string) => void;
  /** New bytes are on disk (wakes the shipper). */
  readonly onAppended?: () => void;
}

/**
 * Records are appended in batches to the newest segment; a segment is sealed at
 * `segmentMaxBytes`. Delivery reads from the oldest segment at the cursor, the cursor file is
 * replaced atomically after every delivered batch, and a segment is deleted once delivered
 * entirely. All I/O is asynchronous: `append` only queues.
 */
export interface Spool {
  /** Takes the folder's lock, finds what a previous run left, and persists the cursor. */
  open(): Promise<void>;
  /** Bytes on disk not yet delivered. */
  bytes(): number;
  /** The last write failed and is being retried (O(1), read on the decision path by fail-closed destinations). */
  writeFailing(): boolean;
  /** Undelivered bytes on disk plus those accepted but not yet written. */
  usedBytes(): number;
  stats(): SpoolStats;
  /** Queues whole lines (each ending in `\n`) for the next write; never waits. */
  append(text: string, records: number): void;
  /**
   * Drop-oldest: removes whole sealed segments, oldest first, until `incoming` more bytes fit
   * under the bound. Returns the records removed undelivered.
   */
  makeRoom(incoming: number): number;
  /** Resolves once everything appended so far is written (or the write is failing and will be retried). */
  flush(): Promise<void>;
  readBatch(maxBytes: number): Promise<SpoolBatch | undefined>;
  ack(batch: SpoolBatch): Promise<void>;
  release(): void;
  /** Writes what is queued, syncs, persists the cursor, closes the open segment and releases the lock. */
  close(): Promise<void>;
}

/** A spool over `config.dir`; nothing is touched on disk before `open()`. */
export function createSpool(config: AuditSpoolConfig, events: SpoolEvents = {}): Spool {
  const segments = createSegments(config, events);
  const writer = createSpoolWriter(config, segments, events);
  const reader = createSpoolReader(segments);
  let lock: SpoolLock | undefined;
  let closed = false;

  const usedBytes = () => segments.bytes() + writer.pendingBytes();

  return {
    async open() {
      await mkdir(config.dir, { recursive: true, mode: 0o700 });
      // One process per spool: two writers would interleave segments and race on the cursor.
      lock = await acquireSpoolLock(config.dir);
      await segments.recover();
      writer.start();
      await segments.persistCursor();
    },
    bytes: () => segments.bytes(),
    writeFailing: () => writer.writeError() !== undefined,
    usedBytes,
    stats: () => ({
      bytes: segments.bytes(),
      records: segments.records(),
      pendingBytes: writer.pendingBytes(),
      segments: segments.count(),
      oldestMs: segments.oldestMs(() => writer.pendingSince()),
      writeError: writer.writeError(),
    }),
    append: (text, records) => writer.append(text, records),
    makeRoom: (incoming) =>
      segments.dropOldestWhile(() => usedBytes() + incoming > config.maxBytes),
    flush: () => writer.flush(),
    readBatch: (maxBytes) => reader.readBatch(maxBytes),
    ack: (batch) => reader.ack(batch),
    release: () => reader.release(),
    async close() {
      if (closed) return;
      await writer.close();
      closed = true;
      await segments.persistCursor();
      await lock?.release();
    },
  };
}
