// The spool's segments as a whole: what is on disk and what of it is delivered, recovery at open, the open segment, drop-oldest.
import { open, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditSpoolConfig } from '../../config/types.js';
import { createCursorFile, readCursor } from './cursor.js';
import { SEGMENT, scanSegment, segmentName, type Segment } from './segment-file.js';

/** What the segments report to their owner. */
export interface SegmentEvents {
  /** `n` records were removed undelivered (drop-oldest, or torn by a crash). */
  readonly onDropped?: (n: number, why: 'spool_full' | 'corrupt') => void;
  readonly onError?: (err: Error, what: string) => void;
}

/** Makes a new segment's directory entry durable, so a power cut cannot orphan its data. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the data file is still synced.
  } finally {
    await handle.close();
  }
}

/**
 * When the oldest undelivered record on disk was spooled: the mark at or before the cursor in the
 * first segment that still holds undelivered bytes; `orElse()` when every byte is delivered.
 */
function oldestTime(
  list: readonly Segment[],
  ackOffset: number,
  orElse: () => number | undefined,
): number | undefined {
  for (let i = 0; i < list.length; i++) {
    const seg = list[i] as Segment;
    const from = i === 0 ? ackOffset : 0;
    if (from >= seg.size) continue;
    let time: number | undefined;
    for (const mark of seg.marks) {
      if (mark.offset > from) break;
      time = mark.timeMs;
    }
    return time ?? seg.marks[0]?.timeMs;
  }
  return orElse();
}

/** What a previous run left in a spool folder, after deleting what was delivered. */
interface Recovered {
  readonly list: Segment[];
  readonly ackOffset: number;
  readonly ackRecords: number;
  readonly segmentBytes: number;
  readonly nextSeq: number;
  /** Segments that end in a torn line (a write cut short by a crash). */
  readonly torn: number;
}

