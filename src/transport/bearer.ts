// Extracts the token from an `Authorization: Bearer ...` value (RFC 6750 §2.1); shared by every adapter.

/** Returns the token, or undefined when the header is absent or not a Bearer credential. */
export function bearerTokenOf(header: string | undefined): string | undefined {
  if (header === undefined || header.length < 8) return undefined;
  // Scheme names are case-insensitive; anything but exactly one space after it is not a Bearer credential.
  if (header.charCodeAt(6) !== 32 || header.slice(0, 6).toLowerCase() !== 'bearer')
    return undefined;
  const token = header.slice(7).trim();
  return token.length > 0 ? token : undefined;
}
