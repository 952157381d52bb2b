// `npm run bench`: every benchmark in turn, each in its own process so one's servers never overlap another's.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));

/** Core check paths first (the figures BENCHMARKS.md leads with), then each feature's own bench. */
const SUITES = [
  ['core checks (HTTP, gRPC, token verification)', 'run.mjs'],
  ['Envoy ext_authz (gRPC and HTTP)', 'envoy.mjs'],
  ['OPA-Envoy compatibility mode (quick-start JWT policy)', 'envoy-compat.mjs'],
  ['revocation (propagation, 100k entries)', 'revocation.mjs'],
  [
    'audit sinks (http vs stdout vs file, best effort and answer after write, vs none)',
    'audit.mjs',
  ],
  ['token exchange (cache hit/miss, single-flight)', 'exchange.mjs'],
  ['policy scale (1,000 tenants)', 'policy-scale.mjs'],
  ['MCP proxy (tools/call overhead, tools/list filtering, streamed results)', 'mcp.mjs'],
];

const only = process.argv.slice(2);
let failed = 0;
for (const [title, file] of SUITES) {
  if (only.length > 0 && !only.some((o) => file.startsWith(o))) continue;
  if (!existsSync(join(HERE, file))) continue;
  console.log(`\n=== ${title}: bench/${file}\n`);
  const run = spawnSync(process.execPath, [join(HERE, file)], { stdio: 'inherit' });
  if (run.status !== 0) {
    failed++;
    console.log(
      `\n(bench/${file} exited ${run.status ?? run.signal}: a target failed or it could not run)`,
    );
  }
}
process.exitCode = failed > 0 ? 1 : 0;
