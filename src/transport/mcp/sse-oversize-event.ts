// One SSE event too large to read whole: passed on as it arrives while its data is scanned, or skipped when it is a list answer.
import { JSONRPC_INTERNAL_ERROR, errorBody, type JsonRpcId } from './jsonrpc.js';
import { createListAnswerScan } from './list-answer-scan.js';

const LINE_END = /[\r\n]/g;

/** The value of a `data` line (WHATWG HTML §9.2.6: one leading space dropped), or undefined. */
export function dataValue(line: string): string | undefined {
  if (line === 'data') return '';
  if (!line.startsWith('data:')) return undefined;
  return line.startsWith(' ', 5) ? line.slice(6) : line.slice(5);
}

export interface OversizeEvent {
  /**
   * Reads `text` from `from`, pushing what may be sent; returns the index just after the blank
   * line that ends the event, or -1 when the event goes on. Throws when the event shows itself a
   * list answer after some of it was sent: the stream must end there, inside the event.
   */
  read(text: string, from: number): number;
  /** The last character read was a CR (an LF right after belongs to it). */
  readonly lastCR: boolean;
}

export interface OversizeEventStart {
  /** The event's complete lines read so far. */
  readonly lines: readonly string[];
  /** The line being read (not yet ended). */
  readonly partial: string;
  /** Whether the text read so far ended in a CR. */
  readonly lastCR: boolean;
  /** The list request the stream answers: an oversize list answer becomes an error for it. */
  readonly listRequestId?: JsonRpcId;
  readonly push: (text: string) => void;
}

export const TOO_LARGE = 'a list answer of the upstream stream exceeds the size limit';

/**
 * Starts passing on an event that outgrew the limit: what was read of it goes out at once, unless
 * it already shows a list answer; then it is skipped, and answered with an error when the list
 * request is known (else this throws and the stream ends).
 */
export function startOversizeEvent({
  lines,
  partial,
  lastCR: endedInCR,
  listRequestId,
  push,
}: OversizeEventStart): OversizeEvent {
  const scan = createListAnswerScan();
  let dataLines = 0;
  for (const l of lines) {
    const value = dataValue(l);
    if (value !== undefined) scan.feed(dataLines++ > 0 ? `\n${value}` : value);
  }
  // A bare `data` may still become `data:` or `database...`: decided when the line goes on.
  const partialData = partial === 'data' ? undefined : dataValue(partial);
  if (partialData !== undefined) scan.feed(dataLines++ > 0 ? `\n${partialData}` : partialData);
  const emit = !scan.listAnswer;
  if (emit) {
    push(lines.length > 0 ? `${lines.join('\n')}\n${partial}` : partial);
  } else {
    if (listRequestId === undefined) throw new Error(TOO_LARGE);
    const error = errorBody(
      listRequestId,
      JSONRPC_INTERNAL_ERROR,
      'the upstream list answer is too large to filter',
    );
    push(`data: ${error}\n\n`);
  }
  let lastCR = endedInCR;
  // The current line: nothing read yet, its field name so far, and what it turned out to be.
  let empty = partial.length === 0;
  let head = partial.slice(0, 5);
  let kind: 'unknown' | 'data' | 'other' =
    partialData !== undefined
      ? 'data'
      : partial.includes(':') || partial.length >= 5
        ? 'other'
        : 'unknown';
  // `data:` read, but not yet the optional space after it.
  let dropSpace = partial === 'data:';

  function newLine(): void {
    if (kind === 'unknown' && head === 'data' && dataLines++ > 0) scan.feed('\n');
    empty = true;
    head = '';
    kind = 'unknown';
    dropSpace = false;
  }

  function readHead(c: string): void {
    head += c;
    if (c === ':') kind = head === 'data:' ? 'data' : 'other';
    else if (head.length >= 5) kind = 'other';
    if (kind === 'data') {
      if (dataLines++ > 0) scan.feed('\n');
      dropSpace = true;
    }
  }

  function read(text: string, start: number): number {
    let from = start;
    if (lastCR && text[from] === '\n') from++;
    lastCR = false;
    let i = from;
    let end = -1;
    while (i < text.length) {
      const c = text[i] as string;
      if (c === '\r' || c === '\n') {
        i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
        lastCR = c === '\r' && i === text.length && text[i - 1] === '\r';
        if (empty) {
          end = i;
          break;
        }
        newLine();
        continue;
      }
      empty = false;
      if (kind === 'unknown') {
        readHead(c);
        i++;
        continue;
      }
      LINE_END.lastIndex = i;
      const next = LINE_END.exec(text)?.index ?? text.length;
      if (kind === 'data' && emit) {
        scan.feed(text.slice(dropSpace && c === ' ' ? i + 1 : i, next));
        dropSpace = false;
      }
      i = next;
    }
    if (emit && scan.listAnswer) throw new Error(TOO_LARGE);
    if (emit && i > from) push(text.slice(from, end < 0 ? text.length : end));
    return end;
  }

  return {
    read,
    get lastCR() {
      return lastCR;
    },
  };
}
