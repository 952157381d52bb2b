// A Transform over a text/event-stream that passes every event on as it completes, rewriting list answers and hiding what the caller may not see.
import { Buffer } from 'node:buffer';
import { Transform, type TransformCallback } from 'node:stream';
import type { JsonRpcId } from './jsonrpc.js';
import { filterListAnswer, isHiddenFromCaller, isListAnswer, type Ask } from './list-filter.js';
import { EMPTY, createSseEventCutter, type Piece } from './sse-event-cutter.js';
import { dataValue, startOversizeEvent, type OversizeEvent } from './sse-oversize-event.js';

/**
 * What a message that may need rewriting holds, on an event's data: a list key and its colon, a
 * resource notification's method, or a `\\u` or `\\/` escape, which could spell either.
 */
const REWRITE_HINT =
  /"(tools|prompts|resources|resourceTemplates)"\s*:|notifications\/resources\/|\\[u/]/;
const LINE_END = /\r\n|\r|\n/;

/** The data of an event (its `data:` lines joined by LF), or undefined. */
function dataOf(lines: readonly string[]): string | undefined {
  const data: string[] = [];
  for (const line of lines) {
    const value = dataValue(line);
    if (value !== undefined) data.push(value);
  }
  return data.length > 0 ? data.join('\n') : undefined;
}

/** The event with its data replaced, other fields (id, event, retry, comments) kept in order. */
function withData(lines: readonly string[], data: string): string {
  const out: string[] = [];
  let written = false;
  for (const line of lines) {
    if (dataValue(line) !== undefined) {
      if (!written) out.push(`data: ${data}`);
      written = true;
    } else {
      out.push(line);
    }
  }
  return `${out.join('\n')}\n\n`;
}

/**
 * What is left of a hidden event: its `id` with empty data, so the client's resumption point still
 * moves past it (a client skips an event whose data is empty), or nothing when it had no id.
 */
function hiddenEvent(lines: readonly string[]): string {
  const ids = lines.filter((l) => l === 'id' || l.startsWith('id:'));
  return ids.length > 0 ? `${ids.join('\n')}\ndata:\n\n` : '';
}

/** A whole event that may need rewriting: filtered or hidden when it must be, else as it came. */
async function rewritten(event: Buffer, ask: Ask): Promise<Buffer | string> {
  const lines = event
    .toString('utf8')
    .split(LINE_END)
    .filter((line) => line !== '');
  const data = dataOf(lines);
  if (data === undefined || !REWRITE_HINT.test(data)) return event;
  let message: unknown;
  try {
    message = JSON.parse(data);
  } catch {
    return event;
  }
  if (isListAnswer(message)) {
    return withData(lines, JSON.stringify(await filterListAnswer(message, ask)));
  }
  if (await isHiddenFromCaller(message, ask)) return hiddenEvent(lines);
  return event;
}

/** Where the last whole UTF-8 character of `bytes` ends (a character cut by the chunk waits). */
function wholeCharsEnd(bytes: Buffer): number {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const b = bytes[bytes.length - back] as number;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: look further back
    const size = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return size > back ? bytes.length - back : bytes.length;
  }
  return bytes.length;
}

export interface SseFilterOptions {
  /** Decides each item of a list answer, and each notification about a resource, as the caller. */
  readonly ask: Ask;
  /** Largest event read whole to be filtered; a larger one is passed on as it comes, or refused if it is a list answer. */
  readonly maxEventBytes: number;
  /** The id of the list request this stream answers: an oversize list answer becomes an error for it instead of cutting the stream. */
  readonly listRequestId?: JsonRpcId;
}

/**
 * Splits the stream into events (a blank line ends one; CRLF, LF and CR all end a line) and passes
 * each on once complete. The scan is over bytes, with each chunk's bytes looked at once: events
 * that need no rewriting go on as the slices of the chunks they came in (several at a time), so a
 * result or a long stream of notifications costs a search for line ends, not a decode, a split
 * and a re-encode. An event larger than `maxEventBytes` is not kept: what was read of it is passed
 * on, then the rest as it arrives, while its data is scanned; if it shows itself a list answer the
 * stream ends with an error before its items are sent (a client never dispatches an event the
 * stream ends inside of), so memory stays bounded whatever the size of a tool result.
 */
