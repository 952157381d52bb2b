// Percent-decoding and query parsing with the rules of Go's net/url, which OPA-Envoy uses for parsed_path, parsed_query and form bodies.

/** A path or query that cannot be decoded; the message says what was wrong. */
export class UrlDecodeError extends Error {}

/** Go's `urlmaxqueryparams` default: more `&`-separated pieces than this is an error. */
const MAX_QUERY_PARAMS = 10_000;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/**
 * Go's `url.PathUnescape` (query = false) or `url.QueryUnescape` (query = true, `+` is a space):
 * every `%` must start two hex digits. The decoded bytes must also be UTF-8 (Go would keep stray
 * bytes; a policy cannot name them, so they are refused rather than replaced).
 */
export function goUnescape(text: string, query: boolean): string {
  if (!text.includes('%') && !(query && text.includes('+'))) return text;
  const input = Buffer.from(text, 'utf8');
  const out = Buffer.allocUnsafe(input.length);
  let n = 0;
  for (let i = 0; i < input.length; i++) {
    const c = input[i] as number;
    if (c === 0x25) {
      const hi = i + 2 < input.length ? hexValue(input[i + 1] as number) : -1;
      const lo = hi === -1 ? -1 : hexValue(input[i + 2] as number);
      if (lo === -1) {
        const bad = input.subarray(i, i + 3).toString('utf8');
        throw new UrlDecodeError(`invalid URL escape ${JSON.stringify(bad)}`);
      }
      out[n++] = (hi << 4) | lo;
      i += 2;
    } else if (c === 0x2b && query) {
      out[n++] = 0x20;
    } else {
      out[n++] = c;
    }
  }
  try {
    return utf8.decode(out.subarray(0, n));
  } catch {
    throw new UrlDecodeError(
      `URL escape decodes to bytes that are not UTF-8 in ${JSON.stringify(text)}`,
    );
  }
}

/**
 * Go's `url.ParseQuery` (Go 1.17 and later): pieces split on `&` only; a piece holding `;` is an
 * error; empty pieces are skipped; key and value are query-unescaped. Any error fails the whole
 * query, as it fails OPA-Envoy's request. Keys keep their first-seen order.
 */
export function goParseQuery(query: string): Record<string, string[]> {
  const out: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  if (query === '') return out;
  let pieces = 1;
  for (let i = query.indexOf('&'); i !== -1; i = query.indexOf('&', i + 1)) pieces++;
  if (pieces > MAX_QUERY_PARAMS) {
    throw new UrlDecodeError('number of URL query parameters exceeded limit');
  }
  for (const piece of query.split('&')) {
    if (piece.includes(';')) throw new UrlDecodeError('invalid semicolon separator in query');
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const key = goUnescape(eq === -1 ? piece : piece.slice(0, eq), true);
    const value = goUnescape(eq === -1 ? '' : piece.slice(eq + 1), true);
    (out[key] ??= []).push(value);
  }
  return out;
}
