// One segment file of the spool: its name, its in-memory account, and the scan that counts its lines after a restart.
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';

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

/** A segment's file name: its sequence number, zero-padded so names sort in order. */
export const SEGMENT = /^(\d{16})\.seg$/;
const TIMESTAMP = /"timestamp":"([^"]+)"/;

/** The file name of segment `seq`. */
export function segmentName(seq: number): string {
  return `${String(seq).padStart(16, '0')}.seg`;
}

/** The `timestamp` field of a record line, epoch ms; undefined when it has none. */
export function timeOfLine(line: string): number | undefined {
  const m = TIMESTAMP.exec(line);
  const t = m ? Date.parse(m[1] as string) : NaN;
  return Number.isNaN(t) ? undefined : t;
}

/** What a scan found in one segment file. */
export interface SegmentScan {
  size: number;
  records: number;
  torn: number;
  cursorOffset: number;
  recordsBeforeCursor: number;
  marks: { offset: number; timeMs: number }[];
}

/** Counts the complete lines of a segment and where the line at `cursorOffset` starts and when it was written. */
export async function scanSegment(path: string, cursorOffset: number): Promise<SegmentScan> {
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
