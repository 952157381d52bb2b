// `npm run bench`: mandate's Check API under load beside bare fastify / grpc-js baselines, plus the ES256 verify cost.
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clearTimeout } from 'node:timers';
import { parseArgs } from 'node:util';
import { Buffer } from 'node:buffer';
import { Metadata, credentials } from '@grpc/grpc-js';
import { DEV_AUDIENCE, DEV_ISSUER } from '../dist/config/load.js';
import { AuthorizerClient, CheckRequest } from '../dist/gen/mandate/v1/authorizer.js';
import { loadOrCreateDevSigner } from '../dist/token/dev-signer.js';
import { machineInfo, sampleBackgroundLoad, startCpuAccount } from './cpu.mjs';
import { fmtInt, fmtUs, table } from './format.mjs';
import { mergeHistogram, percentileOf, runH2load, runWrk } from './load.mjs';
import { formatTop, topSelfTime } from './profile-top.mjs';
import { ROOT, killAll, startBaseline, startMandate, track } from './servers.mjs';
import { ensureLoadTools } from './tools.mjs';

const { fetch } = globalThis;

// Settings: the same for every baseline and mandate run. Override with env for exploration.
const int = (name, fallback) => Number(process.env[name] ?? fallback);
const SETTINGS = {
  seconds: int('BENCH_SECONDS', 10),
  rounds: int('BENCH_ROUNDS', 5),
  warmupSeconds: int('BENCH_WARMUP_SECONDS', 2),
  wrkThreads: int('BENCH_WRK_THREADS', 1),
  wrkConnections: int('BENCH_WRK_CONNECTIONS', 32),
  h2Threads: 1,
  h2Clients: int('BENCH_H2LOAD_CLIENTS', 8),
  h2Streams: int('BENCH_H2LOAD_STREAMS', 16),
  uniqueTokens: int('BENCH_UNIQUE_TOKENS', 60_000),
  verifyTokens: int('BENCH_VERIFY_TOKENS', 5_000),
};
/**
 * Seconds of one row's slice in each round. wrk refuses a fractional duration (`-d2.5s`), and
 * h2load's `-D` is whole seconds too, so BENCH_SECONDS is split into whole seconds per round (at
 * least 1): the time measured is BENCH_ROUNDS × this, which the report prints, and may differ
 * from BENCH_SECONDS when that is not a multiple of BENCH_ROUNDS.
 */
const SLICE_SECONDS = Math.max(1, Math.round(SETTINGS.seconds / SETTINGS.rounds));
/** The warm-up is one wrk/h2load run: whole seconds as well. */
const WARMUP_SECONDS = Math.max(1, Math.round(SETTINGS.warmupSeconds));
/** The whole bench is aborted past this, whatever hangs. */
const DEADLINE_MS = int('BENCH_DEADLINE_SECONDS', 420) * 1000;

const TARGET_THROUGHPUT = 0.75;
const TARGET_VERIFY_RATIO = 1.5;

const ACTION = 'tickets.comment';
const HTTP_BODY = JSON.stringify({
  action: ACTION,
  resource: { type: 'ticket', id: 'T-1' },
  tenant: 'acme_inc',
});
const GRPC_REQUEST = {
  token: '',
  action: ACTION,
  resource: { type: 'ticket', id: 'T-1', attributes: undefined },
  tenant: 'acme_inc',
  context: undefined,
  requestId: '',
};

const { values: flags } = parseArgs({
  options: { 'cpu-prof': { type: 'boolean', default: false } },
});
const OUT = join(ROOT, 'bench', 'out');

const log = (text) => process.stderr.write(`${text}\n`);

// ---- cleanup: every child dies with us, however we leave ---------------------------------------

let stateDir;
const cleanupSync = () => {
  killAll();
  if (stateDir) spawnSync('rm', ['-rf', stateDir]);
};
process.on('exit', cleanupSync);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    log(`bench: ${signal}, stopping`);
    process.exit(130);
  });
}
const deadline = setTimeout(() => {
  log(`bench: not finished after ${DEADLINE_MS / 1000} s, aborting`);
  process.exit(1);
}, DEADLINE_MS);
deadline.unref();

