// Splits and decodes a compact JWS without verifying it, strictly, so routing never trusts lenient parsing.

/** The untrusted header and claims of a compact JWS; use them only to pick an issuer and a key. */
export interface DecodedToken {
  readonly header: Record<string, unknown>;
  readonly payload: Record<string, unknown>;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;
// fatal: invalid UTF-8 is an error, not silently replaced, so we parse exactly what was signed.
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes `header.payload.signature`. Returns undefined for anything that is not three
 * canonical base64url segments whose first two are JSON objects. The signature may be empty here so that an
 * unsigned (`alg: none`) token is reported as a refused algorithm rather than as garbage.
 */
export function decodeCompact(token: string): DecodedToken | undefined {
  const first = token.indexOf('.');
  const second = first < 0 ? -1 : token.indexOf('.', first + 1);
  if (first <= 0 || second < 0 || token.indexOf('.', second + 1) !== -1) return undefined;
  const signature = token.slice(second + 1);
  if (signature.length > 0 && !isBase64url(signature)) return undefined;
  const header = decodeSegment(token.slice(0, first));
  if (header === undefined) return undefined;
  const payload = decodeSegment(token.slice(first + 1, second));
  if (payload === undefined) return undefined;
  return { header, payload };
}

function decodeSegment(segment: string): Record<string, unknown> | undefined {
  if (!isBase64url(segment)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(Buffer.from(segment, 'base64url')));
  } catch {
    return undefined;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** Value of each base64url character, for the unused low bits of a segment's last character. */
const SEXTET = new Map(
  [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'].map((c, i) => [c, i]),
);

/**
 * True only for canonical base64url (RFC 7515 §2, RFC 4648 §3.5): the URL-safe alphabet, no
 * padding, and zero bits after the last byte. Node's decoder skips bad characters and ignores
 * padding and trailing bits, so without this one signed token would have many spellings (with
 * `=`, `+`, `/`, or another last character of the signature) that verify alike but hash apart,
 * and audit correlation and look-ups by token hash could be sidestepped.
 */
export function isBase64url(segment: string): boolean {
  const rest = segment.length % 4;
  // A length of 1 mod 4 cannot come from any byte string.
  if (rest === 1 || !BASE64URL.test(segment)) return false;
  if (rest === 0) return true;
  const last = SEXTET.get(segment[segment.length - 1] as string) as number;
  // Two characters carry one byte (4 bits spare), three carry two (2 bits spare).
  return (last & (rest === 2 ? 0x0f : 0x03)) === 0;
}
