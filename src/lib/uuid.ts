// Version 4 UUIDs (RFC 9562) for decision ids: random bytes from a pooled CSPRNG buffer, written as one flat string.
//
// crypto.randomUUID() joins its 36 characters from 20 two-character pieces; the result is a chain
// of concatenations that is flattened again wherever it is hashed, scanned or written, and is
// young-generation garbage many times its size. Here the text is written into one scratch buffer
// and read back as a single Latin-1 string, one small allocation (BENCHMARKS.md, "uuid").
import { randomFillSync } from 'node:crypto';

/** Random bytes for 256 UUIDs, refilled when used up. */
const POOL_BYTES = 16 * 256;

/** The ASCII codes of each byte's two hex digits (filled once, then only read). */
const HEX = new Uint8Array(512);
for (let b = 0; b < 256; b++) {
  const digits = b.toString(16).padStart(2, '0');
  HEX[2 * b] = digits.charCodeAt(0);
  HEX[2 * b + 1] = digits.charCodeAt(1);
}

/** Where each of the 16 bytes' digits go in `xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx`. */
const OFFSETS = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

/**
 * A source of version 4 UUIDs: each call returns a fresh one. The random pool and the scratch
 * buffer belong to the returned function, so every owner (a decider, a test) has its own.
 */
export function createRandomUuid(): () => string {
  const pool = Buffer.alloc(POOL_BYTES);
  const text = Buffer.alloc(36, '-');
  let next = POOL_BYTES;
  return function randomUuid(): string {
    if (next === POOL_BYTES) {
      randomFillSync(pool);
      next = 0;
    }
    const at = next;
    next += 16;
    for (let i = 0; i < 16; i++) {
      let b = pool[at + i] as number;
      if (i === 6)
        b = (b & 0x0f) | 0x40; // version 4
      else if (i === 8) b = (b & 0x3f) | 0x80; // variant 10xx
      const o = OFFSETS[i] as number;
      text[o] = HEX[2 * b] as number;
      text[o + 1] = HEX[2 * b + 1] as number;
    }
    return text.toString('latin1', 0, 36);
  };
}