// ---- tokens and request bodies ----------------------------------------------------------------

async function prepareTokens(dir) {
  const signer = await loadOrCreateDevSigner(dir);
  const mint = (sub) =>
    signer.mint({
      issuer: DEV_ISSUER,
      audience: DEV_AUDIENCE,
      sub,
      tenant: 'acme_inc',
      scope: 'contacts.read tickets.write',
      clientId: 'agent-1',
      ttlSeconds: 3600,
    });
  const cached = await mint('user_8421');
  const unique = [];
  for (let i = 0; i < SETTINGS.uniqueTokens; i += 1000) {
    const n = Math.min(1000, SETTINGS.uniqueTokens - i);
    unique.push(...(await Promise.all(Array.from({ length: n }, (_, j) => mint(`user_${i + j}`)))));
  }
  const uniqueFile = join(dir, 'unique-tokens.txt');
  await writeFile(uniqueFile, `${unique.join('\n')}\n`);
  // The gRPC frame: 1 byte "not compressed", 4 bytes big-endian length, then the message.
  const message = CheckRequest.encode(GRPC_REQUEST).finish();
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  Buffer.from(message).copy(frame, 5);
  const grpcBodyFile = join(dir, 'check-request.grpc');
  await writeFile(grpcBodyFile, frame);
  return { cached, sanity: await mint('user_sanity'), uniqueFile, grpcBodyFile };
}

// ---- sanity calls: prove the load hits the real allow path before measuring it ------------------

async function httpSanity(server, token, { mandate }) {
  const res = await fetch(`http://${server.http.host}:${server.http.port}/v1/check`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: HTTP_BODY,
  });
  const body = await res.json();
  if (res.status !== 200 || body.allow !== true) {
    throw new Error(
      `${server.name}: sanity check was not an allow: ${res.status} ${JSON.stringify(body)}`,
    );
  }
  if (mandate && !body.decided_by) {
    throw new Error(
      `${server.name}: sanity allow was not decided by policy: ${JSON.stringify(body)}`,
    );
  }
}

function grpcSanity(server, token, { mandate }) {
  const client = new AuthorizerClient(
    `${server.grpc.host}:${server.grpc.port}`,
    credentials.createInsecure(),
  );
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  return new Promise((resolve, reject) => {
    client.check(GRPC_REQUEST, metadata, { deadline: Date.now() + 10_000 }, (err, res) => {
      client.close();
      if (err) reject(new Error(`${server.name}: gRPC sanity call failed: ${err.message}`));
      else if (res.allow !== true || (mandate && !res.decidedBy))
        reject(
          new Error(`${server.name}: gRPC sanity call was not an allow: ${JSON.stringify(res)}`),
        );
      else resolve();
    });
  });
}

// ---- metrics: what the sidecar itself counted during the measured run ---------------------------

async function scrape(server) {
  const res = await fetch(`http://${server.http.host}:${server.http.port}/metrics`);
  return res.text();
}

/** Sum of a counter's series whose labels include every `labels` pair. */
function counter(text, name, labels) {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.indexOf('}');
    const labelText = line.slice(name.length + 1, close);
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) {
      sum += Number(line.slice(close + 1).trim());
    }
  }
  return sum;
}

function metricDeltas(before, after, transport) {
  const d = (name, labels) => counter(after, name, labels) - counter(before, name, labels);
  return {
    allow: d('mandate_decisions_total', { result: 'allow', transport }),
    deny: d('mandate_decisions_total', { result: 'deny', transport }),
    hit: d('mandate_token_cache_total', { result: 'hit' }),
    miss: d('mandate_token_cache_total', { result: 'miss' }),
    policyHit: d('mandate_policy_cache_total', { result: 'hit' }),
    policyMiss: d('mandate_policy_cache_total', { result: 'miss' }),
  };
}

// ---- scenarios: started together per transport, measured in alternating slices ------------------

