// Hand-made compact JWS for attack tests: raw header and payload text (duplicate keys, odd types) signed with a real key.
import { KeyObject, sign } from 'node:crypto';
import type { TestKey } from './tokens.js';

/** base64url of raw text, exactly as given (so duplicate JSON keys survive). */
export function segmentOf(text: string | Uint8Array): string {
  return Buffer.from(text).toString('base64url');
}

/** Signs `header.payload` (already encoded segments) with an ES256 or RS256 test key. */
export function signSegments(key: TestKey, header: string, payload: string): string {
  const input = `${header}.${payload}`;
  const privateKey = KeyObject.from(key.privateKey);
  const signature =
    key.alg === 'ES256'
      ? sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' })
      : sign('sha256', Buffer.from(input), privateKey);
  return `${input}.${signature.toString('base64url')}`;
}

/** Signs raw header and payload text. */
export function signRaw(key: TestKey, header: string, payload: string | Uint8Array): string {
  return signSegments(key, segmentOf(header), segmentOf(payload));
}

/** The same token with the last character of segment `index` changed to `replacement`. */
export function withLastChar(token: string, index: number, replacement: string): string {
  const parts = token.split('.');
  const segment = parts[index] as string;
  parts[index] = `${segment.slice(0, -1)}${replacement}`;
  return parts.join('.');
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * A non-canonical spelling of segment `index`: the same bytes, with unused trailing bits set in its
 * last character. Undefined when the segment has no spare bits (length a multiple of 4).
 */
export function withTrailingBits(token: string, index: number): string | undefined {
  const segment = token.split('.')[index] as string;
  const rest = segment.length % 4;
  if (rest === 0) return undefined;
  const value = ALPHABET.indexOf(segment[segment.length - 1] as string);
  return withLastChar(token, index, ALPHABET[value | 0x01] as string);
}