export function createSseFilter({
  ask,
  maxEventBytes,
  listRequestId,
}: SseFilterOptions): Transform {
  const cutter = createSseEventCutter(maxEventBytes);
  /** Set while an event over the limit is passed on (or skipped), read as text. */
  let passing: OversizeEvent | undefined;
  /** The start of a character the last chunk cut, while `passing`. */
  let carry: Buffer = EMPTY;
  /** Where the pieces of the chunk being read go (an oversize event pushes as it reads). */
  let out: Piece[] = [];

  /**
   * The event under way (`bytes`, from its first line) outgrew the limit: it is passed on (unless
   * it is a list answer) and the rest as it comes; `lastCR` says its bytes end with a lone CR.
   */
  function startPassing(bytes: Buffer, lastCR: boolean): void {
    const end = wholeCharsEnd(bytes);
    carry = bytes.subarray(end);
    const lines = bytes.toString('utf8', 0, end).split(LINE_END);
    const partial = lines.pop() ?? '';
    passing = startOversizeEvent({
      lines,
      partial,
      lastCR,
      ...(listRequestId !== undefined ? { listRequestId } : {}),
      push: (text) => out.push({ pass: text }),
    });
  }

  /** Reads the oversize event on; returns the bytes after its end (none while it goes on). */
  function readPassing(event: OversizeEvent, chunk: Buffer): Buffer {
    const bytes = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
    const whole = wholeCharsEnd(bytes);
    carry = bytes.subarray(whole);
    const text = bytes.toString('utf8', 0, whole);
    if (text.length === 0) return EMPTY; // read would forget a CR it ended on
    const end = event.read(text, 0);
    if (end < 0) return EMPTY;
    passing = undefined;
    cutter.resume(event.lastCR);
    // The event ended at a line end, so what follows starts on a character: back to bytes.
    const rest = Buffer.concat([Buffer.from(text.slice(end)), carry]);
    carry = EMPTY;
    return rest;
  }

  /** The pieces of one chunk, and the error that ends the stream after them, if any. */
  function scan(chunk: Buffer): { pieces: Piece[]; error?: Error } {
    const pieces: Piece[] = [];
    out = pieces;
    try {
      for (let rest = chunk; rest.length > 0;) {
        if (passing !== undefined) {
          rest = readPassing(passing, rest);
          continue;
        }
        const outgrown = cutter.cut(rest, pieces);
        if (outgrown === undefined) break;
        startPassing(outgrown.bytes, outgrown.lastCR);
        rest = outgrown.rest;
      }
    } catch (err) {
      return { pieces, error: err as Error };
    }
    return { pieces };
  }

  async function rewrite(stream: Transform, pieces: readonly Piece[]): Promise<void> {
    for (const piece of pieces) {
      const text = 'pass' in piece ? piece.pass : await rewritten(piece.event, ask);
      if (text.length > 0) stream.push(text);
    }
  }

  return new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      const { pieces, error } = scan(chunk);
      if (pieces.every((piece) => 'pass' in piece)) {
        for (const piece of pieces) this.push((piece as { pass: Buffer | string }).pass);
        done(error);
        return;
      }
      rewrite(this, pieces).then(
        () => done(error),
        (err: unknown) => done(err as Error),
      );
    },
    flush(done: TransformCallback) {
      // An event the stream ends in the middle of is never dispatched by a client (WHATWG HTML
      // §9.2.6), so it is dropped here too rather than passed on unfiltered (an oversize one was
      // passed on, but not its end); one whose blank line came (its last line end a CR) is whole.
      const whole = cutter.finish();
      rewrite(this, whole !== undefined ? [whole] : []).then(
        () => done(),
        (err: unknown) => done(err as Error),
      );
    },
  });
}
