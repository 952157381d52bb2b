// JWS compact tokens taken apart as OPA's topdown does: base64url with or without padding, JSON objects, header fields.
import { BuiltinError, stringOperand } from './host-builtin.js';

/** The three base64url sections of a compact JWS. */
export interface TokenParts {
  readonly header: string;
  readonly payload: string;
  readonly signature: string;
}

const BASE64URL_BODY = /^[A-Za-z0-9_-]*(?:[A-Za-z0-9_-]{2}==|[A-Za-z0-9_-]{3}=)?$/;

/**
 * Decodes base64url as OPA's `base64url.decode`: missing padding is restored by length (a length of
 * 1 mod 4 is an error), then the padded alphabet is decoded strictly except that line breaks are
 * skipped and unused trailing bits are ignored, as Go's decoder does.
 */
export function decodeBase64Url(text: string): Buffer {
  let padded = text;
  if (!padded.endsWith('=')) {
    const rest = padded.length % 4;
    if (rest === 1) throw new BuiltinError('illegal base64url string');
    if (rest === 2) padded += '==';
    if (rest === 3) padded += '=';
  }
  const body = padded.replace(/[\r\n]/g, '');
  if (body.length % 4 !== 0 || !BASE64URL_BODY.test(body)) {
    throw new BuiltinError('illegal base64 data');
  }
  return Buffer.from(body, 'base64url');
}

/** Splits a token into exactly three sections (the token must be a string holding a period). */
export function splitToken(token: unknown): TokenParts {
  const text = stringOperand(token, 1);
  if (!text.includes('.')) throw new BuiltinError('encoded JWT had no period separators');
  const parts = text.split('.');
  if (parts.length !== 3) {
    throw new BuiltinError(`encoded JWT must have 3 sections, found ${parts.length}`);
  }
  return { header: parts[0]!, payload: parts[1]!, signature: parts[2]! };
}

/** Parses JSON text that must be an object (duplicate keys: the last wins, as in Go). */
export function jsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BuiltinError('invalid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BuiltinError('decoded JSON type was not an Object');
  }
  return value as Record<string, unknown>;
}

/** The decoded JOSE header; a JWE header (with `enc`) is refused. */
export function decodeHeader(parts: TokenParts): Record<string, unknown> {
  const header = jsonObject(decodeBase64Url(parts.header).toString('utf8'));
  if (Object.hasOwn(header, 'enc')) throw new BuiltinError('JWT is a JWE object');
  return header;
}

/** The header fields verification reads, checked for type; `valid` is false when the JWS must be rejected. */
export interface HeaderFields {
  readonly alg: string;
  readonly kid: string;
  readonly cty: string;
  readonly valid: boolean;
}

const STRING_FIELDS = ['alg', 'kid', 'typ', 'cty'] as const;

/**
 * Reads alg, kid, typ, cty (each must be a string when present) and crit (a non-empty list).
 * Valid when alg is set and no critical parameter is one this reader does not know (RFC 7515 4.1.11).
 */
export function headerFields(header: Record<string, unknown>): HeaderFields {
  const strings: Record<string, string> = {};
  for (const name of STRING_FIELDS) {
    if (!Object.hasOwn(header, name)) continue;
    const value = header[name];
    if (typeof value !== 'string') throw new BuiltinError(`${name}: must be a string`);
    strings[name] = value;
  }
  let critical = new Set<string>();
  if (Object.hasOwn(header, 'crit')) {
    const crit = header.crit;
    if (!Array.isArray(crit)) throw new BuiltinError('crit: must be a list');
    // A non-string element ends the scan without failing it, leaving what was read so far.
    const names: string[] = [];
    for (const element of crit) {
      if (typeof element !== 'string') break;
      names.push(element);
    }
    critical = new Set(names);
    if (critical.size === 0) throw new BuiltinError('crit: must be a nonempty list');
  }
  const known = new Set<string>([...STRING_FIELDS, 'crit']);
  const alg = strings.alg ?? '';
  let valid = alg !== '';
  for (const name of Object.keys(header)) {
    if (!known.has(name) && critical.has(name)) valid = false;
  }
  return { alg, kid: strings.kid ?? '', cty: strings.cty ?? '', valid };
}

/** The signature's bytes. */
export function decodeSignature(parts: TokenParts): Buffer {
  return decodeBase64Url(parts.signature);
}
