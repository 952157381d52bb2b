// The spool's segment files and delivery cursor: what is on disk, what of it is delivered, recovery at open, drop-oldest, and the cursor file.
import { open, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditSpoolConfig } from '../../config/types.js';

/** One append-only file of newline-terminated JSON records. */
export interface Segment {
  readonly seq: number;
  readonly path: string;
  /** Bytes of complete lines. */
  size: number;
  records: number;
  /** Offsets where a write batch began and when it was spooled, for the oldest-undelivered age. */
  marks: { offset: number; timeMs: number }[];
  sealed: boolean;
  /** From a previous run (or torn by a failed write): lines are parsed before they are sent. */
  validate: boolean;
  handle?: FileHandle;
}

/** What the segments report to their owner. */
export interface SegmentEvents {
  /** `n` records were removed undelivered (drop-oldest, or torn by a crash). */
  readonly onDropped?: (n: number, why: 'spool_full' | 'corrupt') => void;
  readonly onError?: (err: Error, what: string) => void;
}

const SEGMENT = /^(\d{16})\.seg$/;
const CURSOR = 'cursor.json';
const TIMESTAMP = /"timestamp":"([^"]+)"/;

function segmentName(seq: number): string {
  return `${String(seq).padStart(16, '0')}.seg`;
}

/** The `timestamp` field of a record line, epoch ms; undefined when it has none. */
export function timeOfLine(line: string): number | undefined {
  const m = TIMESTAMP.exec(line);
  const t = m ? Date.parse(m[1] as string) : NaN;
  return Number.isNaN(t) ? undefined : t;
}

interface SegmentScan {
  size: number;
  records: number;
  torn: number;
  cursorOffset: number;
  recordsBeforeCursor: number;
  marks: { offset: number; timeMs: number }[];
}

/** Counts the complete lines of a segment and where the line at `cursorOffset` starts and when it was written. */
async function scanSegment(path: string, cursorOffset: number): Promise<SegmentScan> {
  const handle = await open(path, 'r');
  try {
    const { size: fileSize } = await handle.stat();
    const chunk = Buffer.allocUnsafe(1024 * 1024);
    let position = 0;
    let records = 0;
    let lastNewline = -1;
    let recordsBeforeCursor = 0;
    let lineStart = 0;
    let cursorLine = -1;
    // The first line and the one at the cursor, for the time the oldest undelivered record was spooled.
    const firstLines = new Map<number, string>();
    while (position < fileSize) {
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, position);
      if (bytesRead === 0) break;
      for (
        let i = chunk.indexOf(0x0a, 0);
        i >= 0 && i < bytesRead;
        i = chunk.indexOf(0x0a, i + 1)
      ) {
        const abs = position + i;
        const wanted = lineStart === 0 || (cursorLine < 0 && lineStart >= cursorOffset);
        if (cursorLine < 0 && lineStart >= cursorOffset) cursorLine = lineStart;
        if (wanted && lineStart >= position) {
          firstLines.set(lineStart, chunk.toString('utf8', lineStart - position, i));
        }
        if (abs < cursorOffset) recordsBeforeCursor++;
        records++;
        lastNewline = abs;
        lineStart = abs + 1;
      }
      position += bytesRead;
    }
    const size = lastNewline + 1;
    const marks: { offset: number; timeMs: number }[] = [];
    const { mtimeMs } = await handle.stat();
    for (const [offset, line] of [...firstLines].sort((a, b) => a[0] - b[0])) {
      marks.push({ offset, timeMs: timeOfLine(line) ?? mtimeMs });
    }
    if (marks.length === 0) marks.push({ offset: 0, timeMs: mtimeMs });
    return {
      size,
      records,
      torn: fileSize > size ? 1 : 0,
      cursorOffset: cursorLine >= 0 ? cursorLine : size,
      recordsBeforeCursor,
      marks,
    };
  } finally {
    await handle.close();
  }
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
  let cursorWrite: Promise<void> = Promise.resolve();
  let cursorDirty = false;

  async function readCursor(): Promise<{ seq: number; offset: number }> {
    try {
      const parsed = JSON.parse(await readFile(join(config.dir, CURSOR), 'utf8')) as unknown;
      const c = parsed as { seq?: unknown; offset?: unknown };
      if (typeof c.seq === 'number' && typeof c.offset === 'number') {
        return { seq: c.seq, offset: c.offset };
      }
    } catch {
      // No cursor (first start) or an unreadable one: deliver from the oldest segment.
    }
    return { seq: 0, offset: 0 };
  }

  /** Replaces the cursor file atomically (write, then rename); writes coalesce. */
  function persistCursor(): Promise<void> {
    if (cursorDirty) return cursorWrite;
    cursorDirty = true;
    cursorWrite = cursorWrite.then(async () => {
      cursorDirty = false;
      const first = list[0];
      const cursor = { seq: first ? first.seq : nextSeq, offset: first ? ackOffset : 0 };
      const path = join(config.dir, CURSOR);
      try {
        await writeFile(`${path}.tmp`, JSON.stringify(cursor), { mode: 0o600 });
        await rename(`${path}.tmp`, path);
      } catch (err) {
        events.onError?.(err as Error, 'spool cursor');
      }
    });
    return cursorWrite;
  }

  /** Makes a new segment's directory entry durable, so a power cut cannot orphan its data. */
  async function syncDir(): Promise<void> {
    const dir = await open(config.dir, 'r');
    try {
      await dir.sync();
    } catch {
      // Some filesystems refuse fsync on a directory; the data file is still synced.
    } finally {
      await dir.close();
    }
  }

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
      const cursor = await readCursor();
      const seqs = (await readdir(config.dir))
        .map((n) => SEGMENT.exec(n))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => Number(m[1]))
        .sort((a, b) => a - b);
      let torn = 0;
      for (const seq of seqs) {
        nextSeq = Math.max(nextSeq, seq + 1);
        const path = join(config.dir, segmentName(seq));
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
      if (torn > 0) events.onDropped?.(torn, 'corrupt');
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
      if (config.fsync !== 'never') await syncDir();
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

    oldestMs(orElse) {
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
    },

    persistCursor,
  };
}