/**
 * Starts a scenario's server, proves the request is answered as expected (an allow decided by
 * policy), and warms it up. Returns the running state that measured slices add to.
 */
async function prepare(spec, ctx) {
  const profileDir = flags['cpu-prof'] && spec.mandate ? join(OUT, 'profiles', spec.id) : undefined;
  if (profileDir) {
    await rm(profileDir, { recursive: true, force: true });
    await mkdir(profileDir, { recursive: true });
  }
  const server = spec.mandate
    ? await startMandate({
        stateDir: ctx.stateDir,
        auditSink: spec.audit ?? 'stdout',
        name: `mandate (${spec.id})`,
        nodeArgs: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
      })
    : await startBaseline(spec.baseline);
  if (spec.transport === 'http') await httpSanity(server, ctx.tokens.sanity, spec);
  else await grpcSanity(server, ctx.tokens.sanity, spec);
  const state = {
    spec,
    server,
    profileDir,
    offset: 0,
    requests: 0,
    seconds: 0,
    histogram: new Map(),
    errors: {},
    dataBytes: 0,
    cpu: { wallMs: 0, server: 0, loadgen: 0, bench: 0, other: 0 },
    raw: [],
    /** req/s of each round's slice, in round order, to pair with the baseline's slice of that round. */
    roundRps: [],
  };
  await spec.load(state, WARMUP_SECONDS, 'warmup');
  // The unique-token run continues from the middle of the file: the warm-up's tokens come back only
  // after more distinct tokens than the cache (10 000 entries) holds.
  state.offset = Math.floor(SETTINGS.uniqueTokens / 2);
  state.metricsBefore = spec.mandate ? await scrape(server) : undefined;
  return state;
}

/** One measured slice of `seconds`, with CPU accounting, added to the scenario's totals. */
async function slice(state, seconds) {
  const account = startCpuAccount(state.server.pid);
  const result = await state.spec.load(state, seconds, 'measure');
  const cpu = account.finish();
  state.requests += result.requests;
  state.seconds += result.seconds;
  mergeHistogram(state.histogram, result.histogram);
  for (const [k, v] of Object.entries(result.errorCounts))
    state.errors[k] = (state.errors[k] ?? 0) + v;
  state.dataBytes += result.dataBytes ?? 0;
  if (cpu) for (const k of Object.keys(state.cpu)) state.cpu[k] += cpu[k];
  else state.cpu = undefined;
  state.raw.push(result.raw);
  state.roundRps.push(result.requests / result.seconds);
  state.offset += result.requests + SETTINGS.wrkConnections;
}

