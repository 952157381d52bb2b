// Policy scale: 1,000 tenants with distinct Rego and data on one sidecar — load time, RSS, check latency, save-to-effect.
//
// Standalone: `npm run build && node bench/policy-scale.mjs` (BENCH_TENANTS=1000, BENCH_REQUESTS=3000,
// BENCH_CONCURRENCY=1: sequential checks, so latency is the sidecar's and not the client's queue;
// BENCH_TENANTS_PER_MODULE: policies.tenants_per_module, default the config's).
// Runs the real sidecar (`node dist/cli/main.js serve`) three times: one tenant (the baseline), a
// thousand with an empty compile cache (cold), a thousand again with the cache filled (warm, watch
// mode on). Prints a table and writes bench/out/policy-scale.json.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { clearTimeout } from 'node:timers';
import { DEV_AUDIENCE, DEV_ISSUER } from '../dist/config/load.js';
import { loadOrCreateDevSigner } from '../dist/token/dev-signer.js';
import { ROOT, killAll, track } from './servers.mjs';

const { fetch } = globalThis;
const int = (name, fallback) => Number(process.env[name] ?? fallback);
const TENANTS = int('BENCH_TENANTS', 1000);
const REQUESTS = int('BENCH_REQUESTS', 3000);
const CONCURRENCY = int('BENCH_CONCURRENCY', 1);
const EDITS = int('BENCH_EDITS', 5);
/** BENCH_TENANTS_PER_MODULE=1: a Wasm module per tenant (the "module-per-tenant" entry of BENCHMARKS.md). */
const PER_MODULE = process.env.BENCH_TENANTS_PER_MODULE;
const READY_TIMEOUT_MS = int('BENCH_READY_TIMEOUT_SECONDS', 600) * 1000;
const TARGET_RSS_MB = 256;
const TARGET_P99_RATIO = 1.2;
const TARGET_SAVE_TO_EFFECT_MS = 1000;

const log = (text) => process.stderr.write(`${text}\n`);
const name = (i) => `t${String(i).padStart(4, '0')}`;

