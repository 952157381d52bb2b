// Property-based fuzzing of every transport against a real sidecar: no allow the oracle forbids, no crash or hang, no token in audit.
//
// Environment: FUZZ_RUNS (inputs, default 20000; `npm run fuzz` 1000000), FUZZ_SECONDS (stop after
// this long and report what ran), FUZZ_SEED, FUZZ_ONLY (one transport: http, grpc, envoy_grpc,
// envoy_http), FUZZ_TOKEN_KEYS=0 (no valid tokens as object keys in documents).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFuzzTarget, type FuzzTarget } from './fuzz-harness.js';

/** Inputs per run: about 20 000 by default (fast enough for `npm test`); `npm run fuzz` sets 1 000 000. */
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 20_000);
/** Optional wall-clock cap, seconds: a long run stops there and reports what it did. */
const SECONDS =
  process.env['FUZZ_SECONDS'] === undefined ? undefined : Number(process.env['FUZZ_SECONDS']);
const SEED = Number(process.env['FUZZ_SEED'] ?? 20_261_203);
const BATCH = 64;

let target: FuzzTarget;
beforeAll(async () => {
  target = await startFuzzTarget();
});
afterAll(async () => {
  await target?.stop();
});

describe('fuzz', () => {
  it(
    'tokens, /v1/check bodies, gRPC Check and Envoy requests and paths: invariants hold',
    async () => {
      const started = Date.now();
      const figures = await target.run({
        runs: RUNS,
        seed: SEED,
        batch: BATCH,
        ...(SECONDS !== undefined ? { deadlineMs: started + SECONDS * 1000 } : {}),
      });
      // Still up and answering after all of it.
      const health = await fetch(`${target.sidecar.httpUrl}/health`);
      const leaks = await target.leakedTokens();
      console.log(
        `fuzz: ${figures.inputs} inputs in ${(figures.durationMs / 1000).toFixed(1)} s ` +
          `(${figures.ratePerSecond}/s; seed ${SEED}; ${JSON.stringify(figures.byTransport)}); ` +
          `${figures.allows} allows, ${figures.failures} failures, ${leaks.length} token leaks`,
      );
      expect(figures.examples).toEqual([]);
      expect(figures.failures).toBe(0);
      expect(leaks).toEqual([]);
      expect(health.status).toBe(200);
      // The oracle must have seen real allows, or it checked nothing.
      expect(figures.allows).toBeGreaterThan(0);
      if (SECONDS === undefined) expect(figures.inputs).toBe(RUNS);
    },
    Math.max(600_000, (SECONDS ?? 0) * 1000 + 120_000, RUNS * 10),
  );
});
