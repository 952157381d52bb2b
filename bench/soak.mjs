// `npm run soak`: a real sidecar under steady mixed load for minutes, sampling its RSS and event-loop delay to catch leaks.
//
// Load at a fixed rate (SOAK_RATE requests/s, default 100) for SOAK_SECONDS (default 600): HTTP
// checks with one cached token, with a unique token each (remote JWKS issuer, refreshed every 5 s),
// denies (wrong tenant, unknown kid, revoked), Envoy gRPC ext_authz and mandate gRPC checks, plus a
// revocation added every SOAK_REVOKE_EVERY seconds (default 5). Every 10 s the sidecar's /metrics
// (prom-client default metrics) gives RSS, heap and event-loop delay. Passes when RSS at the end
// is less than 5 % above the highest RSS of the warm-up (SOAK_WARMUP_SECONDS, default 120), no
// request failed and SIGTERM exits 0.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { Buffer } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import { clearInterval, clearTimeout, setInterval, setTimeout } from 'node:timers';
import { Metadata, credentials } from '@grpc/grpc-js';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { DEV_AUDIENCE, DEV_ISSUER } from '../dist/config/load.js';
import {
  AuthorizationClient,
  CheckRequest as EnvoyCheckRequest,
} from '../dist/gen/envoy/service/auth/v3/external_auth.js';
import { AuthorizerClient, CheckRequest } from '../dist/gen/mandate/v1/authorizer.js';
import { loadOrCreateDevSigner } from '../dist/token/dev-signer.js';
import { machineInfo } from './cpu.mjs';
import { ROOT, killAll, track } from './servers.mjs';

const { fetch, AbortSignal } = globalThis;
const int = (name, fallback) => Number(process.env[name] ?? fallback);
const SECONDS = int('SOAK_SECONDS', 600);
const RATE = int('SOAK_RATE', 100);
const WARMUP_SECONDS = int('SOAK_WARMUP_SECONDS', Math.min(120, Math.floor(SECONDS / 5)));
/**
 * Bound of the token cache, decision cache and audit ring. Small on purpose: the unique tokens
 * fill them during the warm-up, so growth after it is a leak, not a bounded cache filling up.
 */
const CACHE_ENTRIES = int('SOAK_CACHE_ENTRIES', 500);
const REVOKE_EVERY_SECONDS = int('SOAK_REVOKE_EVERY', 5);
const SAMPLE_SECONDS = 10;
const MAX_RSS_GROWTH = 0.05;
const SOAK_ISSUER = 'https://soak-issuer.example';
const SOAK_AUDIENCE = 'soak-api';

/** Share of each request kind in the mix (sums to 1). */
const MIX = [
  ['http-cached', 0.4],
  ['http-unique', 0.15],
  ['http-deny-tenant', 0.05],
  ['http-deny-unknown-kid', 0.02],
  ['http-revoked', 0.03],
  ['envoy-grpc', 0.25],
  ['grpc-check', 0.1],
];

const log = (text) => process.stderr.write(`${text}\n`);

let stateDir;
/** Set once the harness itself sends SIGTERM. */
let stopping = false;
process.on('exit', () => {
  killAll();
  if (stateDir) spawnSync('rm', ['-rf', stateDir]);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

// ---- the remote issuer: a JWKS endpoint the sidecar refreshes from all along -----------------------

async function startIssuer() {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'soak-1', alg: 'ES256', use: 'sig' };
  let fetches = 0;
  const server = createServer((_req, res) => {
    fetches++;
    res.writeHead(200, { 'content-type': 'application/jwk-set+json' });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  let n = 0;
  const sign = (kid = 'soak-1') => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ tenant: 'acme_inc', scope: 'tickets.write', client_id: 'agent-1' })
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
      .setIssuer(SOAK_ISSUER)
      .setAudience(SOAK_AUDIENCE)
      .setSubject(`soak_user_${n++}`)
      .setJti(`soak-${process.pid}-${n}`)
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(privateKey);
  };
  return {
    url: `http://127.0.0.1:${server.address().port}/jwks.json`,
    sign,
    fetches: () => fetches,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

// ---- the sidecar --------------------------------------------------------------------------------

function startSidecar(configPath) {
  const child = track(
    spawn(process.execPath, ['dist/cli/main.js', 'serve', '--config', configPath], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
      // Its own process group: a signal meant for the terminal's group must not end the run early.
      detached: true,
    }),
  );
  const warnings = [];
  let tail = '';
  return new Promise((resolve, reject) => {
    let buffered = '';
    let ready = false;
    child.once('exit', (code, signal) => {
      if (!ready) reject(new Error(`mandate exited before it was ready (${code})\n${tail}`));
      else if (!stopping)
        log(`soak: the sidecar exited during the run (${signal ?? code})\n${tail}`);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
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
        if (record.level >= 40) warnings.push(record.msg);
        if (record.msg === 'mandate is serving' && !ready) {
          ready = true;
          const port = (text) => Number(text.slice(text.lastIndexOf(':') + 1));
          resolve({
            child,
            warnings,
            http: `http://127.0.0.1:${new URL(record.http).port}`,
            admin: `http://127.0.0.1:${new URL(record.admin).port}`,
            grpc: `127.0.0.1:${port(record.grpc)}`,
          });
        }
      }
    });
  });
}