/** Totals, percentiles and the checks of one scenario; stops its server. */
async function finish(state, ctx) {
  const { spec, server } = state;
  try {
    const checks = [];
    const check = (ok, text) => checks.push({ ok, text });
    const errorText = Object.entries(state.errors)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    check(
      Object.values(state.errors).every((v) => v === 0),
      `load generator errors: ${errorText}`,
    );
    if (spec.transport === 'grpc') {
      const perRequest = state.requests > 0 ? state.dataBytes / state.requests : 0;
      check(
        perRequest >= 20,
        `gRPC responses carry a message (${perRequest.toFixed(0)} data bytes/request)`,
      );
    }
    if (spec.mandate) {
      const m = metricDeltas(state.metricsBefore, await scrape(server), spec.transport);
      // Requests in flight when a slice (or the warm-up) ended were decided but not counted by the
      // load generator.
      const inFlight =
        (SETTINGS.rounds + 1) *
        (spec.transport === 'http'
          ? SETTINGS.wrkConnections
          : SETTINGS.h2Clients * SETTINGS.h2Streams);
      check(
        m.allow >= state.requests && m.allow <= state.requests + inFlight && m.deny === 0,
        `mandate counted ${m.allow} allow / ${m.deny} deny decisions for ${state.requests} requests`,
      );
      const want = spec.expectCache === 'miss' ? m.miss : m.hit;
      const other = spec.expectCache === 'miss' ? m.hit : m.miss;
      check(
        want === m.allow && other === 0,
        `token cache: ${m.miss} misses, ${m.hit} hits (expected every request a ${spec.expectCache})`,
      );
      // A cached token asking one question again and again is answered from the decision cache;
      // new tokens or new resources make the policy run. Either way, the row must measure what it says.
      const expectPolicy = spec.expectPolicy ?? (spec.expectCache === 'hit' ? 'hit' : 'miss');
      const policyWant = expectPolicy === 'hit' ? m.policyHit : m.policyMiss;
      check(
        policyWant >= m.allow - inFlight,
        `decision cache: ${m.policyMiss} misses, ${m.policyHit} hits (expected nearly every request a ${expectPolicy})`,
      );
    }
    await writeFile(join(OUT, `${spec.id}.txt`), state.raw.join('\n'));
    return {
      id: spec.id,
      label: spec.label,
      requests: state.requests,
      seconds: state.seconds,
      rps: state.requests / state.seconds,
      p50Us: percentileOf(state.histogram, 50),
      p99Us: percentileOf(state.histogram, 99),
      cpu: state.cpu,
      cpuUsPerRequest: state.cpu ? (state.cpu.server * 1000) / state.requests : undefined,
      roundRps: state.roundRps,
      checks,
    };
  } finally {
    await server.stop();
    if (state.profileDir) {
      const files = (await readdir(state.profileDir)).filter((f) => f.endsWith('.cpuprofile'));
      if (files.length > 0)
        ctx.profiles.push({ id: spec.id, path: join(state.profileDir, files[0]) });
    }
  }
}

/**
 * Runs a group of scenarios (a baseline and the mandate rows compared with it): all servers up at
 * once (an idle one costs nothing), then `rounds` rounds in which each gets one slice, in an order
 * that rotates, so a change in other load on the machine falls on all of them alike.
 */
async function runGroup(specs, ctx) {
  const states = [];
  try {
    for (const spec of specs) {
      log(`- starting ${spec.label}`);
      states.push(await prepare(spec, ctx));
    }
    for (let round = 0; round < SETTINGS.rounds; round++) {
      log(`  round ${round + 1}/${SETTINGS.rounds}`);
      for (let i = 0; i < states.length; i++) {
        await slice(states[(round + i) % states.length], SLICE_SECONDS);
      }
    }
  } catch (err) {
    await Promise.all(states.map((s) => s.server.stop()));
    throw err;
  }
  const results = [];
  for (const state of states) {
    const r = await finish(state, ctx);
    log(
      `  ${r.label}: ${fmtInt(r.rps)} req/s, p50 ${fmtUs(r.p50Us)}, p99 ${fmtUs(r.p99Us)}` +
        (r.cpu ? `, other load ${(r.cpu.other / r.cpu.wallMs).toFixed(2)} cores` : ''),
    );
    for (const c of r.checks) if (!c.ok) log(`  CHECK FAILED: ${c.text}`);
    results.push(r);
  }
  return results;
}

// ---- load definitions ---------------------------------------------------------------------------

function httpLoad(ctx, { unique, resources }) {
  return (state, seconds, phase) =>
    runWrk({
      url: `http://${state.server.http.host}:${state.server.http.port}/v1/check`,
      threads: SETTINGS.wrkThreads,
      connections: SETTINGS.wrkConnections,
      seconds,
      ...(resources
        ? { script: 'wrk-resources.lua', scriptArgs: [ctx.tokens.cached, ACTION] }
        : unique
          ? {
              script: 'wrk-unique.lua',
              scriptArgs: [
                ctx.tokens.uniqueFile,
                HTTP_BODY,
                String(phase === 'warmup' ? 0 : state.offset % SETTINGS.uniqueTokens),
                String(SETTINGS.wrkThreads),
              ],
            }
          : { script: 'wrk-check.lua', scriptArgs: [ctx.tokens.cached, HTTP_BODY] }),
    });
}

