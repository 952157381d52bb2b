// A Transform over a text/event-stream that passes every event on as it completes, rewriting list answers and hiding what the caller may not see.
import { Transform, type TransformCallback } from 'node:stream';
import type { JsonRpcId } from './jsonrpc.js';
import { filterListAnswer, isHiddenFromCaller, isListAnswer, type Ask } from './list-filter.js';
import { dataValue, startOversizeEvent, type OversizeEvent } from './sse-oversize-event.js';

/**
 * Cheap pre-check before parsing an event's data: only these messages can need rewriting. A
 * `\\u` or `\\/` escape could spell either, so data holding one is always parsed.
 */
const REWRITE_HINT =
  /"(tools|prompts|resources|resourceTemplates)"\s*:|notifications\/resources\/|\\[u/]/;

const LINE_END = /[\r\n]/g;

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

export interface SseFilterOptions {
  /** Decides each item of a list answer, and each notification about a resource, as the caller. */
  readonly ask: Ask;
  /** Largest event read whole to be filtered; a larger one is passed on as it comes, or refused if it is a list answer. */
  readonly maxEventBytes: number;
  /** The id of the list request this stream answers: an oversize list answer becomes an error for it instead of cutting the stream. */
  readonly listRequestId?: JsonRpcId;
}

/**
 * Splits the stream into events (a blank line ends one; CRLF, LF and CR all end a line) and writes
 * each on once complete, filtered. An event larger than `maxEventBytes` is not kept: what was read
 * of it is passed on, then the rest as it arrives, while its data is scanned; if it shows itself a
 * list answer the stream ends with an error before its items are sent (a client never dispatches
 * an event the stream ends inside of), so memory stays bounded whatever the size of a tool result.
 */
export function createSseFilter({
  ask,
  maxEventBytes,
  listRequestId,
}: SseFilterOptions): Transform {
  let pending = '';
  let lines: string[] = [];
  let eventBytes = 0;
  /** The last chunk ended in CR: an LF starting the next one belongs to it. */
  let lastCR = false;
  /** Set while an event over the limit is passed on (or skipped). */
  let passing: OversizeEvent | undefined;
  const decoder = new TextDecoder('utf-8');

  async function finishEvent(stream: Transform): Promise<void> {
    const event = lines;
    lines = [];
    eventBytes = 0;
    const data = dataOf(event);
    if (data !== undefined && REWRITE_HINT.test(data)) {
      let message: unknown;
      try {
        message = JSON.parse(data);
      } catch {
        message = undefined;
      }
      if (isListAnswer(message)) {
        stream.push(withData(event, JSON.stringify(await filterListAnswer(message, ask))));
        return;
      }
      if (await isHiddenFromCaller(message, ask)) {
        stream.push(hiddenEvent(event));
        return;
      }
    }
    stream.push(`${event.join('\n')}\n\n`);
  }

  /** The event outgrew the limit: pass on what was read (unless it is a list answer) and the rest as it comes. */
  function startPassing(stream: Transform): void {
    passing = startOversizeEvent({
      lines,
      partial: pending,
      lastCR,
      ...(listRequestId !== undefined ? { listRequestId } : {}),
      push: (t) => stream.push(t),
    });
    lines = [];
    eventBytes = 0;
    pending = '';
    lastCR = false;
  }

  async function consume(stream: Transform, text: string): Promise<void> {
    let i = 0;
    while (i < text.length) {
      if (passing !== undefined) {
        const end = passing.read(text, i);
        lastCR = passing.lastCR;
        if (end < 0) return;
        passing = undefined;
        i = end;
        continue;
      }
      if (lastCR && text[i] === '\n') i++;
      lastCR = false;
      LINE_END.lastIndex = i;
      const found = LINE_END.exec(text);
      if (found === null) {
        pending += text.slice(i);
        if (eventBytes + pending.length > maxEventBytes) startPassing(stream);
        return;
      }
      const l = pending + text.slice(i, found.index);
      pending = '';
      lastCR = text[found.index] === '\r';
      i = found.index + 1;
      if (l === '') {
        if (lines.length > 0) await finishEvent(stream);
        continue;
      }
      lines.push(l);
      eventBytes += l.length;
      if (eventBytes > maxEventBytes) startPassing(stream);
    }
  }

  return new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      consume(this, decoder.decode(chunk, { stream: true })).then(
        () => done(),
        (err: unknown) => done(err as Error),
      );
    },
    flush(done: TransformCallback) {
      // An event the stream ends in the middle of is never dispatched by a client (WHATWG HTML
      // §9.2.6), so it is dropped here too rather than passed on unfiltered.
      consume(this, decoder.decode()).then(
        () => done(),
        (err: unknown) => done(err as Error),
      );
    },
  });
}
