// Finds what makes valid JSON text read differently by different parsers (a repeated member name, a number a double cannot hold), for bodies the upstream reads as sent.

const NUMBER = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** The end (exclusive) of the string token starting at `start` (a `"`). */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
  return i + 1;
}

/**
 * Why `text` (already known to be valid JSON) may mean something else to another parser, or
 * undefined when it cannot: an object naming a member twice (JavaScript keeps the last, some
 * parsers the first, some refuse it), or a number beyond ±2^53 (rounded by a double, kept exact by
 * others). mandate decides what it parsed; where the upstream gets the original bytes (Envoy), both
 * must read the same message.
 */
export function jsonAmbiguityOf(text: string): string | undefined {
  /** Member names of each open object; null for an array. */
  const open: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{') {
      open.push(new Set());
      expectKey = true;
    } else if (c === '[') {
      open.push(null);
    } else if (c === '}' || c === ']') {
      open.pop();
      expectKey = false;
    } else if (c === ',') {
      expectKey = open.at(-1) instanceof Set;
    } else if (c === '"') {
      const end = stringEnd(text, i);
      const names = open.at(-1);
      if (expectKey && names instanceof Set) {
        const name = JSON.parse(text.slice(i, end)) as string;
        if (names.has(name)) {
          return `the member ${JSON.stringify(name.slice(0, 64))} appears twice in one object`;
        }
        names.add(name);
        expectKey = false;
      }
      i = end - 1;
    } else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
      NUMBER.lastIndex = i;
      const token = NUMBER.exec(text)?.[0] ?? c;
      if (Math.abs(Number(token)) > Number.MAX_SAFE_INTEGER) {
        return `the number ${token.slice(0, 40)} is beyond ±2^53 and may be read differently`;
      }
      i += token.length - 1;
    }
  }
  return undefined;
}
