// A Transform over a text/event-stream that passes every event on as it completes, rewriting list answers to the filtered ones.
import { Transform, type TransformCallback } from 'node:stream';
import { filterListAnswer, isListAnswer, type Ask } from './list-filter.js';

/** Cheap pre-check before parsing an event's data: only results naming a filtered list can need it. */
const LIST_HINT = /"(tools|prompts|resources|resourceTemplates)"\s*:/;

/** The data of an event (its `data:` lines joined by LF, WHATWG HTML §9.2.6), or undefined. */
function dataOf(lines: readonly string[]): string | undefined {
  const data: string[] = [];
  for (const line of lines) {
    if (line === 'data' || line.startsWith('data:')) {
      const value = line.slice(5);
      data.push(value.startsWith(' ') ? value.slice(1) : value);
    }
  }
  return data.length > 0 ? data.join('\n') : undefined;
}

/** The event with its data replaced, other fields (id, event, retry, comments) kept in order. */
function withData(lines: readonly string[], data: string): string {
  const out: string[] = [];
  let written = false;
  for (const line of lines) {
    if (line === 'data' || line.startsWith('data:')) {
      if (!written) out.push(`data: ${data}`);
      written = true;
    } else {
      out.push(line);
    }
  }
  return `${out.join('\n')}\n\n`;
}

/**
 * Splits the stream into events (a blank line ends one; CRLF, LF and CR all end a line) and writes
 * each on once complete. An event larger than `maxEventBytes` ends the stream with an error rather
 * than grow without bound.
 */
export function createSseFilter(ask: Ask, maxEventBytes: number): Transform {
  let pending = '';
  let lines: string[] = [];
  let eventBytes = 0;
  const decoder = new TextDecoder('utf-8');

  async function finishEvent(stream: Transform): Promise<void> {
    const event = lines;
    lines = [];
    eventBytes = 0;
    const data = dataOf(event);
    if (data !== undefined && LIST_HINT.test(data)) {
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
    }
    stream.push(`${event.join('\n')}\n\n`);
  }

  async function consume(stream: Transform, text: string): Promise<void> {
    pending += text;
    for (;;) {
      const end = pending.search(/\r\n|\r|\n/);
      // A lone CR at the end may be the first half of a CRLF: wait for the next chunk.
      if (end < 0 || (pending[end] === '\r' && end === pending.length - 1)) break;
      const line = pending.slice(0, end);
      pending = pending.slice(end + (pending.startsWith('\r\n', end) ? 2 : 1));
      if (line === '') {
        if (lines.length > 0) await finishEvent(stream);
        continue;
      }
      lines.push(line);
      eventBytes += line.length;
    }
    if (eventBytes + pending.length > maxEventBytes) {
      throw new Error('an event of the upstream stream exceeds the size limit');
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