// ---- requests: each resolves to an error string, or undefined when the answer was the expected one

const CHECK_BODY = (tenant) =>
  JSON.stringify({ action: 'tickets.comment', resource: { type: 'ticket', id: 'T-1' }, tenant });

async function httpCheck(sidecar, token, tenant, expectAllow, expectReason) {
  const res = await fetch(`${sidecar.http}/v1/check`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: CHECK_BODY(tenant),
    signal: AbortSignal.timeout(10_000),
  });
  const body = await res.json();
  if (body.allow !== expectAllow)
    return `expected allow=${expectAllow}, got ${res.status} ${body.reason ?? ''}`;
  const codes = (body.reasons ?? []).map((r) => r.code);
  if (expectReason !== undefined && !codes.includes(expectReason)) {
    return `expected reason ${expectReason}, got ${codes.join(',')}`;
  }
  return undefined;
}

function grpcCall(client, method, request, metadata) {
  return new Promise((resolve) => {
    client[method](request, metadata, { deadline: Date.now() + 10_000 }, (err, res) =>
      resolve(err ? { error: `${method}: ${err.message}` } : { res }),
    );
  });
}

function envoyRequest(token) {
  return EnvoyCheckRequest.fromPartial({
    attributes: {
      source: { address: { socketAddress: { address: '203.0.113.7', portValue: 53122 } } },
      request: {
        http: {
          id: 'soak',
          method: 'GET',
          path: '/v1/contacts/c_42',
          host: 'api.example.com',
          scheme: 'https',
          protocol: 'HTTP/1.1',
          headers: {
            ':authority': 'api.example.com',
            ':method': 'GET',
            ':path': '/v1/contacts/c_42',
            authorization: `Bearer ${token}`,
            'x-tenant': 'acme_inc',
          },
        },
      },
    },
  });
}

// ---- sampling -----------------------------------------------------------------------------------

function gauge(text, name) {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.slice(name.length + 1));
}

