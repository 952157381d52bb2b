// Extracts the token from an `Authorization: Bearer ...` (RFC 6750 §2.1) or `DPoP ...` (RFC 9449 §7.1) value; shared by every adapter.

/** Returns the token, or undefined when the header is absent or not a Bearer credential. */
export function bearerTokenOf(header: string | undefined): string | undefined {
  if (header === undefined || header.length < 8) return undefined;
  // Scheme names are case-insensitive; anything but exactly one space after it is not a Bearer credential.
  if (header.charCodeAt(6) !== 32 || !isBearerScheme(header)) return undefined;
  const token = header.slice(7).trim();
  return token.length > 0 ? token : undefined;
}

const BEARER = 'bearer';

/**
 * Whether the value starts with `bearer` in any case, compared in place (no lower-cased copy per
 * request). Setting bit 0x20 lower-cases an ASCII capital and leaves a lower-case letter as it
 * is; the only characters it turns into one of these letters are that letter's two cases.
 */
function isBearerScheme(header: string): boolean {
  for (let i = 0; i < BEARER.length; i++) {
    if ((header.charCodeAt(i) | 0x20) !== BEARER.charCodeAt(i)) return false;
  }
  return true;
}

/** The token of a `DPoP <token>` value (scheme in any case, one space), or undefined. */
export function dpopTokenOf(header: string | undefined): string | undefined {
  if (header === undefined || header.length < 6 || header.charCodeAt(4) !== 32) return undefined;
  if (header.slice(0, 4).toLowerCase() !== 'dpop') return undefined;
  const token = header.slice(5).trim();
  return token.length > 0 ? token : undefined;
}
