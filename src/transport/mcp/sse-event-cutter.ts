// Cuts a text/event-stream into events by scanning its bytes once: events that need no rewriting stay slices of the chunks they came in.
import { Buffer } from 'node:buffer';

const LF = 0x0a;
const CR = 0x0d;
export const EMPTY = Buffer.alloc(0);

/**
 * What any message that may need rewriting holds, as bytes: a list key (quoted, as a key is
 * written), a resource notification's method, or a `\u` or `\/` escape, which could spell either.
 * An event holding none passes on byte for byte, never decoded.
 */
const HINTS = [
  '"tools"',
  '"prompts"',
  '"resources"',
  '"resourceTemplates"',
  'notifications/resources/',
  '\\u',
  '\\/',
].map((hint) => Buffer.from(hint));

function mayNeedRewrite(event: Buffer): boolean {
  return HINTS.some((hint) => event.includes(hint));
}

/** What a chunk turns into, in order: text to pass on, and whole events to look into. */
export type Piece = { readonly pass: Buffer | string } | { readonly event: Buffer };

/** An event that outgrew the limit: its bytes so far, and the rest of the chunk after them. */
export interface Outgrown {
  /** The event's bytes from its first line (ending at a line end, or inside a line). */
  readonly bytes: Buffer;
  /** Those bytes end with a lone CR (an LF coming next belongs to it). */
  readonly lastCR: boolean;
  /** What follows in the chunk, to be read as the same event. */
  readonly rest: Buffer;
}

export interface SseEventCutter {
  /**
   * Cuts a chunk into pieces; the bytes of an event it ends in the middle of are held. Stops
   * where an event outgrows `maxEventBytes` (kept no longer), and says where.
   */
  cut(chunk: Buffer, pieces: Piece[]): Outgrown | undefined;
  /** An event read elsewhere ended; `lastCR`: its last line end was a CR closing what was read. */
  resume(lastCR: boolean): void;
  /** At the end of the stream: the event held whole but for an LF that never came, if any. */
  finish(): Piece | undefined;
}

/**
 * Splits the stream into events (a blank line ends one; CRLF, LF and CR all end a line), with each
 * chunk's bytes looked at once: events that cannot need rewriting go on as slices of the chunks
 * they came in (several at a time), so a result or a long stream of notifications costs a search
 * for line ends, not a decode, a split and a re-encode.
 */
export function createSseEventCutter(maxEventBytes: number): SseEventCutter {
  /** Bytes of the event under way that came in earlier chunks. */
  let held: Buffer[] = [];
  let heldBytes = 0;
  /** The event under way has a non-empty line (so a blank line ends it rather than being idle). */
  let inEvent = false;
  /** The last chunk ended inside a line: a line end opening the next chunk ends a non-empty line. */
  let midLine = false;
  /** The last chunk ended with CR: an LF opening the next one belongs to that line end. */
  let afterCr = false;
  /**
   * The held event is complete but for its last line end, a CR that ended the last chunk: an LF
   * opening the next chunk is part of the event, so it goes wherever the event goes (passed on or
   * replaced), however the stream is cut.
   */
  let endsAfterCr = false;

  /** The held event and `tail` as one, ready to pass on or look into. */
  function takeHeld(tail: Buffer): Piece {
    const event = held.length > 0 ? Buffer.concat([...held, tail]) : tail;
    held = [];
    heldBytes = 0;
    return mayNeedRewrite(event) ? { event } : { pass: event };
  }

  /** Hands the event under way over, the cutter starting afresh after it. */
  function outgrown(bytes: Buffer, lastCR: boolean, rest: Buffer): Outgrown {
    held = [];
    heldBytes = 0;
    inEvent = false;
    midLine = false;
    afterCr = false;
    return { bytes, lastCR, rest };
  }

  function cut(chunk: Buffer, pieces: Piece[]): Outgrown | undefined {
    let pos = 0; // start of the current line
    let passFrom = 0; // start of the bytes of whole events not yet in `pieces`
    if (endsAfterCr) {
      pos = chunk[0] === LF ? 1 : 0;
      pieces.push(takeHeld(chunk.subarray(0, pos)));
      passFrom = pos;
      endsAfterCr = false;
      inEvent = false;
    } else if (afterCr && chunk[0] === LF) {
      pos = 1; // in an event, part of its bytes; else passed on with what follows
    }
    afterCr = false;
    let eventFrom = inEvent ? 0 : pos; // start of the current event's bytes in this chunk
    let nextLf = chunk.indexOf(LF, pos);
    let nextCr = chunk.indexOf(CR, pos);
    for (;;) {
      if (nextLf >= 0 && nextLf < pos) nextLf = chunk.indexOf(LF, pos);
      if (nextCr >= 0 && nextCr < pos) nextCr = chunk.indexOf(CR, pos);
      const end = nextCr < 0 ? nextLf : nextLf < 0 ? nextCr : Math.min(nextLf, nextCr);
      if (end < 0) break;
      const crAtEnd = chunk[end] === CR && end + 1 === chunk.length;
      const after = chunk[end] === CR && chunk[end + 1] === LF ? end + 2 : end + 1;
      const emptyLine = end === pos && !midLine;
      midLine = false;
      pos = after;
      if (!emptyLine || !inEvent) {
        if (emptyLine) {
          eventFrom = after; // a blank line between events passes on by itself
        } else {
          inEvent = true;
          if (heldBytes + after - eventFrom > maxEventBytes) {
            if (eventFrom > passFrom) pieces.push({ pass: chunk.subarray(passFrom, eventFrom) });
            const sofar = chunk.subarray(eventFrom, after);
            return outgrown(
              held.length > 0 ? Buffer.concat([...held, sofar]) : sofar,
              after === end + 1 && chunk[end] === CR,
              chunk.subarray(after),
            );
          }
        }
        afterCr = crAtEnd;
        continue;
      }
      if (crAtEnd) {
        endsAfterCr = true; // held below, dispatched with the next chunk's first byte if an LF
        break;
      }
      inEvent = false;
      if (heldBytes > 0) {
        if (eventFrom > passFrom) pieces.push({ pass: chunk.subarray(passFrom, eventFrom) });
        pieces.push(takeHeld(chunk.subarray(eventFrom, after)));
        passFrom = after;
      } else {
        const event = chunk.subarray(eventFrom, after);
        if (mayNeedRewrite(event)) {
          if (eventFrom > passFrom) pieces.push({ pass: chunk.subarray(passFrom, eventFrom) });
          pieces.push({ event });
          passFrom = after;
        }
      }
      eventFrom = after;
    }
    if (pos < chunk.length) {
      midLine = true;
      inEvent = true;
    }
    if (eventFrom > passFrom) pieces.push({ pass: chunk.subarray(passFrom, eventFrom) });
    if (inEvent) {
      // The event under way waits for its end, unless it outgrew the limit.
      if (eventFrom < chunk.length) {
        held.push(chunk.subarray(eventFrom));
        heldBytes += chunk.length - eventFrom;
      }
      if (!endsAfterCr && heldBytes > maxEventBytes) {
        return outgrown(Buffer.concat(held), afterCr, EMPTY);
      }
    } else if (eventFrom < chunk.length) {
      pieces.push({ pass: chunk.subarray(eventFrom) });
    }
    return undefined;
  }

  return {
    cut,
    resume(lastCR: boolean) {
      afterCr = lastCR;
    },
    finish() {
      const whole = endsAfterCr ? takeHeld(EMPTY) : undefined;
      held = [];
      heldBytes = 0;
      endsAfterCr = false;
      return whole;
    },
  };
}
