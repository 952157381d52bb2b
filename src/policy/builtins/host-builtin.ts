// What a host builtin is, and how an OPA builtin error becomes "undefined" for the Wasm caller.
import type { JsBuiltin } from '../builtins.js';

/**
 * An error OPA's topdown reports as a builtin error (a wrong operand type, a malformed token...).
 * Outside strict mode OPA makes the calling expression undefined, and so do the host builtins:
 * {@link guarded} turns it into `undefined`, which opa-wasm hands to the module as "no value".
 */
export class BuiltinError extends Error {}

/** What host builtins read from the decision being evaluated. */
export interface HostContext {
  /** This decision's time (the same instant `time.now_ns()` returns), nanoseconds since the epoch. */
  nowNs(): bigint;
  /** A number that changes when a new decision starts (per-decision memory, e.g. uuid.rfc4122). */
  decision(): number;
}

/** Wraps a builtin so a {@link BuiltinError} reads as undefined; any other throw halts the evaluation (a deny). */
export function guarded(fn: (...args: unknown[]) => unknown): JsBuiltin {
  return (...args: unknown[]) => {
    try {
      return fn(...args);
    } catch (thrown) {
      if (thrown instanceof BuiltinError) return undefined;
      throw thrown;
    }
  };
}

/** The string operand at `position` (1-based), or a builtin error as OPA's operand check gives. */
export function stringOperand(value: unknown, position: number): string {
  if (typeof value !== 'string') throw new BuiltinError(`operand ${position} must be string`);
  return value;
}

/** The number operand at `position` (1-based). */
export function numberOperand(value: unknown, position: number): number {
  if (typeof value !== 'number') throw new BuiltinError(`operand ${position} must be number`);
  return value;
}

/** The object operand at `position` (1-based). Sets and arrays reach the host as arrays. */
export function objectOperand(value: unknown, position: number): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BuiltinError(`operand ${position} must be object`);
  }
  return value as Record<string, unknown>;
}

const encoder = new TextEncoder();

/** JSON text for opa-wasm to parse as it is: numbers beyond 2^53 (nanoseconds) stay exact. */
export function jsonText(text: string): ArrayBuffer {
  return encoder.encode(text).buffer as ArrayBuffer;
}
