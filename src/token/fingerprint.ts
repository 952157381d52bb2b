// A short, non-reversible fingerprint of a raw token, so audit can correlate requests without storing tokens.
import { createHash } from 'node:crypto';

/** First 16 hex chars (64 bits) of SHA-256 of the token. */
export function tokenFingerprint(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 16);
}
