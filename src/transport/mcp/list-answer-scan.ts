// An incremental JSON scanner that tells, without keeping the text, whether a message being streamed is a list answer mandate must filter.
import { LIST_KEYS } from './list-filter.js';

/** Longest key text kept to compare (a longer key, even all escapes, names no list). */
const MAX_KEY_CHARS = 128;

export interface ListAnswerScan {
  /** Reads the next piece of the message's text (pieces may cut it anywhere). */
  feed(text: string): void;
  /**
   * True once the text has shown a member `result` holding an object with a list member (`tools`,
   * `prompts`, `resources`, `resourceTemplates`) whose value is an array: the shape
   * `isListAnswer` filters. Stays true. Any `result`, even one a later duplicate overrides, counts.
   */
  readonly listAnswer: boolean;
}

/**
 * Keeps only a depth counter and what it must know of depths 1 and 2 (the message and its
 * `result`), so a tool result of any size is scanned in constant memory; the inside of a string
 * deeper than that is skipped by searching for the next quote or backslash.
 */
export function createListAnswerScan(): ListAnswerScan {
  let depth = 0;
  // Per depth 1..2: whether the container is an object, and whether a key is expected next.
  const isObject: boolean[] = [];
  const expectKey: boolean[] = [];
  let inString = false;
  let escaped = false;
  /** The key being read (depth 1 or 2 only), or undefined when the string is not such a key. */
  let key: string[] | undefined;
  let keyChars = 0;
  /** The last key read at depth 1 and 2. */
  let key1 = '';
  let key2 = '';
  /** The depth-2 container is the object value of the message's `result`. */
  let inResult = false;
  let listAnswer = false;

  function endKey(): void {
    let name = '';
    if (key !== undefined && keyChars <= MAX_KEY_CHARS) {
      try {
        name = JSON.parse(`"${key.join('')}"`) as string;
      } catch {
        name = '';
      }
    }
    if (depth === 1) key1 = name;
    else key2 = name;
    key = undefined;
    keyChars = 0;
  }

  /** A value starts at the current depth (after a colon, or an array item). */
  function valueStarts(c: string): void {
    if (depth === 1 && isObject[1] === true && key1 === 'result' && c === '{') inResult = true;
    if (depth === 2 && inResult && isObject[2] === true && c === '[' && LIST_KEYS.has(key2)) {
      listAnswer = true;
    }
  }

  function feed(text: string): void {
    const n = text.length;
    let i = 0;
    while (i < n && !listAnswer) {
      if (inString) {
        if (escaped) {
          escaped = false;
          if (key !== undefined) {
            key.push(text[i] as string);
            keyChars++;
          }
          i++;
          continue;
        }
        if (key === undefined) {
          // Deep or value text: jump to the next character that matters.
          const quote = text.indexOf('"', i);
          const slash = text.indexOf('\\', i);
          const next = quote < 0 ? slash : slash < 0 ? quote : Math.min(quote, slash);
          if (next < 0) return;
          i = next;
        }
        const c = text[i] as string;
        if (c === '\\') {
          escaped = true;
          if (key !== undefined) {
            key.push(c);
            keyChars++;
          }
        } else if (c === '"') {
          inString = false;
          if (key !== undefined) {
            endKey();
            expectKey[depth] = false;
          }
        } else if (key !== undefined) {
          if (keyChars < MAX_KEY_CHARS + 1) key.push(c);
          keyChars++;
        }
        i++;
        continue;
      }
      const c = text[i] as string;
      i++;
      if (c === ' ' || c === '\n' || c === '\r' || c === '\t' || c === ':') continue;
      if (c === ',') {
        if (depth <= 2 && isObject[depth] === true) expectKey[depth] = true;
        continue;
      }
      if (c === '}' || c === ']') {
        if (depth === 2) inResult = false;
        depth = Math.max(0, depth - 1);
        continue;
      }
      if (c === '"') {
        inString = true;
        if (depth >= 1 && depth <= 2 && expectKey[depth] === true) {
          key = [];
          keyChars = 0;
        } else {
          valueStarts(c);
        }
        continue;
      }
      valueStarts(c);
      if (c === '{' || c === '[') {
        depth++;
        if (depth <= 2) {
          isObject[depth] = c === '{';
          expectKey[depth] = c === '{';
        }
      }
    }
  }

  return {
    feed,
    get listAnswer() {
      return listAnswer;
    },
  };
}
