// RFC 3339 timestamps with nanosecond digits for audit records, cheap enough for the decision path.

// Wall-clock epoch in ns at the monotonic clock's zero: a timestamp is this plus hrtime, so records
// made within the same millisecond still order correctly. Checked every second against the wall
// clock (NTP slews it, not the monotonic one) and moved only when they drift apart by more than the
// wall clock's own 1 ms resolution, so timestamps do not jitter backwards at each check.
let offsetNs = 0n;
let checkedAtNs = -1n;
const CHECK_EVERY_NS = 1_000_000_000n;
const TOLERANCE_NS = 1_000_000n;

/** Now as `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` (RFC 3339, as OPA's decision logs write it). */
export function rfc3339NanoNow(): string {
  const mono = process.hrtime.bigint();
  if (checkedAtNs < 0n || mono - checkedAtNs > CHECK_EVERY_NS) {
    const wall = BigInt(Date.now()) * 1_000_000n - mono;
    const drift = wall - offsetNs;
    if (checkedAtNs < 0n || drift > TOLERANCE_NS || drift < -TOLERANCE_NS) offsetNs = wall;
    checkedAtNs = mono;
  }
  const ns = offsetNs + mono;
  const fraction = String(ns % 1_000_000_000n).padStart(9, '0');
  return `${new Date(Number(ns / 1_000_000n)).toISOString().slice(0, 19)}.${fraction}Z`;
}
