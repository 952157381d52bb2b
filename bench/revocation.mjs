// `node bench/revocation.mjs` (after `npm run build`): revocation propagation across 3 sidecars sharing one Redis, and check throughput with 100,000 entries vs none.
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { clearTimeout } from 'node:timers';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { encodeChange, encodeEntry } from '../dist/revocation/codec.js';
import { loadOrCreateDevSigner } from '../dist/token/dev-signer.js';

const { fetch } = globalThis;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const int = (name, fallback) => Number(process.env[name] ?? fallback);

/** Settings; override with env for exploration. */
export const SETTINGS = {
  sidecars: 3,
  revocations: int('BENCH_REVOCATIONS', 200),
  entries: int('BENCH_REVOCATION_ENTRIES', 100_000),
  seconds: int('BENCH_SECONDS', 10),
  warmupSeconds: int('BENCH_WARMUP_SECONDS', 2),
  connections: int('BENCH_WRK_CONNECTIONS', 32),
  deadlineMs: int('BENCH_REVOCATION_DEADLINE_SECONDS', 300) * 1000,
};

/** Targets from the issue: p99 propagation ≤ 100 ms; throughput with 100k entries within 5 % of none. */
export const TARGETS = { propagationP99Ms: 100, throughputRatio: 0.95 };

const ADMIN_TOKEN = `bench-admin-${randomUUID()}`;
const KEY_PREFIX = 'mandate:revocations:';
const DEV_ISSUER = 'https://dev.mandate.local';
const DEV_AUDIENCE = 'dev-api';
const ACTION_BODY = JSON.stringify({
  action: 'tickets.comment',
  resource: { type: 'ticket', id: 'T-1' },
  tenant: 'acme_inc',
});

const log = (text) => process.stderr.write(`${text}\n`);
const children = new Set();

function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function killAll() {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  children.clear();
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once `isReady(line)` returns something for a line of the child's output. */
function waitForLine(child, stream, isReady, what, timeoutMs = 90_000) {
  let tail = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${what} not ready in time\n${tail}`)),
      timeoutMs,
    );
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}) before it was ready\n${tail}`));
    });
    let buffered = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      tail = `${tail}${chunk}`.slice(-4000);
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const value = isReady(line);
        if (value !== undefined) {
          clearTimeout(timer);
          child.removeAllListeners('exit');
          resolve(value);
        }
      }
      if (buffered.length > 65_536) buffered = '';
    });
  });
}

async function startRedis(dir) {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.error) {
    throw new Error('redis-server is not installed: apt-get install -y redis-server');
  }
  const port = await freePort();
  const child = track(
    spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    ),
  );
  await waitForLine(
    child,
    child.stdout,
    (line) => (line.includes('Ready to accept connections') ? true : undefined),
    'redis-server',
  );
  return { port, url: `redis://127.0.0.1:${port}` };
}

async function startSidecar(name, dir, stateDir, redisUrl) {
  const configPath = join(dir, `${name}.yaml`);
  await writeFile(
    configPath,
    [
      'listen: { http: "127.0.0.1:0", grpc: "127.0.0.1:0", admin: "127.0.0.1:0" }',
      `dev: { enabled: true, state_dir: "${stateDir}" }`,
      `policies: { dir: "${join(ROOT, 'policies')}" }`,
      'audit: { sink: none }',
      `admin: { tokens: ["${ADMIN_TOKEN}"] }`,
      `revocation: { store: redis, path: "${join(dir, `${name}-revocations.json`)}", redis: { url: "${redisUrl}" } }`,
      'log_level: info',
    ].join('\n'),
  );
  const child = track(
    spawn(process.execPath, ['dist/cli/main.js', 'serve', '--config', configPath], {
      cwd: ROOT,
      env: Object.fromEntries(
        Object.entries(process.env).filter(([k]) => !k.startsWith('MANDATE_')),
      ),
      stdio: ['ignore', 'ignore', 'pipe'],
    }),
  );
  const addresses = await waitForLine(
    child,
    child.stderr,
    (line) => {
      try {
        const record = JSON.parse(line);
        return record.msg === 'mandate is serving'
          ? { http: record.http, admin: record.admin }
          : undefined;
      } catch {
        return undefined;
      }
    },
    name,
  );
  // Keep draining stderr so the child never blocks on a full pipe.
  child.stderr.resume();
  return { name, pid: child.pid, ...addresses };
}

