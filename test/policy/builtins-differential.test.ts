// The host builtins against OPA itself: the same calls through `opa eval` (topdown) and through mandate's Wasm must agree.
import { beforeAll, describe, expect, it } from 'vitest';
import { HOST_BUILTIN_NAMES } from '../../src/policy/builtins/index.js';
import { jwtCases } from './differential/jwt-cases.js';
import { otherCases } from './differential/other-cases.js';
import { type BuiltinCase, type CallResult, runBoth } from './differential/run-both.js';

// Whole seconds: the instant both evaluators see, and the one claims are set around.
const NOW_SECONDS = Math.floor(Date.now() / 1000);

/** JSON with object keys sorted: OPA and the Wasm order keys differently. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

let cases: BuiltinCase[];
let opa: CallResult[];
let mandate: CallResult[];

beforeAll(async () => {
  cases = [...jwtCases(NOW_SECONDS), ...otherCases()];
  ({ opa, mandate } = await runBoth(cases, BigInt(NOW_SECONDS) * 1_000_000_000n));
}, 120_000);

describe('host builtins agree with opa eval', () => {
  it('covers every host builtin with at least 300 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(300);
    const covered = new Set(cases.map((c) => c.fn));
    expect(HOST_BUILTIN_NAMES.filter((name) => !covered.has(name))).toEqual([]);
  });

  it('gives the same value, or the same undefined, for every case', () => {
    const disagreements = cases
      .map((c, i) => ({ c, opa: canonical(opa[i]), mandate: canonical(mandate[i]) }))
      .filter((row) => row.opa !== row.mandate)
      .map((row) => `${row.c.fn} (${row.c.note}): opa ${row.opa}, mandate ${row.mandate}`);
    expect(disagreements).toEqual([]);
  });

  it('is not vacuous: both defined values and undefined answers occur, and verification says both true and false', () => {
    expect(opa.filter((r) => 'undefined' in r).length).toBeGreaterThan(30);
    expect(opa.filter((r) => 'value' in r).length).toBeGreaterThan(150);
    const verdicts = new Set(
      cases.flatMap((c, i) => {
        const r = opa[i]!;
        if (!('value' in r)) return [];
        if (c.fn === 'io.jwt.decode_verify') return [String((r.value as unknown[])[0])];
        return c.fn.startsWith('io.jwt.verify_') ? [String(r.value)] : [];
      }),
    );
    expect([...verdicts].sort()).toEqual(['false', 'true']);
  });
});