async function sampleMetrics(sidecar) {
  const text = await (await fetch(`${sidecar.http}/metrics`)).text();
  return {
    rssMb: gauge(text, 'mandate_process_resident_memory_bytes') / 2 ** 20,
    heapMb: gauge(text, 'mandate_nodejs_heap_size_used_bytes') / 2 ** 20,
    // prom-client resets its event-loop histogram on every scrape: these cover the last 10 s.
    lagP99Ms: gauge(text, 'mandate_nodejs_eventloop_lag_p99_seconds') * 1000,
    lagMaxMs: gauge(text, 'mandate_nodejs_eventloop_lag_max_seconds') * 1000,
  };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

// ---- main ---------------------------------------------------------------------------------------

async function main() {
  stateDir = await mkdtemp(join(tmpdir(), 'mandate-soak-'));
  const issuer = await startIssuer();
  const configPath = join(stateDir, 'mandate.yaml');
  await writeFile(
    configPath,
    `listen: { http: "127.0.0.1:0", grpc: "127.0.0.1:0", admin: "127.0.0.1:0" }
dev: { enabled: true, state_dir: "${stateDir}" }
issuers:
  - issuer: "${SOAK_ISSUER}"
    jwks_uri: "${issuer.url}"
    audiences: ["${SOAK_AUDIENCE}", "${DEV_AUDIENCE}"]
    algorithms: [ES256]
    jwks_refresh_seconds: 5
token: { cache_max_entries: ${CACHE_ENTRIES} }
policies: { dir: "${ROOT}policies", decision_cache_size: ${CACHE_ENTRIES} }
audit: { sink: stdout, ring_size: ${CACHE_ENTRIES} }
envoy:
  tenant_header: x-tenant
  routes:
    - { method: GET, path: "/v1/contacts/{id}", action: contacts.read, resource: { type: contact, id: "{id}" } }
`,
  );
  const signer = await loadOrCreateDevSigner(stateDir);
  const mintDev = (sub) =>
    signer.mint({
      issuer: DEV_ISSUER,
      audience: DEV_AUDIENCE,
      sub,
      tenant: 'acme_inc',
      scope: 'contacts.read tickets.write',
      clientId: 'agent-1',
      ttlSeconds: 3 * 3600,
    });
  const sidecar = await startSidecar(configPath);
  const adminToken = (await readFile(join(stateDir, 'admin-token'), 'utf8')).trim();
  const cached = await mintDev('user_8421');
  const grpcTarget = sidecar.grpc;
  const envoy = new AuthorizationClient(grpcTarget, credentials.createInsecure());
  const authorizer = new AuthorizerClient(grpcTarget, credentials.createInsecure());
  const bearer = new Metadata();
  bearer.set('authorization', `Bearer ${cached}`);

  /** Tokens revoked so far (by jti) that the load keeps presenting: each must be denied. */
  const revoked = [];
  async function revokeOne() {
    const token = await issuer.sign();
    const jti = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).jti;
    const res = await fetch(`${sidecar.admin}/v1/revocations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
      body: JSON.stringify({ kind: 'token', jti, reason: 'soak' }),
      signal: AbortSignal.timeout(10_000),
    });
    await res.arrayBuffer();
    if (res.status !== 201) return `revocation answered ${res.status}`;
    revoked.push(token);
    return undefined;
  }

  const kinds = {
    'http-cached': () => httpCheck(sidecar, cached, 'acme_inc', true),
    'http-unique': async () => httpCheck(sidecar, await issuer.sign(), 'acme_inc', true),
    'http-deny-tenant': () => httpCheck(sidecar, cached, 'globex', false),
    'http-deny-unknown-kid': async () =>
      httpCheck(sidecar, await issuer.sign(`nope-${Math.random()}`), 'acme_inc', false),
    'http-revoked': () =>
      revoked.length === 0
        ? httpCheck(sidecar, cached, 'acme_inc', true)
        : httpCheck(
            sidecar,
            revoked[(Math.random() * revoked.length) | 0],
            'acme_inc',
            false,
            'revoked',
          ),
    'envoy-grpc': async () => {
      const { error, res } = await grpcCall(envoy, 'check', envoyRequest(cached), new Metadata());
      if (error) return error;
      return res.status?.code === 0 ? undefined : `envoy check denied (${res.status?.code})`;
    },
    'grpc-check': async () => {
      const request = CheckRequest.fromPartial({
        action: 'tickets.comment',
        resource: { type: 'ticket', id: 'T-1' },
        tenant: 'acme_inc',
      });
      const { error, res } = await grpcCall(authorizer, 'check', request, bearer);
      if (error) return error;
      return res.allow === true ? undefined : `grpc check denied (${res.reason})`;
    },
  };
  const cumulative = [];
  let acc = 0;
  for (const [name, share] of MIX) cumulative.push([name, (acc += share)]);
  const pick = () => {
    const r = Math.random() * acc;
    return cumulative.find(([, c]) => r < c)[0];
  };

  // Sanity first: every kind answers as expected once before the clock starts.
  for (const [name, run] of Object.entries(kinds)) {
    const error = await run();
    if (error) throw new Error(`sanity ${name}: ${error}`);
  }

  log(
    `soak: ${SECONDS} s at ${RATE} req/s (warm-up ${WARMUP_SECONDS} s), sidecar pid ${sidecar.child.pid}`,
  );
  const window = { sent: 0, done: 0, errors: 0, latencies: [] };
  const totals = { sent: 0, done: 0, errors: 0, revocations: 0 };
  const errorSamples = new Map();
  let inFlight = 0;
  const fire = (name, run) => {
    const started = performance.now();
    inFlight++;
    window.sent++;
    totals.sent++;
    const settle = (error) => {
      inFlight--;
      window.done++;
      totals.done++;
      window.latencies.push(performance.now() - started);
      if (error) {
        window.errors++;
        totals.errors++;
        // grpc-js appends timings to a deadline message: cut them so equal errors count together.
        const key = `${name}: ${String(error).split(' after ')[0].slice(0, 120)}`;
        errorSamples.set(key, (errorSamples.get(key) ?? 0) + 1);
      }
    };
    run().then(settle, (err) => settle(err?.message ?? String(err)));
  };

  // Fixed rate: every 10 ms the requests due by now are sent, whatever the answers' latency.
  const t0 = performance.now();
  let due = 0;
  const ticker = setInterval(() => {
    const target = Math.floor(((performance.now() - t0) / 1000) * RATE);
    for (; due < target; due++) {
      const name = pick();
      fire(name, kinds[name]);
    }
  }, 10);
  const revoker = setInterval(() => {
    totals.revocations++;
    fire('revocation', revokeOne);
  }, REVOKE_EVERY_SECONDS * 1000);

  const rows = [];
  const header =
    't (s) | sent | errors | p99 ms | RSS MB | heap MB | loop p99 ms | loop max ms | in flight';
  log(header);
  for (let t = SAMPLE_SECONDS; t <= SECONDS; t += SAMPLE_SECONDS) {
    await new Promise((r) => setTimeout(r, t0 + t * 1000 - performance.now()));
    let m;
    try {
      m = await sampleMetrics(sidecar);
    } catch (err) {
      throw new Error(`cannot scrape the sidecar's /metrics: ${err.cause?.code ?? err.message}`);
    }
    const lat = window.latencies.sort((a, b) => a - b);
    const row = {
      t,
      sent: window.sent,
      errors: window.errors,
      p99: percentile(lat, 99),
      ...m,
      inFlight,
    };
    rows.push(row);
    log(
      [
        t,
        row.sent,
        row.errors,
        row.p99.toFixed(1),
        m.rssMb.toFixed(1),
        m.heapMb.toFixed(1),
        m.lagP99Ms.toFixed(1),
        m.lagMaxMs.toFixed(1),
        inFlight,
      ].join(' | '),
    );
    window.sent = 0;
    window.errors = 0;
    window.latencies = [];
  }
  clearInterval(ticker);
  clearInterval(revoker);
  const drainUntil = Date.now() + 15_000;
  while (inFlight > 0 && Date.now() < drainUntil) await new Promise((r) => setTimeout(r, 50));
  envoy.close();
  authorizer.close();

  // SIGTERM must end the sidecar cleanly and promptly, even after a long run.
  const stopStarted = Date.now();
  stopping = true;
  const exit = await new Promise((resolve) => {
    const timer = setTimeout(() => sidecar.child.kill('SIGKILL'), 20_000);
    sidecar.child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, ms: Date.now() - stopStarted });
    });
    sidecar.child.kill('SIGTERM');
  });
  issuer.close();

  // RSS saw-tooths: a major GC can hand memory back to the OS right after the warm-up, and a
  // sample at that trough would make the climb back to the same level look like a leak. So the
  // base is the highest RSS the warm-up reached, and the end is the median of the last 3 samples.
  const warmup = rows.filter((r) => r.t <= WARMUP_SECONDS);
  const afterWarmup = rows.filter((r) => r.t > WARMUP_SECONDS);
  const base = Math.max(...warmup.map((r) => r.rssMb));
  const end = rows
    .slice(-3)
    .map((r) => r.rssMb)
    .sort((a, b) => a - b)[1];
  const peak = Math.max(...afterWarmup.map((r) => r.rssMb));
  const growth = (end - base) / base;
  // Heap in use, highest per quarter of the measured part: a leak climbs from quarter to quarter.
  const quarter = Math.ceil(afterWarmup.length / 4);
  const heapPeaks = [0, 1, 2, 3]
    .map((q) => afterWarmup.slice(q * quarter, (q + 1) * quarter))
    .filter((part) => part.length > 0)
    .map((part) => Number(Math.max(...part.map((r) => r.heapMb)).toFixed(1)));
  const lagP99 = afterWarmup.map((r) => r.lagP99Ms).sort((a, b) => a - b);
  const summary = {
    seconds: SECONDS,
    rate: RATE,
    requests: totals.done,
    errors: totals.errors,
    revocations: totals.revocations,
    jwksFetches: issuer.fetches(),
    rssWarmupPeakMb: Number(base.toFixed(1)),
    rssEndMb: Number(end.toFixed(1)),
    rssPeakAfterWarmupMb: Number(peak.toFixed(1)),
    rssGrowthPct: Number((growth * 100).toFixed(2)),
    heapUsedPeakPerQuarterMb: heapPeaks,
    loopP99MedianMs: Number(percentile(lagP99, 50).toFixed(1)),
    loopP99WorstMs: Number(Math.max(...lagP99).toFixed(1)),
    loopMaxWorstMs: Number(Math.max(...afterWarmup.map((r) => r.lagMaxMs)).toFixed(1)),
    sidecarWarnings: sidecar.warnings.length,
    sigterm: exit,
    machine: machineInfo(),
  };
  const failures = [];
  if (totals.errors > 0) failures.push(`${totals.errors} failed requests`);
  if (growth >= MAX_RSS_GROWTH) failures.push(`RSS grew ${summary.rssGrowthPct} % after warm-up`);
  if (exit.code !== 0) failures.push(`SIGTERM exit ${exit.code ?? exit.signal}`);
  for (const [key, n] of errorSamples) log(`  error x${n}: ${key}`);
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  log(failures.length === 0 ? 'soak: PASS' : `soak: FAIL (${failures.join('; ')})`);
  process.exitCode = failures.length === 0 ? 0 : 1;
}

main().catch((err) => {
  log(`soak: ${err.stack ?? err}`);
  process.exit(1);
});
