// The on-disk spool of an http sink: append-only segment files, a delivery cursor, bounded, surviving restarts.
import { mkdir, open, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditSpoolConfig } from '../config/types.js';
import { acquireSpoolLock, type SpoolLock } from './spool-lock.js';

/** A run of whole lines read from the oldest segment, ready to upload. */
export interface SpoolBatch {
  readonly seq: number;
  /** Byte range in the segment. */
  readonly start: number;
  readonly end: number;
  /** The records as one JSON array, ready to upload (validated when the segment came from a previous run). */
  readonly body: Buffer;
  /** Records in `body`. */
  readonly count: number;
  /** Lines in the range that did not parse (torn by a crash) and are dropped with the batch. */
  readonly invalid: number;
}

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

interface Segment {
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

const SEGMENT = /^(\d{16})\.seg$/;
const CURSOR = 'cursor.json';
const WRITE_RETRY_MS = 1000;
/** Records wait at most this long in memory before they are written to the open segment. */
export const COALESCE_MS = 5;
const COALESCE_BYTES = 64 * 1024;
const TIMESTAMP = /"timestamp":"([^"]+)"/;

function segmentName(seq: number): string {
  return `${String(seq).padStart(16, '0')}.seg`;
}

function timeOfLine(line: string): number | undefined {
  const m = TIMESTAMP.exec(line);
  const t = m ? Date.parse(m[1] as string) : NaN;
  return Number.isNaN(t) ? undefined : t;
}

/**
 * Records are appended in batches (one per event-loop turn) to the newest segment; a segment is
 * sealed at `segmentMaxBytes`. Delivery reads from the oldest segment at the cursor, the cursor
 * file is replaced atomically after every delivered batch, and a segment is deleted once
 * delivered entirely. All I/O is asynchronous: `append` only queues.
 */
export class Spool {
  private readonly segments: Segment[] = [];
  private ackOffset = 0;
  private ackRecords = 0;
  private nextSeq = 1;
  private pending: string[] = [];
  private pendingRecords = 0;
  private pendingBytesCount = 0;
  /** Sum of the segments' sizes, kept current so the bound is checked in O(1). */
  private segmentBytes = 0;
  /** Bytes of the write in progress: no longer pending, not yet in a segment's size. */
  private writingBytes = 0;
  private pendingSince: number | undefined;
  private writing = false;
  private idleWaiters: (() => void)[] = [];
  private writeError: string | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private coalesceTimer: NodeJS.Timeout | undefined;
  private fsyncTimer: NodeJS.Timeout | undefined;
  private dirty = false;
  private cursorWrite: Promise<void> = Promise.resolve();
  private cursorDirty = false;
  private inFlightSeq: number | undefined;
  private closed = false;
  private spoolLock: SpoolLock | undefined;

  constructor(
    private readonly config: AuditSpoolConfig,
    private readonly events: SpoolEvents = {},
  ) {}

