// The builtins mandate provides to policy Wasm in JS (`time.now_ns`), and the check that a module needs no others.
import { PolicyError } from './errors.js';
import { OPA_WASM_JS_BUILTINS } from './runtime-builtins.js';

export { OPA_WASM_JS_BUILTINS };

/** A JS builtin as opa-wasm calls it: JSON-decoded arguments in, a JSON-encodable value (or JSON text as an ArrayBuffer) out. */
export type JsBuiltin = (...args: unknown[]) => unknown;

/** The clock policies read through `time.now_ns`, fixed for the length of one decision. */
export interface DecisionClock {
  /** Starts a new decision: the first `time.now_ns()` after this reads the clock, later ones repeat it. */
  begin(): void;
  /** This decision's time in ns, read from the clock on first use (the value `time.now_ns()` gives). */
  nowNs(): bigint;
  /** How many decisions have begun: changes exactly when a new decision starts. */
  decision(): number;
  /** The builtins to hand to opa-wasm's `loadPolicy`. */
  readonly builtins: Readonly<Record<string, JsBuiltin>>;
}

/**
 * Nanoseconds since the Unix epoch from the wall clock, at millisecond resolution. Date.now() follows
 * clock corrections; a monotonic clock anchored at start-up would drift from wall time over weeks.
 */
export function wallClockNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/**
 * Creates the decision clock. `now` returns nanoseconds since the Unix epoch (a number is
 * truncated to an integer). It is called at most once per decision, when a policy first asks.
 */
export function createDecisionClock(now: () => bigint | number = wallClockNs): DecisionClock {
  // JSON text of this decision's time, once read. Nanosecond timestamps exceed 2^53, so
  // JSON.stringify(number) would round them; opa-wasm accepts an ArrayBuffer as ready JSON text.
  let encoded: ArrayBuffer | undefined;
  let instant: bigint | undefined;
  let decisions = 0;

  const read = (): bigint => {
    if (instant === undefined) {
      const current = now();
      instant = typeof current === 'bigint' ? current : BigInt(Math.trunc(current));
    }
    return instant;
  };

  const nowNs: JsBuiltin = () => {
    encoded ??= new TextEncoder().encode(read().toString()).buffer as ArrayBuffer;
    return encoded;
  };

  return {
    begin() {
      // Lazily read: most policies never ask for the time, and then the clock costs nothing.
      encoded = undefined;
      instant = undefined;
      decisions += 1;
    },
    nowNs: read,
    decision: () => decisions,
    builtins: { 'time.now_ns': nowNs },
  };
}

/**
 * Rejects a module that needs a builtin neither the Wasm itself, opa-wasm's JS, nor `provided`
 * implements. opa-wasm would only fail when the builtin is first called, i.e. on a live request.
 */
export function assertBuiltinsSupported(
  unit: string,
  required: readonly string[],
  provided: Readonly<Record<string, JsBuiltin>>,
): void {
  const missing = required.filter(
    (name) => !OPA_WASM_JS_BUILTINS.includes(name) && !Object.hasOwn(provided, name),
  );
  if (missing.length === 0) return;
  const list = missing.sort().join(', ');
  throw new PolicyError(
    'unsupported_builtin',
    `${unit}: policy uses builtin${missing.length > 1 ? 's' : ''} not available to Wasm policies in mandate: ${list}`,
    { unit, builtins: missing },
  );
}
