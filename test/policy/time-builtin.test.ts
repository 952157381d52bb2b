// time.now_ns() in Wasm policies: provided by mandate, exact to the nanosecond, fixed for one decision.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PolicyEngine } from '../../src/policy/types.js';
import {
  ALLOW_ALL_BASE,
  delegatedSubject,
  makePolicyDir,
  policyInput,
  startEngine,
} from './fixtures.js';

// Each layer reports the time it saw, twice, so one evaluation shows whether the clock moved. Only
// the low 9 digits are printed: the Wasm format_int fails on values of 2^31 and more, but Wasm
// integer arithmetic is exact, so the low digits show whether nanosecond precision survived.
const reportTime = (pkg: string, allow: boolean) => `package ${pkg}

low := format_int(time.now_ns() % 1000000000, 10)

decision := {"allow": ${allow}, "reasons": [
	{"code": "first", "message": low},
	{"code": "second", "message": format_int(time.now_ns() % 1000000000, 10)},
	{"code": "after_2020", "message": sprintf("%v", [time.now_ns() > 1577836800000000000])},
]}
`;

let remove: () => Promise<void>;
let dir: string;

beforeAll(async () => {
  ({ dir, remove } = await makePolicyDir({
    base: { 'policy.rego': reportTime('mandate.base', true) },
    tenants: { acme_inc: { 'policy.rego': reportTime('mandate.tenant', false) } },
  }));
});

afterAll(async () => {
  await remove();
});

const input = policyInput('contacts.read', delegatedSubject('agent-1', ['contacts.read']));

/** What each layer saw, by reason code: base first, then tenant. */
function seen(engine: PolicyEngine, code: string): string[] {
  const outcome = engine.evaluate('acme_inc', input);
  return [...outcome.base.reasons, ...(outcome.tenant?.reasons ?? [])]
    .filter((reason) => reason.code === code)
    .map((reason) => reason.message);
}

describe('time.now_ns', () => {
  it('returns the configured clock to the nanosecond, beyond 2^53', async () => {
    const engine = await startEngine(dir, { now: () => 1_700_000_000_123_456_789n });
    // A JS number would have rounded this to ...456800.
    expect(seen(engine, 'first')).toEqual(['123456789', '123456789']);
    expect(seen(engine, 'second')).toEqual(['123456789', '123456789']);
  });

  it('is read once per evaluate(): both layers see the same instant, the next decision a new one', async () => {
    let calls = 0;
    const engine = await startEngine(dir, {
      now: () => {
        calls += 1;
        return 1_800_000_000_000_000_000n + BigInt(calls) * 1_000n;
      },
    });
    calls = 0;
    const outcome = engine.evaluate('acme_inc', input);
    expect(calls).toBe(1);
    const first = [...outcome.base.reasons, ...(outcome.tenant?.reasons ?? [])]
      .filter((reason) => reason.code !== 'after_2020')
      .map((reason) => reason.message);
    expect(first).toEqual(['1000', '1000', '1000', '1000']);
    expect(seen(engine, 'first')).toEqual(['2000', '2000']);
    expect(calls).toBe(2);
  });

  it('is not read at all when no policy asks for the time', async () => {
    const { dir: plain, remove: removePlain } = await makePolicyDir({ base: ALLOW_ALL_BASE });
    let calls = 0;
    const engine = await startEngine(plain, { now: () => BigInt(++calls) });
    engine.evaluate(undefined, input);
    expect(calls).toBe(0);
    await removePlain();
  });

  it('accepts a clock returning a number', async () => {
    const engine = await startEngine(dir, { now: () => 1_600_000_000_000_000_000 });
    expect(seen(engine, 'first')).toEqual(['0', '0']);
  });

  it('defaults to the wall clock', async () => {
    const engine = await startEngine(dir);
    expect(seen(engine, 'after_2020')).toEqual(['true', 'true']);
  });
});