function grpcLoad(ctx) {
  return (state, seconds, phase) =>
    runH2load({
      url: `http://${state.server.grpc.host}:${state.server.grpc.port}/mandate.v1.Authorizer/Check`,
      bodyFile: ctx.tokens.grpcBodyFile,
      headers: [
        'content-type: application/grpc',
        'te: trailers',
        `authorization: Bearer ${ctx.tokens.cached}`,
      ],
      threads: SETTINGS.h2Threads,
      clients: SETTINGS.h2Clients,
      streams: SETTINGS.h2Streams,
      seconds,
      ...(phase === 'measure' ? { logFile: join(ctx.stateDir, 'h2load.log') } : {}),
    });
}

// ---- the in-process verify microbenchmark, in its own process -----------------------------------

function verifyCost() {
  log('- ES256 verify cost, in-process: jose jwtVerify vs mandate verifier');
  return new Promise((resolve, reject) => {
    const child = track(
      spawn(
        process.execPath,
        ['bench/verify-cost.mjs', '--json', '--tokens', String(SETTINGS.verifyTokens)],
        { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
      ),
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c) => (out += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`bench/verify-cost.mjs failed (${code})`));
      const result = JSON.parse(out.trim().split('\n').pop());
      log(
        `  jose ${result.jose.wallUs.toFixed(1)} µs/op, mandate ${result.mandate.wallUs.toFixed(1)} µs/op`,
      );
      resolve(result);
    });
  });
}

// ---- report -------------------------------------------------------------------------------------