  /** Finds what a previous run left: deletes delivered segments, counts the rest, starts a new segment. */
  async open(): Promise<void> {
    await mkdir(this.config.dir, { recursive: true, mode: 0o700 });
    // One process per spool: two writers would interleave segments and race on the cursor.
    this.spoolLock = await acquireSpoolLock(this.config.dir);
    let cursor = { seq: 0, offset: 0 };
    try {
      const parsed = JSON.parse(await readFile(join(this.config.dir, CURSOR), 'utf8')) as unknown;
      const c = parsed as { seq?: unknown; offset?: unknown };
      if (typeof c.seq === 'number' && typeof c.offset === 'number') {
        cursor = { seq: c.seq, offset: c.offset };
      }
    } catch {
      // No cursor (first start) or an unreadable one: deliver from the oldest segment.
    }
    const names = (await readdir(this.config.dir))
      .map((n) => SEGMENT.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    let torn = 0;
    for (const seq of names) {
      this.nextSeq = Math.max(this.nextSeq, seq + 1);
      const path = join(this.config.dir, segmentName(seq));
      if (seq < cursor.seq) {
        await unlink(path).catch(() => {});
        continue;
      }
      const scan = await this.scanSegment(path, seq === cursor.seq ? cursor.offset : 0);
      torn += scan.torn;
      if (scan.size === 0 || (seq === cursor.seq && scan.cursorOffset >= scan.size)) {
        await unlink(path).catch(() => {});
        continue;
      }
      if (this.segments.length === 0 && seq === cursor.seq) {
        this.ackOffset = scan.cursorOffset;
        this.ackRecords = scan.recordsBeforeCursor;
      }
      this.segmentBytes += scan.size;
      this.segments.push({
        seq,
        path,
        size: scan.size,
        records: scan.records,
        marks: scan.marks,
        sealed: true,
        validate: true,
      });
    }
    if (torn > 0) this.events.onDropped?.(torn, 'corrupt');
    if (this.config.fsync === 'interval') {
      this.fsyncTimer = setInterval(() => void this.syncActive(), this.config.fsyncIntervalMs);
      this.fsyncTimer.unref();
    }
    await this.persistCursor();
  }

  /** Counts the complete lines of a segment and where the line at `cursorOffset` starts and when it was written. */
  private async scanSegment(
    path: string,
    cursorOffset: number,
  ): Promise<{
    size: number;
    records: number;
    torn: number;
    cursorOffset: number;
    recordsBeforeCursor: number;
    marks: { offset: number; timeMs: number }[];
  }> {
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

  /** Bytes on disk not yet delivered. */
  bytes(): number {
    return this.segmentBytes - this.ackOffset;
  }

  /** The last write failed and is being retried (O(1), read on the decision path by fail-closed sinks). */
  writeFailing(): boolean {
    return this.writeError !== undefined;
  }

  /** Undelivered bytes on disk plus those accepted but not yet written. */
  usedBytes(): number {
    return this.bytes() + this.pendingBytesCount + this.writingBytes;
  }

  stats(): SpoolStats {
    let records = -this.ackRecords;
    for (const s of this.segments) records += s.records;
    return {
      bytes: this.bytes(),
      records,
      pendingBytes: this.pendingBytesCount + this.writingBytes,
      segments: this.segments.length,
      oldestMs: this.oldestMs(),
      writeError: this.writeError,
    };
  }

  private oldestMs(): number | undefined {
    for (let i = 0; i < this.segments.length; i++) {
      const seg = this.segments[i] as Segment;
      const from = i === 0 ? this.ackOffset : 0;
      if (from >= seg.size) continue;
      let time: number | undefined;
      for (const mark of seg.marks) {
        if (mark.offset > from) break;
        time = mark.timeMs;
      }
      return time ?? seg.marks[0]?.timeMs;
    }
    return this.pendingSince;
  }

  /** Queues whole lines (each ending in `\n`) for the next write; never waits. */
  append(text: string, records: number): void {
    if (records === 0) return;
    this.pending.push(text);
    this.pendingRecords += records;
    this.pendingBytesCount += Buffer.byteLength(text);
    this.pendingSince ??= Date.now();
    if (this.writing || this.retryTimer !== undefined) return;
    if (this.pendingBytesCount >= COALESCE_BYTES) {
      this.startPump();
    } else if (this.coalesceTimer === undefined) {
      // Gather a few milliseconds of records into one write: one syscall and one promise per
      // write, however many event-loop turns the records came in.
      this.coalesceTimer = setTimeout(() => this.startPump(), COALESCE_MS);
    }
  }

  private startPump(): void {
    if (this.coalesceTimer !== undefined) {
      clearTimeout(this.coalesceTimer);
      this.coalesceTimer = undefined;
    }
    void this.pump();
  }

  /**
   * Drop-oldest: removes whole sealed segments, oldest first, until `incoming` more bytes fit
   * under the bound. Returns the records removed undelivered. A segment being uploaded right now
   * is skipped, so a record is never both counted as dropped and delivered.
   */
  makeRoom(incoming: number): number {
    let dropped = 0;
    while (this.usedBytes() + incoming > this.config.maxBytes) {
      const index = this.segments.findIndex((s) => s.sealed && s.seq !== this.inFlightSeq);
      if (index < 0) break;
      const seg = this.segments[index] as Segment;
      this.segments.splice(index, 1);
      this.segmentBytes -= seg.size;
      dropped += seg.records - (index === 0 ? this.ackRecords : 0);
      if (index === 0) {
        this.ackOffset = 0;
        this.ackRecords = 0;
        void this.persistCursor();
      }
      void unlink(seg.path).catch(() => {});
    }
    if (dropped > 0) this.events.onDropped?.(dropped, 'spool_full');
    return dropped;
  }

  /** Writes queued lines, one write per batch; failures keep the lines queued and retry. */
  private async pump(): Promise<void> {
    if (this.writing || this.closed) return;
    this.writing = true;
    try {
      while (this.pending.length > 0) {
        const chunks = this.pending;
        const records = this.pendingRecords;
        const bytes = this.pendingBytesCount;
        const since = this.pendingSince ?? Date.now();
        this.pending = [];
        this.pendingRecords = 0;
        this.pendingBytesCount = 0;
        this.pendingSince = undefined;
        this.writingBytes = bytes;
        const buf = Buffer.from(chunks.length === 1 ? (chunks[0] as string) : chunks.join(''));
        let seg: Segment | undefined;
        try {
          seg = await this.activeSegment();
          let written = 0;
          while (written < buf.length) {
            const { bytesWritten } = await (seg.handle as FileHandle).write(
              buf,
              written,
              buf.length - written,
            );
            written += bytesWritten;
          }
          if (this.config.fsync === 'always') await (seg.handle as FileHandle).datasync();
          seg.marks.push({ offset: seg.size, timeMs: since });
          seg.size += buf.length;
          this.segmentBytes += buf.length;
          seg.records += records;
          this.writingBytes = 0;
          this.dirty = true;
          this.writeError = undefined;
          if (seg.size >= this.config.segmentMaxBytes) await this.seal(seg);
          this.events.onAppended?.();
        } catch (err) {
          // Keep the lines, ahead of newer ones, and retry later. The segment may now end in a
          // partial line: seal it where its last complete line ended and never append to it again.
          this.pending = [...chunks, ...this.pending];
          this.pendingRecords += records;
          this.pendingBytesCount += bytes;
          this.writingBytes = 0;
          this.pendingSince = since;
          this.writeError = (err as Error).message;
          this.events.onError?.(err as Error, 'spool write');
          if (seg && !seg.sealed) {
            seg.validate = true;
            await this.seal(seg).catch(() => {});
          }
          this.retryTimer = setTimeout(() => {
            this.retryTimer = undefined;
            void this.pump();
          }, WRITE_RETRY_MS);
          this.retryTimer.unref();
          break;
        }
      }
    } finally {
      this.writing = false;
      if (this.pending.length === 0 || this.retryTimer !== undefined) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    }
  }

  private async activeSegment(): Promise<Segment> {
    const last = this.segments[this.segments.length - 1];
    if (last && !last.sealed && last.handle) return last;
    const seq = this.nextSeq++;
    const path = join(this.config.dir, segmentName(seq));
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
    this.segments.push(seg);
    if (this.config.fsync !== 'never') await this.syncDir();
    return seg;
  }

  /** Makes a new segment's directory entry durable, so a power cut cannot orphan its data. */
  private async syncDir(): Promise<void> {
    const dir = await open(this.config.dir, 'r');
    try {
      await dir.sync();
    } catch {
      // Some filesystems refuse fsync on a directory; the data file is still synced.
    } finally {
      await dir.close();
    }
  }

  private async seal(seg: Segment): Promise<void> {
    seg.sealed = true;
    const handle = seg.handle;
    seg.handle = undefined;
    if (!handle) return;
    try {
      if (this.config.fsync !== 'never') await handle.datasync();
    } finally {
      await handle.close();
    }
  }

  private async syncActive(): Promise<void> {
    if (!this.dirty) return;
    const seg = this.segments[this.segments.length - 1];
    if (!seg?.handle) return;
    this.dirty = false;
    try {
      await seg.handle.datasync();
    } catch (err) {
      this.events.onError?.(err as Error, 'spool fsync');
    }
  }

  /** Resolves once everything appended so far is written (or the write is failing and will be retried). */
  async flush(): Promise<void> {
    if (this.pending.length > 0 || this.writing) {
      await new Promise<void>((resolve) => {
        this.idleWaiters.push(resolve);
        if (!this.writing && this.retryTimer === undefined) this.startPump();
      });
    }
    const seg = this.segments[this.segments.length - 1];
    if (seg?.handle && this.config.fsync !== 'never') {
      this.dirty = false;
      await seg.handle.datasync().catch(() => {});
    }
  }

  /**
   * Reads up to `maxBytes` of whole lines at the cursor (a single longer line is read whole).
   * Deletes fully delivered segments on the way. Undefined when nothing is waiting on disk.
   */
  async readBatch(maxBytes: number): Promise<SpoolBatch | undefined> {
    for (;;) {
      const seg = this.segments[0];
      if (!seg) return undefined;
      if (this.ackOffset >= seg.size) {
        if (!seg.sealed) return undefined;
        this.removeFirst();
        continue;
      }
      const start = this.ackOffset;
      const available = seg.size - start;
      let length = Math.min(available, maxBytes);
      let buf: Buffer;
      let cut: number;
      this.inFlightSeq = seg.seq;
      const handle = await open(seg.path, 'r');
      try {
        for (;;) {
          buf = Buffer.allocUnsafe(length);
          const { bytesRead } = await handle.read(buf, 0, length, start);
          buf = buf.subarray(0, bytesRead);
          cut = buf.lastIndexOf(0x0a);
          if (cut >= 0 || length >= available) break;
          length = available; // one line longer than a batch: send it alone
        }
      } catch (err) {
        this.inFlightSeq = undefined;
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // dropped meanwhile
        throw err;
      } finally {
        await handle.close();
      }
      if (cut < 0) {
        this.inFlightSeq = undefined;
        return undefined;
      }
      if (!seg.validate) {
        // Lines this process wrote are whole JSON texts: turn them into an array in place,
        // newlines into commas, without a round trip through strings.
        const body = Buffer.allocUnsafe(cut + 2);
        body[0] = 0x5b; // [
        buf.copy(body, 1, 0, cut + 1);
        let count = 0;
        for (let i = body.indexOf(0x0a, 1); i >= 0; i = body.indexOf(0x0a, i + 1)) {
          body[i] = 0x2c; // ,
          count++;
        }
        body[cut + 1] = 0x5d; // ] over the last comma
        return { seq: seg.seq, start, end: start + cut + 1, body, count, invalid: 0 };
      }
      let invalid = 0;
      const lines = buf
        .toString('utf8', 0, cut)
        .split('\n')
        .filter((line) => {
          try {
            JSON.parse(line);
            return true;
          } catch {
            invalid++;
            return false;
          }
        });
      const first = lines[0];
      const time = first !== undefined ? timeOfLine(first) : undefined;
      if (time !== undefined && !seg.marks.some((m) => m.offset === start)) {
        seg.marks.push({ offset: start, timeMs: time });
        seg.marks.sort((a, b) => a.offset - b.offset);
      }
      const body = Buffer.from(`[${lines.join(',')}]`);
      return { seq: seg.seq, start, end: start + cut + 1, body, count: lines.length, invalid };
    }
  }

  /** The batch was delivered (or is given up): move the cursor past it and persist it. */
  async ack(batch: SpoolBatch): Promise<void> {
    this.inFlightSeq = undefined;
    const seg = this.segments[0];
    // The segment was dropped meanwhile (drop-oldest): nothing to move.
    if (!seg || seg.seq !== batch.seq || this.ackOffset !== batch.start) return;
    this.ackOffset = batch.end;
    this.ackRecords += batch.count + batch.invalid;
    let keep = 0;
    while (
      keep + 1 < seg.marks.length &&
      (seg.marks[keep + 1] as { offset: number }).offset <= this.ackOffset
    ) {
      keep++;
    }
    if (keep > 0) seg.marks.splice(0, keep);
    if (seg.sealed && this.ackOffset >= seg.size) this.removeFirst();
    await this.persistCursor();
  }

  /** The in-flight batch was not delivered; it will be read again. */
  release(): void {
    this.inFlightSeq = undefined;
  }

  private removeFirst(): void {
    const seg = this.segments.shift();
    this.ackOffset = 0;
    this.ackRecords = 0;
    if (seg) {
      this.segmentBytes -= seg.size;
      void unlink(seg.path).catch(() => {});
    }
    void this.persistCursor();
  }

  /** Replaces the cursor file atomically (write, then rename); writes coalesce. */
  private persistCursor(): Promise<void> {
    if (this.cursorDirty) return this.cursorWrite;
    this.cursorDirty = true;
    this.cursorWrite = this.cursorWrite.then(async () => {
      this.cursorDirty = false;
      const first = this.segments[0];
      const cursor = { seq: first ? first.seq : this.nextSeq, offset: first ? this.ackOffset : 0 };
      const path = join(this.config.dir, CURSOR);
      try {
        await writeFile(`${path}.tmp`, JSON.stringify(cursor), { mode: 0o600 });
        await rename(`${path}.tmp`, path);
      } catch (err) {
        this.events.onError?.(err as Error, 'spool cursor');
      }
    });
    return this.cursorWrite;
  }

  /** Writes what is queued, syncs, persists the cursor and closes the open segment. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.retryTimer !== undefined) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    await this.flush();
    this.closed = true;
    if (this.fsyncTimer) clearInterval(this.fsyncTimer);
    const last = this.segments[this.segments.length - 1];
    if (last && !last.sealed) await this.seal(last).catch(() => {});
    await this.persistCursor();
    await this.spoolLock?.release();
  }

  /** Size of a file, 0 when absent (tests and diagnostics). */
  static async fileSize(path: string): Promise<number> {
    try {
      return (await stat(path)).size;
    } catch {
      return 0;
    }
  }
}
