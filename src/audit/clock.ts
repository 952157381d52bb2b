// RFC 3339 timestamps with nanosecond digits for audit records, cheap enough for the decision path.

// Wall-clock time = an offset + the monotonic clock, so records made within the same millisecond
// still order correctly. The offset is checked against the wall clock every second (NTP slews
// the wall clock, not the monotonic one) and moved only when they drift apart by more than the
// wall clock's own 1 ms resolution, so timestamps do not jitter backwards at each check.
// Plain numbers, not BigInt, and the `YYYY-MM-DDTHH:MM:SS.` prefix is formatted once per second,
// into a scratch buffer whose nine digits are then written in place and read back as one flat
// string (a padded, concatenated one is several strings, flattened again wherever it is written).
const NS_PER_S = 1e9;
const PREFIX = 20;

/** A clock for record times; each instance keeps its own offset and scratch buffer. */
export interface RecordClock {
  /** Now as `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` (RFC 3339, as OPA's decision logs write it). */
  rfc3339NanoNow(): string;
}

/** A record clock; its times never go backwards within the instance. */
export function createRecordClock(): RecordClock {
  let offsetS = 0;
  let offsetNs = 0;
  let checkedAt = -Infinity;
  let prefixSecond = -1;
  /** `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`: the first 20 bytes change once a second, then 9 digits. */
  const text = Buffer.alloc(30, 'Z');

  const resync = (monoS: number, monoNs: number): void => {
    const wallMs = Date.now();
    const wantS = Math.floor(wallMs / 1000) - monoS;
    const wantNs = (wallMs % 1000) * 1e6 - monoNs;
    const drift = (wantS - offsetS) * NS_PER_S + (wantNs - offsetNs);
    if (checkedAt === -Infinity || Math.abs(drift) > 1e6) {
      offsetS = wantS;
      offsetNs = wantNs;
    }
    checkedAt = monoS;
  };

  return {
    rfc3339NanoNow() {
      const [monoS, monoNs] = process.hrtime();
      if (monoS - checkedAt >= 1) resync(monoS, monoNs);
      let s = offsetS + monoS;
      let ns = offsetNs + monoNs;
      // Normalise ns into [0, 1e9): the offset's part may be negative or carry over.
      const carry = Math.floor(ns / NS_PER_S);
      s += carry;
      ns -= carry * NS_PER_S;
      if (s !== prefixSecond) {
        prefixSecond = s;
        text.write(`${new Date(s * 1000).toISOString().slice(0, 19)}.`, 0, 'latin1');
      }
      // ns < 1e9 fits a 32-bit integer: integer division, not floating point.
      let rest = ns | 0;
      for (let i = PREFIX + 8; i >= PREFIX; i--) {
        const tens = (rest / 10) | 0;
        text[i] = 0x30 + rest - tens * 10;
        rest = tens;
      }
      return text.toString('latin1', 0, 30);
    },
  };
}
