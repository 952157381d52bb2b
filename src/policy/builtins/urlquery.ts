// urlquery.* builtins with Go's net/url query escaping (QueryEscape, QueryUnescape, ParseQuery, Values.Encode).
import type { JsBuiltin } from '../builtins.js';
import { BuiltinError, guarded, objectOperand, stringOperand } from './host-builtin.js';

const UNRESERVED = /[A-Za-z0-9\-_.~]/;

/** Go's url.QueryEscape: unreserved bytes kept, space as `+`, every other byte as %XX. */
export function queryEscape(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const char = String.fromCharCode(byte);
    if (byte < 0x80 && UNRESERVED.test(char)) out += char;
    else if (byte === 0x20) out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const HEX = /^[0-9A-Fa-f]{2}$/;

/** Go's url.QueryUnescape: `+` is a space, a `%` must start two hex digits. */
export function queryUnescape(text: string): string {
  const bytes: number[] = [];
  const raw = Buffer.from(text, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    const byte = raw[i]!;
    if (byte === 0x25) {
      const hex = raw.subarray(i + 1, i + 3).toString('latin1');
      if (!HEX.test(hex)) throw new BuiltinError('invalid URL escape');
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(byte === 0x2b ? 0x20 : byte);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function encodeObject(value: unknown): string {
  const object = objectOperand(value, 1);
  const pairs: [string, string[]][] = [];
  for (const [key, entry] of Object.entries(object)) {
    if (typeof entry === 'string') {
      pairs.push([key, [entry]]);
    } else if (Array.isArray(entry)) {
      if (!entry.every((item): item is string => typeof item === 'string')) {
        throw new BuiltinError('values must be string, array[string], or set[string]');
      }
      // Go's Values.Add on an absent key with no values leaves the key out.
      if (entry.length > 0) pairs.push([key, entry]);
    } else {
      throw new BuiltinError('values must be string, array[string], or set[string]');
    }
  }
  // Values.Encode sorts by key (byte order) and escapes both sides.
  pairs.sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return pairs
    .flatMap(([key, values]) => values.map((v) => `${queryEscape(key)}=${queryEscape(v)}`))
    .join('&');
}

/** Go's url.ParseQuery: `&`-separated pairs, a `;` is an error, and any bad escape fails the whole query. */
function decodeObject(value: unknown): Record<string, string[]> {
  const query = stringOperand(value, 1);
  const result: Record<string, string[]> = {};
  let failed = false;
  for (const part of query.split('&')) {
    if (part === '') continue;
    if (part.includes(';')) {
      failed = true;
      continue;
    }
    const at = part.indexOf('=');
    const rawKey = at < 0 ? part : part.slice(0, at);
    const rawValue = at < 0 ? '' : part.slice(at + 1);
    let key: string;
    let decoded: string;
    try {
      key = queryUnescape(rawKey);
      decoded = queryUnescape(rawValue);
    } catch {
      failed = true;
      continue;
    }
    (result[key] ??= []).push(decoded);
  }
  if (failed) throw new BuiltinError('invalid query');
  return result;
}

/** The urlquery builtins. */
export function createUrlQueryBuiltins(): Record<string, JsBuiltin> {
  return {
    'urlquery.encode': guarded((value: unknown) => queryEscape(stringOperand(value, 1))),
    'urlquery.decode': guarded((value: unknown) => queryUnescape(stringOperand(value, 1))),
    'urlquery.encode_object': guarded(encodeObject),
    'urlquery.decode_object': guarded(decodeObject),
  };
}