function report(info, tools, background, results, verify) {
  const by = Object.fromEntries(results.map((r) => [r.id, r]));
  const invalid = (r) => r.checks.some((c) => !c.ok);
  const verdict = (r, ratio, target) => {
    if (invalid(r)) return 'INVALID';
    if (target === undefined) return '';
    return ratio >= target ? 'PASS' : 'FAIL';
  };
  const row = (r, base, target) => {
    const overall = base ? r.rps / base.rps : undefined;
    const ratio = base ? pairedRatio(r, base).median : undefined;
    const cpuRatio =
      base && r.cpuUsPerRequest && base.cpuUsPerRequest
        ? `${Math.round((100 * base.cpuUsPerRequest) / r.cpuUsPerRequest)}%`
        : '';
    return [
      r.label,
      fmtInt(r.rps),
      fmtUs(r.p50Us),
      fmtUs(r.p99Us),
      r.cpuUsPerRequest === undefined ? 'n/a' : `${Math.round(r.cpuUsPerRequest)}us`,
      r.cpu ? (r.cpu.other / r.cpu.wallMs).toFixed(2) : 'n/a',
      base ? `${fmtInt(base.rps)} ${base.short}` : '',
      overall === undefined ? '' : `${Math.round(overall * 100)}%`,
      ratio === undefined ? '' : `${Math.round(ratio * 100)}%`,
      cpuRatio,
      target === undefined ? (base ? 'info' : '') : `>= ${target * 100}%`,
      base ? verdict(r, ratio, target) : invalid(r) ? 'INVALID' : '',
    ];
  };
  const fastify = { ...by['baseline-fastify'], short: 'fastify' };
  const grpcjs = { ...by['baseline-grpc'], short: 'grpc-js' };
  const rows = [
    row(by['http-cached'], fastify, TARGET_THROUGHPUT),
    row(by['http-cached-audit-none'], fastify),
    row(by['http-cached-resources'], fastify),
    row(by['http-unique'], fastify),
    row(by['grpc-cached'], grpcjs, TARGET_THROUGHPUT),
    row(by['grpc-cached-audit-none'], grpcjs),
    row(by['baseline-fastify']),
    row(by['baseline-grpc']),
  ];

  const verifyPass = verify.ratio <= TARGET_VERIFY_RATIO;
  const extraUs = by['http-unique'].cpuUsPerRequest - by['http-cached'].cpuUsPerRequest;
  const lines = [
    `mandate bench, ${new Date().toISOString()}, ${gitDescription()}`,
    `machine: nproc ${info.nproc}, ${info.model}, Node ${info.node}, ${tools.wrk}, ${tools.h2load}`,
    `load from other processes: ${background === undefined ? 'n/a' : `${background.toFixed(2)} cores busy`} in the 2 s before start; loadavg ${info.loadavg.join(' ')}`,
    `load: HTTP wrk -t${SETTINGS.wrkThreads} -c${SETTINGS.wrkConnections} (HTTP/1.1 keep-alive); gRPC h2load -t${SETTINGS.h2Threads} -c${SETTINGS.h2Clients} -m${SETTINGS.h2Streams} (h2c);` +
      ` per row ${WARMUP_SECONDS} s warm-up, then ${SLICE_SECONDS * SETTINGS.rounds} s measured in ${SETTINGS.rounds} slices of ${SLICE_SECONDS} s taking turns with the other rows of its transport;` +
      ' server and load generator share the cores, nothing pinned',
    '',
    table(
      [
        'scenario',
        'req/s',
        'p50',
        'p99',
        'CPU/req',
        'other',
        'baseline req/s',
        'ratio',
        'round ratio',
        'CPU ratio',
        'target',
        'result',
      ],
      rows,
    ),
    '',
    'ratio: req/s over the baseline req/s, all slices together. round ratio: the median over the rounds',
    "of this row's slice req/s over the baseline's slice req/s in the same round (the target): each pair",
    'ran within seconds of each other, so a burst of other load on the machine spoils one pair, not the',
    'figure. CPU/req: server process CPU time per request,',
    'all threads. CPU ratio: baseline CPU/req over this CPU/req, the ratio at equal CPU, which other',
    'load disturbs less. other: cores busy during the measured run with anything but the server, the',
    'load generator and this script (other processes, kernel, hypervisor steal).',
    'Audit: stdout to /dev/null (the default sink) unless the row says none.',
    '',
    table(
      [
        'ES256 verify, distinct tokens, in-process',
        'jose jwtVerify',
        'mandate verify',
        'ratio',
        'target',
        'result',
      ],
      [
        [
          `${verify.tokens} tokens, best of ${verify.rounds} rounds`,
          `${verify.jose.wallUs.toFixed(1)}us/op`,
          `${verify.mandate.wallUs.toFixed(1)}us/op`,
          `${verify.ratio.toFixed(2)}x`,
          `<= ${TARGET_VERIFY_RATIO.toFixed(2)}x`,
          verifyPass ? 'PASS' : 'FAIL',
        ],
      ],
    ),
    '',
    `unique-token HTTP path, end to end: +${Math.round(extraUs)}us server CPU per request over the cached path` +
      ` = ${(extraUs / verify.jose.cpuUs).toFixed(2)}x jose jwtVerify CPU (${verify.jose.cpuUs.toFixed(1)}us/op)`,
    '',
    'round ratios (slice req/s over the baseline slice req/s, round by round):',
    ...[
      ['http-cached', fastify],
      ['http-cached-audit-none', fastify],
      ['grpc-cached', grpcjs],
      ['grpc-cached-audit-none', grpcjs],
    ].map(
      ([id, base]) =>
        `  ${by[id].label}: ${pairedRatio(by[id], base)
          .ratios.map((x) => `${Math.round(x * 100)}%`)
          .join(' ')}`,
    ),
    '',
    'checks:',
    ...results.flatMap((r) =>
      r.checks.map((c) => `  ${c.ok ? 'ok  ' : 'FAIL'} ${r.label}: ${c.text}`),
    ),
  ];
  return lines.join('\n');
}

/** Round-by-round ratios of a row's slices to its baseline's, and their median. */
function pairedRatio(r, base) {
  const ratios = r.roundRps.map((rps, i) => rps / base.roundRps[i]);
  const sorted = [...ratios].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { ratios, median };
}

function gitDescription() {
  const rev = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  if (rev.status !== 0) return 'not a git checkout';
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return `commit ${rev.stdout.trim()}${dirty.stdout.trim() ? ' + uncommitted changes in src/' : ''}`;
}

// ---- main ---------------------------------------------------------------------------------------