/** Scans `dir`'s segments from the persisted cursor on; deletes those delivered entirely. */
async function recoverSegments(dir: string): Promise<Recovered> {
  const list: Segment[] = [];
  let ackOffset = 0;
  let ackRecords = 0;
  let segmentBytes = 0;
  let nextSeq = 1;
  const cursor = await readCursor(dir);
  const seqs = (await readdir(dir))
    .map((n) => SEGMENT.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  let torn = 0;
  for (const seq of seqs) {
    nextSeq = Math.max(nextSeq, seq + 1);
    const path = join(dir, segmentName(seq));
    if (seq < cursor.seq) {
      await unlink(path).catch(() => {});
      continue;
    }
    const scan = await scanSegment(path, seq === cursor.seq ? cursor.offset : 0);
    torn += scan.torn;
    if (scan.size === 0 || (seq === cursor.seq && scan.cursorOffset >= scan.size)) {
      await unlink(path).catch(() => {});
      continue;
    }
    if (list.length === 0 && seq === cursor.seq) {
      ackOffset = scan.cursorOffset;
      ackRecords = scan.recordsBeforeCursor;
    }
    segmentBytes += scan.size;
    list.push({
      seq,
      path,
      size: scan.size,
      records: scan.records,
      marks: scan.marks,
      sealed: true,
      validate: true,
    });
  }
  return { list, ackOffset, ackRecords, segmentBytes, nextSeq, torn };
}

/** The ordered segments of one spool folder and the delivery cursor into the oldest. */
export interface Segments {
  /** Finds what a previous run left in the (existing, locked) folder: deletes delivered segments, counts the rest. */
  recover(): Promise<void>;
  /** The oldest segment, where delivery reads; undefined when there is none. */
  oldest(): Segment | undefined;
  /** The segment being appended to; created (and its directory entry made durable) when needed. */
  active(): Promise<Segment>;
  /** The newest segment when it is still open for appends. */
  openSegment(): Segment | undefined;
  /** Bytes `seg` grew by in one write of `records` records spooled at `sinceMs`. */
  grew(seg: Segment, bytes: number, records: number, sinceMs: number): void;
  /** Closes a segment for appends (fdatasync first unless fsync is never). */
  seal(seg: Segment): Promise<void>;
  /** Offset of the cursor in the oldest segment. */
  cursorOffset(): number;
  /** Moves the cursor to `end` in the oldest segment past `records` records, and persists it. */
  advance(end: number, records: number): Promise<void>;
  /** Deletes the oldest segment (delivered entirely) and persists the cursor. */
  removeOldest(): void;
  /** The segment whose batch is being uploaded; drop-oldest spares it. */
  setInFlight(seq: number | undefined): void;
  /**
   * Drop-oldest: removes whole sealed segments, oldest first, while `overBound()` holds. Returns
   * the records removed undelivered. A segment being uploaded is skipped, so a record is never
   * both counted as dropped and delivered.
   */
  dropOldestWhile(overBound: () => boolean): number;
  /** Undelivered bytes on disk. */
  bytes(): number;
  /** Undelivered records on disk. */
  records(): number;
  count(): number;
  /** Epoch ms when the oldest undelivered record on disk was spooled; `orElse()` when none is on disk. */
  oldestMs(orElse: () => number | undefined): number | undefined;
  /** Resolves once the cursor file holds the current cursor. */
  persistCursor(): Promise<void>;
}

/** The segments of `config.dir`; empty until `recover()`. */
export function createSegments(config: AuditSpoolConfig, events: SegmentEvents): Segments {
  const list: Segment[] = [];
  let ackOffset = 0;
  let ackRecords = 0;
  let nextSeq = 1;
  /** Sum of the segments' sizes, kept current so the bound is checked in O(1). */
  let segmentBytes = 0;
  let inFlightSeq: number | undefined;
  const cursorFile = createCursorFile(
    config.dir,
    () => {
      const first = list[0];
      return { seq: first ? first.seq : nextSeq, offset: first ? ackOffset : 0 };
    },
    (err) => events.onError?.(err, 'spool cursor'),
  );
  const persistCursor = () => cursorFile.persist();

  function removeOldest(): void {
    const seg = list.shift();
    ackOffset = 0;
    ackRecords = 0;
    if (seg) {
      segmentBytes -= seg.size;
      void unlink(seg.path).catch(() => {});
    }
    void persistCursor();
  }

  function bytes(): number {
    return segmentBytes - ackOffset;
  }

  return {
    async recover() {
      const found = await recoverSegments(config.dir);
      for (const seg of found.list) list.push(seg);
      ({ ackOffset, ackRecords, segmentBytes } = found);
      nextSeq = Math.max(nextSeq, found.nextSeq);
      if (found.torn > 0) events.onDropped?.(found.torn, 'corrupt');
    },

    oldest: () => list[0],

    async active() {
      const last = list[list.length - 1];
      if (last && !last.sealed && last.handle) return last;
      const seq = nextSeq++;
      const path = join(config.dir, segmentName(seq));
      const handle = await open(path, 'a', 0o600);
      const seg: Segment = {
        seq,
        path,
        size: 0,
        records: 0,
        marks: [],
        sealed: false,
        validate: false,
        handle,
      };
      list.push(seg);
      if (config.fsync !== 'never') await syncDir(config.dir);
      return seg;
    },

    openSegment() {
      const last = list[list.length - 1];
      return last?.handle ? last : undefined;
    },

    grew(seg, grownBytes, records, sinceMs) {
      seg.marks.push({ offset: seg.size, timeMs: sinceMs });
      seg.size += grownBytes;
      segmentBytes += grownBytes;
      seg.records += records;
    },

    async seal(seg) {
      seg.sealed = true;
      const handle = seg.handle;
      seg.handle = undefined;
      if (!handle) return;
      try {
        if (config.fsync !== 'never') await handle.datasync();
      } finally {
        await handle.close();
      }
    },

    cursorOffset: () => ackOffset,

    async advance(end, records) {
      const seg = list[0] as Segment;
      ackOffset = end;
      ackRecords += records;
      let keep = 0;
      while (
        keep + 1 < seg.marks.length &&
        (seg.marks[keep + 1] as { offset: number }).offset <= ackOffset
      ) {
        keep++;
      }
      if (keep > 0) seg.marks.splice(0, keep);
      if (seg.sealed && ackOffset >= seg.size) removeOldest();
      await persistCursor();
    },

    removeOldest,

    setInFlight(seq) {
      inFlightSeq = seq;
    },

    dropOldestWhile(overBound) {
      let dropped = 0;
      while (overBound()) {
        const index = list.findIndex((s) => s.sealed && s.seq !== inFlightSeq);
        if (index < 0) break;
        const seg = list[index] as Segment;
        list.splice(index, 1);
        segmentBytes -= seg.size;
        dropped += seg.records - (index === 0 ? ackRecords : 0);
        if (index === 0) {
          ackOffset = 0;
          ackRecords = 0;
          void persistCursor();
        }
        void unlink(seg.path).catch(() => {});
      }
      if (dropped > 0) events.onDropped?.(dropped, 'spool_full');
      return dropped;
    },

    bytes,

    records() {
      let records = -ackRecords;
      for (const s of list) records += s.records;
      return records;
    },

    count: () => list.length,

    oldestMs: (orElse) => oldestTime(list, ackOffset, orElse),

    persistCursor,
  };
}
