// multipart/form-data bodies read into OPA-Envoy's parsed_body shape (field name → list of values), with the rules of Go's mime and mime/multipart.
import { parseJsonExactly } from './json-exact.js';

/** A body or header that does not parse; the message says what was wrong. */
export class MultipartError extends Error {}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** A media type and its parameters (names lower-cased), as Go's `mime.ParseMediaType` reads them; undefined when malformed. */
export function parseMediaType(
  value: string,
): { type: string; params: Record<string, string> } | undefined {
  const semi = value.indexOf(';');
  const type = (semi === -1 ? value : value.slice(0, semi)).trim().toLowerCase();
  const slash = type.indexOf('/');
  const typeOk =
    slash === -1
      ? TOKEN.test(type)
      : TOKEN.test(type.slice(0, slash)) && TOKEN.test(type.slice(slash + 1));
  if (!typeOk) return undefined;
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  let rest = semi === -1 ? '' : value.slice(semi);
  for (;;) {
    rest = rest.trimStart();
    if (rest === '') break;
    // A lone trailing `;` is tolerated, as Go does.
    if (rest.trim() === ';') break;
    const m = /^;\s*([!#$%&'*+\-.^_`|~0-9A-Za-z]+)\s*=\s*/.exec(rest);
    if (!m) return undefined;
    rest = rest.slice(m[0].length);
    let v: string;
    if (rest.startsWith('"')) {
      let i = 1;
      v = '';
      for (; i < rest.length && rest[i] !== '"'; i++) {
        if (rest[i] === '\\' && i + 1 < rest.length) i++;
        v += rest[i];
      }
      if (i >= rest.length) return undefined;
      rest = rest.slice(i + 1);
    } else {
      const t = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/.exec(rest);
      if (!t) return undefined;
      v = t[0];
      rest = rest.slice(v.length);
    }
    const key = (m[1] as string).toLowerCase();
    if (key in params) return undefined;
    params[key] = v;
  }
  return { type, params };
}

function skipLinearWhitespace(s: string): string {
  let i = 0;
  while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  return s.slice(i);
}

/**
 * Reads a multipart/form-data body: each part with a form-data Content-Disposition and a name adds
 * its content to that name's list (parsed as JSON when the part's Content-Type says
 * application/json). A malformed body, a part that is not closed, or JSON that does not parse is an
 * error; parts encoded with Content-Transfer-Encoding are refused rather than decoded.
 */
export function parseMultipartForm(body: string, boundary: string): Record<string, unknown[]> {
  const values: Record<string, unknown[]> = Object.create(null) as Record<string, unknown[]>;
  const dash = `--${boundary}`;
  let nl = '\r\n';
  let pos = 0;
  let partsRead = 0;
  let expectNewPart = false;

  const readLine = (): { line: string; eof: boolean } => {
    const i = body.indexOf('\n', pos);
    const end = i === -1 ? body.length : i + 1;
    const line = body.slice(pos, end);
    pos = end;
    return { line, eof: i === -1 };
  };
  const isFinal = (line: string) => {
    if (!line.startsWith(`${dash}--`)) return false;
    const rest = skipLinearWhitespace(line.slice(dash.length + 2));
    return rest === '' || rest === nl;
  };
  const isDelimiter = (line: string) => {
    if (!line.startsWith(dash)) return false;
    const rest = skipLinearWhitespace(line.slice(dash.length));
    // Like Go, a first boundary line ending in a bare LF switches the body to LF line ends.
    if (partsRead === 0 && rest === '\n') nl = '\n';
    return rest === nl;
  };
  // Whether a boundary found at `at` really ends the part (Go: what follows is space, line end, `--` or the end).
  const endsPart = (at: number) => {
    const c = body[at + dash.length];
    if (c === undefined || c === ' ' || c === '\t' || c === '\r' || c === '\n') return true;
    return c === '-' && body[at + dash.length + 1] === '-';
  };

  for (;;) {
    const { line, eof } = readLine();
    if (eof && isFinal(line)) return values;
    if (eof) throw new MultipartError('multipart: the body ends before its closing boundary');
    if (isDelimiter(line)) {
      partsRead++;
      expectNewPart = false;
      readPart();
      continue;
    }
    if (isFinal(line)) return values;
    if (expectNewPart) throw new MultipartError('multipart: expecting a new part');
    if (partsRead === 0) continue; // preamble
    if (line === nl) {
      expectNewPart = true;
      continue;
    }
    throw new MultipartError('multipart: unexpected line between parts');
  }

  function readPart(): void {
    const headers = new Map<string, string>();
    for (;;) {
      const { line, eof } = readLine();
      if (eof) throw new MultipartError('multipart: a part ends inside its headers');
      const text = line.endsWith('\r\n') ? line.slice(0, -2) : line.slice(0, -1);
      if (text === '') break;
      const colon = text.indexOf(':');
      const name = colon === -1 ? '' : text.slice(0, colon);
      if (!TOKEN.test(name)) throw new MultipartError('multipart: malformed part header line');
      const key = name.toLowerCase();
      if (!headers.has(key)) headers.set(key, text.slice(colon + 1).trim());
    }
    if (headers.has('content-transfer-encoding')) {
      throw new MultipartError('multipart: parts with a Content-Transfer-Encoding are not read');
    }
    // The content runs to the next boundary: directly at the start, or after a line end.
    let end: number;
    if (body.startsWith(dash, pos) && endsPart(pos)) end = pos;
    else {
      end = -1;
      for (let at = body.indexOf(nl + dash, pos); at !== -1; at = body.indexOf(nl + dash, at + 1)) {
        if (endsPart(at + nl.length)) {
          end = at;
          break;
        }
      }
      if (end === -1) throw new MultipartError('multipart: a part is not closed by a boundary');
    }
    const content = body.slice(pos, end);
    pos = end;
    const disposition = parseMediaType(headers.get('content-disposition') ?? '');
    const name = disposition?.type === 'form-data' ? disposition.params['name'] : undefined;
    if (name === undefined || name === '') return;
    let value: unknown = content;
    if ((headers.get('content-type') ?? '').includes('application/json')) {
      try {
        value = parseJsonExactly(content);
      } catch (err) {
        throw new MultipartError(
          `multipart: part ${JSON.stringify(name)}: ${(err as Error).message}`,
        );
      }
    }
    (values[name] ??= []).push(value);
  }
}