async function main() {
  const tools = ensureLoadTools();
  await mkdir(OUT, { recursive: true });
  const info = machineInfo();
  const background = await sampleBackgroundLoad(2000);
  if (SLICE_SECONDS * SETTINGS.rounds !== SETTINGS.seconds) {
    log(
      `bench: BENCH_SECONDS=${SETTINGS.seconds} is not a whole number of seconds per round;` +
        ` measuring ${SETTINGS.rounds} rounds of ${SLICE_SECONDS} s`,
    );
  }
  stateDir = await mkdtemp(join(tmpdir(), 'mandate-bench-'));
  log(`bench: minting ${SETTINGS.uniqueTokens} dev tokens`);
  const ctx = { stateDir, tokens: await prepareTokens(stateDir), profiles: [] };

  const http = (unique, resources = false) => ({
    transport: 'http',
    load: httpLoad(ctx, { unique, resources }),
  });
  const grpc = () => ({ transport: 'grpc', load: grpcLoad(ctx) });
  const specs = [
    {
      id: 'baseline-fastify',
      label: 'bare fastify route',
      baseline: 'baseline-fastify.mjs',
      ...http(false),
    },
    {
      id: 'http-cached',
      label: 'HTTP check, cached token',
      mandate: true,
      expectCache: 'hit',
      ...http(false),
    },
    {
      id: 'http-cached-audit-none',
      label: 'HTTP check, cached token, audit none',
      mandate: true,
      audit: 'none',
      expectCache: 'hit',
      ...http(false),
    },
    {
      id: 'http-cached-resources',
      label: 'HTTP check, cached token, new resource each',
      mandate: true,
      expectCache: 'hit',
      expectPolicy: 'miss',
      ...http(false, true),
    },
    {
      id: 'http-unique',
      label: 'HTTP check, unique tokens',
      mandate: true,
      expectCache: 'miss',
      ...http(true),
    },
    {
      id: 'baseline-grpc',
      label: 'bare grpc-js handler',
      baseline: 'baseline-grpc.mjs',
      ...grpc(),
    },
    {
      id: 'grpc-cached',
      label: 'gRPC check, cached token',
      mandate: true,
      expectCache: 'hit',
      ...grpc(),
    },
    {
      id: 'grpc-cached-audit-none',
      label: 'gRPC check, cached token, audit none',
      mandate: true,
      audit: 'none',
      expectCache: 'hit',
      ...grpc(),
    },
  ];
  // BENCH_ONLY=http or grpc runs one transport's group (for exploring; the report wants both).
  const only = process.env.BENCH_ONLY;
  const results = [];
  for (const transport of ['http', 'grpc']) {
    if (only !== undefined && only !== transport) continue;
    results.push(
      ...(await runGroup(
        specs.filter((s) => s.transport === transport),
        ctx,
      )),
    );
  }
  if (only !== undefined) {
    process.stdout.write(
      `${results.map((r) => `${r.label}: ${Math.round(r.rps)} req/s, ${Math.round(r.cpuUsPerRequest ?? 0)}us CPU/req`).join('\n')}\n`,
    );
    for (const p of ctx.profiles) {
      process.stdout.write(`\nCPU profile of mandate, ${p.id} (${p.path}):\n`);
      process.stdout.write(`${formatTop(await topSelfTime(p.path, 30))}\n`);
    }
    return;
  }
  const verify = await verifyCost();

  const text = report(info, tools, background, results, verify);
  process.stdout.write(`\n${text}\n`);
  await writeFile(join(OUT, 'results.txt'), `${text}\n`);
  await writeFile(
    join(OUT, 'results.json'),
    `${JSON.stringify({ info, tools, background, settings: SETTINGS, results, verify }, null, 2)}\n`,
  );
  for (const p of ctx.profiles) {
    process.stdout.write(`\nCPU profile of mandate, ${p.id} (${p.path}):\n`);
    process.stdout.write(`${formatTop(await topSelfTime(p.path, 20))}\n`);
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    log(`bench: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  },
);