async function check(sidecar, token) {
  const res = await fetch(`${sidecar.http}/v1/check`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: ACTION_BODY,
  });
  const body = await res.json();
  return body.allow === true ? 'allow' : (body.reasons?.[0]?.code ?? 'deny');
}

async function admin(sidecar, method, path, body) {
  const res = await fetch(`${sidecar.admin}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const parsed = await res.json();
  if (!res.ok) throw new Error(`admin ${method} ${path}: ${res.status} ${JSON.stringify(parsed)}`);
  return parsed;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Polls `sidecar` until it denies `token` as revoked; resolves with the time of that answer (±1 poll). */
async function firstDeny(sidecar, token, deadline) {
  for (;;) {
    const code = await check(sidecar, token);
    const at = performance.now();
    if (code === 'revoked') return at;
    if (code !== 'allow') throw new Error(`${sidecar.name}: unexpected ${code}`);
    if (at > deadline) throw new Error(`${sidecar.name}: not denied within the deadline`);
    // A 1 ms gap: busy polling two sidecars would steal the CPU the revocation needs on 2 cores.
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

async function measurePropagation(sidecars, signer, count) {
  const [origin, ...followers] = sidecars;
  const samples = [];
  const writes = [];
  for (let i = 0; i < count; i++) {
    const sub = `bench-user-${i}-${randomUUID().slice(0, 8)}`;
    const token = await signer.mint({
      issuer: DEV_ISSUER,
      audience: DEV_AUDIENCE,
      sub,
      tenant: 'acme_inc',
      tenantClaim: 'tenant',
      scope: 'tickets.write',
      clientId: 'agent-1',
      ttlSeconds: 600,
    });
    // Verified and cached everywhere first: what is measured is the revocation, not verification.
    for (const s of sidecars) {
      const code = await check(s, token);
      if (code !== 'allow')
        throw new Error(`${s.name}: expected allow before revoking, got ${code}`);
    }
    const deadline = performance.now() + 5000;
    const started = performance.now();
    const pollers = followers.map((s) => firstDeny(s, token, deadline));
    // issued_before a little ahead, so a token minted in this same second is certainly covered.
    await admin(origin, 'POST', '/v1/revocations', {
      kind: 'subject',
      tenant: 'acme_inc',
      sub,
      issued_before: new Date(Date.now() + 2000).toISOString(),
      reason: 'bench',
    });
    writes.push(performance.now() - started);
    for (const at of await Promise.all(pollers)) samples.push(at - started);
  }
  samples.sort((a, b) => a - b);
  writes.sort((a, b) => a - b);
  return {
    revocations: count,
    samples: samples.length,
    p50Ms: percentile(samples, 50),
    p99Ms: percentile(samples, 99),
    maxMs: samples[samples.length - 1],
    adminWriteP50Ms: percentile(writes, 50),
  };
}

/** wrk against /v1/check with one cached token: the revocation check runs on every request. */
async function runWrk(sidecar, token, seconds, dir) {
  const script = join(dir, 'check.lua');
  await writeFile(
    script,
    [
      'wrk.method = "POST"',
      `wrk.body = ${JSON.stringify(ACTION_BODY)}`,
      'wrk.headers["Content-Type"] = "application/json"',
      `wrk.headers["Authorization"] = "Bearer ${token}"`,
    ].join('\n'),
  );
  return new Promise((resolve, reject) => {
    const child = track(
      spawn(
        'wrk',
        [
          '-t1',
          `-c${SETTINGS.connections}`,
          `-d${seconds}s`,
          '--timeout',
          '5s',
          '-s',
          script,
          `${sidecar.http}/v1/check`,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      ),
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c) => (out += c));
    child.once('error', reject);
    child.once('close', (code) => {
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
      const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
      if (code !== 0 || !Number.isFinite(rps)) reject(new Error(`wrk failed (${code})\n${out}`));
      else resolve({ rps, non2xx });
    });
  });
}

/** Writes entries straight into Redis in the store's own format, announced like an admin write. */
async function populate(redisUrl, count) {
  const client = new Redis(redisUrl);
  const now = Date.now();
  const kinds = ['subject', 'client', 'token', 'grant', 'actor', 'tenant'];
  const ids = [];
  try {
    for (let i = 0; i < count; i += 1000) {
      const pipeline = client.pipeline();
      for (let j = i; j < Math.min(count, i + 1000); j++) {
        const kind = kinds[j % kinds.length];
        const entry = {
          id: `rv_bench_${j}`,
          kind,
          // None of them matches the measured token (tenant acme_inc, sub user_8421, agent-1).
          tenant: `bench-tenant-${j % 1000}`,
          ...(kind === 'tenant' ? {} : { value: `bench-${kind}-${j}` }),
          ...(kind === 'token' ? {} : { issuedBeforeMs: now }),
          reason: 'bench',
          createdBy: 'bench',
          createdAtMs: now,
          expiresAtMs: now + 3_600_000,
        };
        ids.push(entry.id);
        pipeline.set(`${KEY_PREFIX}e:${entry.id}`, encodeEntry(entry), 'PX', 3_600_000);
        pipeline.publish(`${KEY_PREFIX}changes`, encodeChange({ op: 'add', entry }));
      }
      await pipeline.exec();
    }
  } finally {
    client.disconnect();
  }
  return ids;
}

async function unpopulate(redisUrl, ids) {
  const client = new Redis(redisUrl);
  try {
    for (let i = 0; i < ids.length; i += 1000) {
      const pipeline = client.pipeline();
      for (const id of ids.slice(i, i + 1000)) {
        pipeline.del(`${KEY_PREFIX}e:${id}`);
        pipeline.publish(`${KEY_PREFIX}changes`, encodeChange({ op: 'del', id }));
      }
      await pipeline.exec();
    }
  } finally {
    client.disconnect();
  }
}

async function entriesHeld(sidecar) {
  const text = await (await fetch(`${sidecar.http}/metrics`)).text();
  return Number(/^mandate_revocation_entries (\d+)/m.exec(text)?.[1] ?? NaN);
}

async function waitForEntries(sidecars, predicate, what) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const counts = await Promise.all(sidecars.map(entriesHeld));
    if (counts.every(predicate)) {
      // Let the debounced snapshot write after a burst of changes finish before measuring.
      await new Promise((r) => setTimeout(r, 3000));
      return counts;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}: ${counts.join(', ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function measureThroughput(sidecars, signer, redisUrl, dir) {
  if (spawnSync('wrk', ['--version']).error) {
    throw new Error('wrk is not installed: `npm run bench` installs it, or apt-get install -y wrk');
  }
  const [target] = sidecars;
  const token = await signer.mint({
    issuer: DEV_ISSUER,
    audience: DEV_AUDIENCE,
    sub: 'user_8421',
    tenant: 'acme_inc',
    tenantClaim: 'tenant',
    scope: 'tickets.write',
    clientId: 'agent-1',
    ttlSeconds: 3600,
  });
  if ((await check(target, token)) !== 'allow') throw new Error('the bench token is not allowed');
  const run = async (label) => {
    await runWrk(target, token, SETTINGS.warmupSeconds, dir);
    const result = await runWrk(target, token, SETTINGS.seconds, dir);
    if (result.non2xx > 0) throw new Error(`${label}: ${result.non2xx} non-2xx answers`);
    if ((await check(target, token)) !== 'allow') throw new Error(`${label}: the token was denied`);
    log(`  ${label}: ${result.rps.toFixed(0)} checks/s`);
    return result.rps;
  };
  const before = await entriesHeld(target);
  const none1 = await run(`${before} entries`);
  const ids = await populate(redisUrl, SETTINGS.entries);
  const held = await waitForEntries(
    sidecars,
    (n) => n >= SETTINGS.entries,
    `${SETTINGS.entries} entries`,
  );
  const full1 = await run(`${held[0]} entries`);
  await unpopulate(redisUrl, ids);
  await waitForEntries(sidecars, (n) => n <= before, 'entries removed');
  const none2 = await run(`${before} entries (again)`);
  await populate(redisUrl, SETTINGS.entries);
  await waitForEntries(sidecars, (n) => n >= SETTINGS.entries, `${SETTINGS.entries} entries`);
  const full2 = await run(`${held[0]} entries (again)`);
  const none = (none1 + none2) / 2;
  const full = (full1 + full2) / 2;
  return {
    entries: SETTINGS.entries,
    noneRps: none,
    fullRps: full,
    ratio: full / none,
    runs: { none: [none1, none2], full: [full1, full2] },
  };
}

/** Runs the whole revocation bench; returns the numbers (and writes bench/out/revocation.json). */
/**
 * Runs the whole revocation bench and returns the numbers (also written to
 * bench/out/revocation.json). Rejects past `SETTINGS.deadlineMs`, with every child stopped.
 */
export async function runRevocationBench() {
  const dir = await mkdtemp(join(tmpdir(), 'mandate-bench-rv-'));
  let timer;
  const deadline = new Promise((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`revocation bench: deadline of ${SETTINGS.deadlineMs} ms passed`)),
      SETTINGS.deadlineMs,
    );
  });
  try {
    return await Promise.race([runIn(dir), deadline]);
  } finally {
    clearTimeout(timer);
    killAll();
    await rm(dir, { recursive: true, force: true });
  }
}

async function runIn(dir) {
  const stateDir = join(dir, 'state');
  await mkdir(stateDir, { recursive: true });
  const redis = await startRedis(dir);
  // One dev key for the whole fleet, created before the sidecars start so none races to create it.
  const signer = await loadOrCreateDevSigner(stateDir);
  const sidecars = [];
  for (let i = 0; i < SETTINGS.sidecars; i++) {
    sidecars.push(
      await startSidecar(`sidecar-${String.fromCharCode(97 + i)}`, dir, stateDir, redis.url),
    );
  }
  log(`revocation bench: ${sidecars.length} sidecars sharing redis on port ${redis.port}`);

  log('check throughput, revocation check on every request (cached token):');
  const throughput = await measureThroughput(sidecars, signer, redis.url, dir);
  log(`propagation: ${SETTINGS.revocations} revocations on sidecar-a, first deny on the others`);
  const propagation = await measurePropagation(sidecars, signer, SETTINGS.revocations);

  const result = {
    settings: SETTINGS,
    targets: TARGETS,
    propagation,
    throughput,
    met: {
      propagation: propagation.p99Ms <= TARGETS.propagationP99Ms,
      throughput: throughput.ratio >= TARGETS.throughputRatio,
    },
  };
  await mkdir(join(ROOT, 'bench', 'out'), { recursive: true });
  await writeFile(
    join(ROOT, 'bench', 'out', 'revocation.json'),
    `${JSON.stringify(result, null, 2)}\n`,
  );
  return result;
}

export function formatRevocationResult(r) {
  const p = r.propagation;
  const t = r.throughput;
  const mark = (ok) => (ok ? 'met' : 'MISSED');
  return [
    'revocation',
    `  propagation (revoke on A → first deny on B/C, ${p.revocations} revocations, ${p.samples} samples):`,
    `    p50 ${p.p50Ms.toFixed(1)} ms, p99 ${p.p99Ms.toFixed(1)} ms, max ${p.maxMs.toFixed(1)} ms` +
      `  (target p99 ≤ ${r.targets.propagationP99Ms} ms: ${mark(r.met.propagation)}); admin write p50 ${p.adminWriteP50Ms.toFixed(1)} ms`,
    `  check throughput with ${t.entries} active entries vs none: ${t.fullRps.toFixed(0)} vs ${t.noneRps.toFixed(0)} checks/s` +
      ` = ${(t.ratio * 100).toFixed(1)} % (target ≥ ${r.targets.throughputRatio * 100} %: ${mark(r.met.throughput)})`,
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.on('SIGINT', () => {
    killAll();
    process.exit(130);
  });
  runRevocationBench().then(
    (result) => process.stdout.write(`${formatRevocationResult(result)}\n`),
    (err) => {
      killAll();
      process.stderr.write(`revocation bench failed: ${err.stack ?? err}\n`);
      process.exitCode = 1;
    },
  );
}