let workDir;
process.on('exit', () => {
  killAll();
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

// ---- policies ---------------------------------------------------------------------------------

const BASE = `package mandate.base

decision := {"allow": count(reasons) == 0, "reasons": [r | some r in reasons]}

reasons contains {"code": "insufficient_scope", "message": msg} if {
	not input.action in input.subject.scopes
	msg := concat("", ["action '", input.action, "' needs its scope"])
}
`;

/** Distinct Rego per tenant: its own limit, forbidden-action prefix and owner rule. */
function tenantRego(i, marker = '') {
  return `package mandate.tenant

# tenant ${name(i)}${marker}
decision := {"allow": count(reasons) == 0, "reasons": [r | some r in reasons]}

reasons contains {"code": "policy_denied", "message": "forbidden in ${name(i)}${marker}"} if {
	input.action in data.forbidden
}

reasons contains {"code": "policy_denied", "message": msg} if {
	input.context.amount > data.limit
	msg := sprintf("amount over %d in ${name(i)}", [data.limit])
}

reasons contains {"code": "policy_denied", "message": "not the owner"} if {
	startswith(input.action, "${name(i)}.owned.")
	input.resource.attributes.owner != input.subject.sub
}
`;
}

function tenantData(i) {
  return {
    forbidden: [`x.${i}.delete`, `y.${i}.purge`, 'bench.forbidden'],
    limit: 100 + (i % 900),
    labels: { id: i },
  };
}

async function writePolicies(dir, count) {
  await mkdir(join(dir, 'base'), { recursive: true });
  await writeFile(join(dir, 'base', 'policy.rego'), BASE);
  for (let i = 0; i < count; i++) {
    const unit = join(dir, 'tenants', name(i));
    await mkdir(unit, { recursive: true });
    await writeFile(join(unit, 'policy.rego'), tenantRego(i));
    await writeFile(join(unit, 'data.json'), JSON.stringify(tenantData(i)));
  }
}

// ---- the sidecar ------------------------------------------------------------------------------

function startSidecar(configPath) {
  const started = performance.now();
  const child = track(
    spawn(process.execPath, ['dist/cli/main.js', 'serve', '--config', configPath], {
      cwd: ROOT,
      env: Object.fromEntries(
        Object.entries(process.env).filter(([k]) => !k.startsWith('MANDATE_')),
      ),
      stdio: ['ignore', 'ignore', 'pipe'],
    }),
  );
  let tail = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sidecar not ready within ${READY_TIMEOUT_MS} ms\n${tail}`));
    }, READY_TIMEOUT_MS);
    child.once('exit', (code) => reject(new Error(`sidecar exited (${code})\n${tail}`)));
    let buffered = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      tail = `${tail}${chunk}`.slice(-4000);
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let record;
        try {
          record = JSON.parse(line);
        } catch {
          continue;
        }
        if (record.msg !== 'mandate is serving') continue;
        clearTimeout(timer);
        resolve({
          pid: child.pid,
          http: record.http,
          loadMs: Math.round(performance.now() - started),
          stop: () =>
            new Promise((done) => {
              if (child.exitCode !== null) return done();
              child.removeAllListeners('exit');
              child.once('exit', () => done());
              child.kill('SIGTERM');
            }),
        });
      }
    });
  });
}

async function rssMb(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024);
}

async function config(dir, stateDir, { watch }) {
  const path = join(stateDir, 'mandate.yaml');
  await mkdir(stateDir, { recursive: true });
  await writeFile(
    path,
    [
      'listen: { http: "127.0.0.1:0", grpc: "127.0.0.1:0", admin: "127.0.0.1:0" }',
      `dev: { enabled: true, state_dir: "${stateDir}" }`,
      `policies: { dir: "${dir}", watch: ${watch}, cache_dir: "${join(stateDir, 'policy-cache')}"${PER_MODULE ? `, tenants_per_module: ${PER_MODULE}` : ''} }`,
      'audit: { sink: none }',
      'log_level: info',
      '',
    ].join('\n'),
  );
  return path;
}

// ---- load -------------------------------------------------------------------------------------

async function check(http, token, body) {
  const res = await fetch(`${http}/v1/check`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body,
  });
  return res.json();
}

const BODY = JSON.stringify({
  action: 'bench.read',
  resource: { type: 'doc', id: 'd1' },
  context: { amount: 50 },
});

/** `REQUESTS` checks from `CONCURRENCY` loops, each with a random token of `tokens`; latency percentiles in µs. */
async function measure(http, tokens) {
  for (let i = 0; i < 300; i++) await check(http, tokens[i % tokens.length], BODY);
  const samples = [];
  let denied = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < REQUESTS) {
        const token = tokens[Math.floor(Math.random() * tokens.length)];
        const t0 = performance.now();
        const answer = await check(http, token, BODY);
        samples.push(performance.now() - t0);
        if (!answer.allow) denied++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  samples.sort((a, b) => a - b);
  const at = (q) =>
    Math.round(samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] * 1000);
  return {
    p50Us: at(0.5),
    p90Us: at(0.9),
    p99Us: at(0.99),
    rps: Math.round(samples.length / seconds),
    denied,
  };
}

/** Rewrites a tenant's policy so `bench.read` is denied with a fresh marker; ms until a check shows it. */
async function saveToEffect(http, dir, tokens, i, round) {
  const marker = ` v${round}`;
  const rego = tenantRego(i, marker).replace(
    'input.action in data.forbidden',
    'input.action == "bench.read"',
  );
  const started = performance.now();
  await writeFile(join(dir, 'tenants', name(i), 'policy.rego'), rego);
  const deadline = started + 30_000;
  for (;;) {
    const answer = await check(http, tokens[i], BODY);
    if (answer.reasons?.some((r) => r.message === `forbidden in ${name(i)}${marker}`)) {
      return Math.round(performance.now() - started);
    }
    if (performance.now() > deadline)
      throw new Error(`edit of ${name(i)} not in effect after 30 s`);
  }
}

// ---- main -------------------------------------------------------------------------------------

async function main() {
  workDir = await mkdtemp(join(tmpdir(), 'mandate-policy-scale-'));
  const one = join(workDir, 'one');
  const many = join(workDir, 'many');
  log(`policy-scale: writing 1 and ${TENANTS} tenant policies under ${workDir}`);
  await writePolicies(one, 1);
  await writePolicies(many, TENANTS);

  const signer = await loadOrCreateDevSigner(join(workDir, 'state'));
  const tokens = [];
  for (let i = 0; i < TENANTS; i++) {
    tokens.push(
      await signer.mint({
        issuer: DEV_ISSUER,
        audience: DEV_AUDIENCE,
        sub: `user_${i}`,
        tenant: name(i),
        scope: 'bench.read',
        clientId: 'bench-agent',
        ttlSeconds: 3600,
      }),
    );
  }

  log('policy-scale: 1 tenant');
  const baseline = await startSidecar(await config(one, join(workDir, 'state'), { watch: false }));
  const oneRss = await rssMb(baseline.pid);
  const oneLatency = await measure(baseline.http, tokens.slice(0, 1));
  const oneRssAfter = await rssMb(baseline.pid);
  await baseline.stop();

  log(`policy-scale: ${TENANTS} tenants, cold compile cache`);
  const cold = await startSidecar(await config(many, join(workDir, 'state'), { watch: false }));
  const coldRss = await rssMb(cold.pid);
  await cold.stop();

  log(`policy-scale: ${TENANTS} tenants, warm cache, watch mode`);
  const warm = await startSidecar(await config(many, join(workDir, 'state'), { watch: true }));
  const warmRss = await rssMb(warm.pid);
  const manyLatency = await measure(warm.http, tokens);
  const manyRssAfter = await rssMb(warm.pid);
  const edits = [];
  for (let round = 1; round <= EDITS; round++) {
    const i = Math.floor(Math.random() * TENANTS);
    edits.push(await saveToEffect(warm.http, many, tokens, i, round));
  }
  const rssAfterEdits = await rssMb(warm.pid);
  await warm.stop();

  const maxRss = Math.max(coldRss, warmRss, manyRssAfter, rssAfterEdits);
  const p99Ratio = manyLatency.p99Us / oneLatency.p99Us;
  const sorted = [...edits].sort((a, b) => a - b);
  const result = {
    tenants: TENANTS,
    requests: REQUESTS,
    concurrency: CONCURRENCY,
    oneTenant: { loadMs: baseline.loadMs, rssMb: Math.max(oneRss, oneRssAfter), ...oneLatency },
    manyTenants: {
      coldLoadMs: cold.loadMs,
      warmLoadMs: warm.loadMs,
      rssMb: {
        afterColdLoad: coldRss,
        afterWarmLoad: warmRss,
        afterChecks: manyRssAfter,
        afterEdits: rssAfterEdits,
      },
      ...manyLatency,
    },
    saveToEffectMs: {
      runs: edits,
      median: sorted[sorted.length >> 1],
      max: sorted[sorted.length - 1],
    },
    targets: {
      rssMb: { target: TARGET_RSS_MB, value: maxRss, met: maxRss <= TARGET_RSS_MB },
      p99Ratio: {
        target: TARGET_P99_RATIO,
        value: Number(p99Ratio.toFixed(2)),
        met: p99Ratio <= TARGET_P99_RATIO,
      },
      saveToEffectMs: {
        target: TARGET_SAVE_TO_EFFECT_MS,
        value: sorted[sorted.length - 1],
        met: sorted[sorted.length - 1] <= TARGET_SAVE_TO_EFFECT_MS,
      },
    },
  };
  await mkdir(join(ROOT, 'bench', 'out'), { recursive: true });
  await writeFile(
    join(ROOT, 'bench', 'out', 'policy-scale.json'),
    `${JSON.stringify(result, null, 2)}\n`,
  );
  const lines = [
    `policy scale: ${TENANTS} tenants (distinct Rego + data), ${REQUESTS} checks at concurrency ${CONCURRENCY}`,
    `  load: 1 tenant ${baseline.loadMs} ms; ${TENANTS} tenants cold ${cold.loadMs} ms, warm cache ${warm.loadMs} ms`,
    `  RSS: 1 tenant ${result.oneTenant.rssMb} MB; ${TENANTS} tenants max ${maxRss} MB (target ≤ ${TARGET_RSS_MB}): ${result.targets.rssMb.met ? 'met' : 'MISSED'}`,
    `  check latency p50/p99: 1 tenant ${oneLatency.p50Us}/${oneLatency.p99Us} µs; random of ${TENANTS} ${manyLatency.p50Us}/${manyLatency.p99Us} µs (p99 ×${p99Ratio.toFixed(2)}, target ≤ ×${TARGET_P99_RATIO}): ${result.targets.p99Ratio.met ? 'met' : 'MISSED'}`,
    `  save-to-effect (watch): median ${result.saveToEffectMs.median} ms, max ${result.saveToEffectMs.max} ms (target ≤ ${TARGET_SAVE_TO_EFFECT_MS}): ${result.targets.saveToEffectMs.met ? 'met' : 'MISSED'}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  // Like the other suites: a missed target is a non-zero exit (bench/all.mjs reports it).
  if (!Object.values(result.targets).every((target) => target.met)) process.exitCode = 1;
  if (oneLatency.denied > 0 || manyLatency.denied > 0) {
    throw new Error(`unexpected denials: ${oneLatency.denied} / ${manyLatency.denied}`);
  }
}

main()
  .then(
    () => rm(workDir, { recursive: true, force: true }),
    async (err) => {
      log(`policy-scale: ${err.stack ?? err}`);
      if (workDir) await rm(workDir, { recursive: true, force: true });
      process.exitCode = 1;
    },
  )
  .finally(() => killAll());
