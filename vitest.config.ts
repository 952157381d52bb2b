// Test runner settings: real listeners and the real opa compiler make some suites slow to start.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Generous: the suite runs on 2 cores with real opa compiles and sidecar processes in parallel.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
