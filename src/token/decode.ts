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
 * base64url segments whose first two are JSON objects. The signature may be empty here so that an
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

/** Node's base64url decoder skips bad characters; checking first makes decoding unambiguous. */
function isBase64url(segment: string): boolean {
  // A length of 1 mod 4 cannot come from any byte string.
  return segment.length % 4 !== 1 && BASE64URL.test(segment);
}
