// The spool's delivery side: reads a batch of whole lines at the cursor as one JSON array, and moves the cursor once it is delivered.
import { open } from 'node:fs/promises';
import { timeOfLine, type Segment } from './segment-file.js';
import type { Segments } from './segments.js';

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

/** The read half of a spool: one batch in flight at a time. */
export interface SpoolReader {
  /**
   * Reads up to `maxBytes` of whole lines at the cursor (a single longer line is read whole).
   * Deletes fully delivered segments on the way. Undefined when nothing is waiting on disk.
   */
  readBatch(maxBytes: number): Promise<SpoolBatch | undefined>;
  /** The batch was delivered (or is given up): move the cursor past it and persist it. */
  ack(batch: SpoolBatch): Promise<void>;
  /** The in-flight batch was not delivered; it will be read again. */
  release(): void;
}

/**
 * Lines this process wrote are whole JSON texts: turns `cut + 1` bytes of them into an array in
 * place, newlines into commas, without a round trip through strings.
 */
function trustedBatch(seg: Segment, start: number, buf: Buffer, cut: number): SpoolBatch {
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

/** Lines from a previous run, or after a torn write: each is parsed, and those that do not parse are counted and left out. */
function validatedBatch(seg: Segment, start: number, buf: Buffer, cut: number): SpoolBatch {
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

/** A reader delivering from the oldest of `segments`. */
export function createSpoolReader(segments: Segments): SpoolReader {
  return {
    async readBatch(maxBytes) {
      for (;;) {
        const seg = segments.oldest();
        if (!seg) return undefined;
        const start = segments.cursorOffset();
        if (start >= seg.size) {
          if (!seg.sealed) return undefined;
          segments.removeOldest();
          continue;
        }
        const available = seg.size - start;
        let length = Math.min(available, maxBytes);
        let buf: Buffer;
        let cut: number;
        segments.setInFlight(seg.seq);
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
          segments.setInFlight(undefined);
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // dropped meanwhile
          throw err;
        } finally {
          await handle.close();
        }
        if (cut < 0) {
          segments.setInFlight(undefined);
          return undefined;
        }
        return seg.validate
          ? validatedBatch(seg, start, buf, cut)
          : trustedBatch(seg, start, buf, cut);
      }
    },

    async ack(batch) {
      segments.setInFlight(undefined);
      const seg = segments.oldest();
      // The segment was dropped meanwhile (drop-oldest): nothing to move.
      if (!seg || seg.seq !== batch.seq || segments.cursorOffset() !== batch.start) return;
      await segments.advance(batch.end, batch.count + batch.invalid);
    },

    release() {
      segments.setInFlight(undefined);
    },
  };
}
