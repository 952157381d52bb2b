// The byte stream OPA hashes for a structured bundle file: keys sorted, no whitespace, numbers as written.
//
// OPA's bundle signatures hash `.manifest` and `data.json` over this canonical form rather than the
// raw bytes, so a signature survives re-indentation. To be byte-exact with OPA: object keys are
// sorted by their UTF-8 bytes; strings are escaped like Go's encoding/json without HTML escaping
// (`\u2028` / `\u2029` escaped, `<>&` not); numbers keep their literal text (OPA decodes them as
// json.Number); `true`, `false`, `null` as is.

/** Thrown for text that is not JSON. */
export class CanonicalJsonError extends Error {
  override readonly name = 'CanonicalJsonError';
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const utf8 = new TextEncoder();

/** Encodes a string the way Go's json.Encoder with SetEscapeHTML(false) does. */
export function goJsonString(value: string): string {
  return JSON.stringify(value).replace(/[\u2028\u2029]/g, (c) =>
    c === '\u2028' ? '\\u2028' : '\\u2029',
  );
}

function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(utf8.encode(a)), Buffer.from(utf8.encode(b)));
}

/** Canonical text of a JS value (for YAML data, whose numbers have no literal form to keep). */
export function canonicalValue(value: unknown): string {
  if (value === null || typeof value === 'boolean') return String(value);
  if (typeof value === 'number') return JSON.stringify(value);
  if (typeof value === 'string') return goJsonString(value);
  if (Array.isArray(value)) return `[${value.map(canonicalValue).join(',')}]`;
  if (typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record).sort(compareUtf8);
    return `{${keys.map((key) => `${goJsonString(key)}:${canonicalValue(record[key])}`).join(',')}}`;
  }
  throw new CanonicalJsonError(`cannot encode a ${typeof value}`);
}

/** Parses JSON text and returns its canonical form. Throws {@link CanonicalJsonError}. */
export function canonicalJson(text: string): string {
  let at = 0;
  const skip = () => {
    while (at < text.length && /[ \t\r\n]/.test(text[at]!)) at++;
  };
  const fail = (what: string): never => {
    throw new CanonicalJsonError(`invalid JSON at offset ${at}: ${what}`);
  };
  const readString = (): string => {
    const start = at;
    at++;
    while (at < text.length && text[at] !== '"') {
      if (text[at] === '\\') at++;
      at++;
    }
    if (at >= text.length) fail('unterminated string');
    at++;
    try {
      return JSON.parse(text.slice(start, at)) as string;
    } catch {
      return fail('bad string');
    }
  };
  const value = (): string => {
    skip();
    const c = text[at];
    if (c === '{') {
      at++;
      const members: [string, string][] = [];
      skip();
      if (text[at] === '}') {
        at++;
        return '{}';
      }
      for (;;) {
        skip();
        if (text[at] !== '"') fail('expected a key');
        const key = readString();
        skip();
        if (text[at++] !== ':') fail('expected ":"');
        members.push([key, value()]);
        skip();
        const next = text[at++];
        if (next === '}') break;
        if (next !== ',') fail('expected "," or "}"');
      }
      members.sort((a, b) => compareUtf8(a[0], b[0]));
      return `{${members.map(([key, v]) => `${goJsonString(key)}:${v}`).join(',')}}`;
    }
    if (c === '[') {
      at++;
      const items: string[] = [];
      skip();
      if (text[at] === ']') {
        at++;
        return '[]';
      }
      for (;;) {
        items.push(value());
        skip();
        const next = text[at++];
        if (next === ']') break;
        if (next !== ',') fail('expected "," or "]"');
      }
      return `[${items.join(',')}]`;
    }
    if (c === '"') return goJsonString(readString());
    for (const literal of ['true', 'false', 'null']) {
      if (text.startsWith(literal, at)) {
        at += literal.length;
        return literal;
      }
    }
    NUMBER.lastIndex = at;
    const match = NUMBER.exec(text);
    if (match === null || match[0] === '') return fail('unexpected character');
    at += match[0].length;
    return match[0];
  };
  const result = value();
  skip();
  if (at !== text.length) fail('trailing characters');
  return result;
}
