// `node bench/mcp.mjs [--cpu-prof]` (after `npm run build`): `mandate proxy` in front of the SDK's MCP server against a direct connection to it and a bare Node hop — tools/call added latency, mandate's excess over the bare hop, tools/list filtering cost, streamed-result throughput.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEV_ISSUER } from '../dist/config/load.js';
import { loadOrCreateDevSigner } from '../dist/token/dev-signer.js';
import { machineInfo, sampleBackgroundLoad, startCpuAccount } from './cpu.mjs';
import { fmtInt, fmtUs, table } from './format.mjs';
import { createMcpClient, runSlice } from './mcp-driver.mjs';
import { allowedTools, messagesOf, scenarios } from './mcp-scenarios.mjs';
import { formatTop, topSelfTime } from './profile-top.mjs';
import { ROOT, killAll, startBaseline, startMcpProxy } from './servers.mjs';

const int = (name, fallback) => Number(process.env[name] ?? fallback);
/** Settings; override with env for exploration (the recorded figures use the defaults). */
const SETTINGS = {
  rounds: int('BENCH_MCP_ROUNDS', 10),
  sliceMs: int('BENCH_MCP_SLICE_MS', 500),
  warmupMs: int('BENCH_MCP_WARMUP_MS', 500),
  tools: int('BENCH_MCP_TOOLS', 100),
  allowedTools: int('BENCH_MCP_ALLOWED_TOOLS', 50),
  blobBytes: int('BENCH_MCP_BLOB_BYTES', 1 << 20),
  streamEvents: int('BENCH_MCP_STREAM_EVENTS', 256),
  streamEventBytes: int('BENCH_MCP_STREAM_EVENT_BYTES', 4096),
  streamConcurrency: int('BENCH_MCP_STREAM_CONCURRENCY', 4),
  loadConcurrency: int('BENCH_MCP_CONCURRENCY', 8),
};
const DEADLINE_MS = int('BENCH_MCP_DEADLINE_SECONDS', 300) * 1000;

/** Targets: proxy's p50 added latency on a tools/call, and streamed throughput against direct. */
const TARGET_ADDED_P50_US = 300;
const TARGET_STREAM_RATIO = 0.9;

const { values: flags, positionals: only } = parseArgs({
  options: { 'cpu-prof': { type: 'boolean', default: false } },
  allowPositionals: true,
});
const OUT = join(ROOT, 'bench', 'out');
const log = (text) => process.stderr.write(`${text}\n`);

const stateDir = mkdtempSync(join(tmpdir(), 'mandate-bench-mcp-'));
process.on('exit', () => {
  killAll();
  rmSync(stateDir, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));
setTimeout(() => {
  log(`bench/mcp: not finished after ${DEADLINE_MS / 1000} s, aborting`);
  process.exit(1);
}, DEADLINE_MS).unref();

/** The repo's base policy and the example acme_inc MCP tenant, whose data lists agent-1's tools. */
function writePolicies() {
  const dir = join(stateDir, 'policies');
  cpSync(join(ROOT, 'policies', 'base'), join(dir, 'base'), { recursive: true });
  const tenant = join(dir, 'tenants', 'acme_inc');
  mkdirSync(tenant, { recursive: true });
  cpSync(join(ROOT, 'examples/mcp/tenants/acme_inc/decision.rego'), join(tenant, 'decision.rego'));
  writeFileSync(
    join(tenant, 'data.json'),
    JSON.stringify({ agent_tools: { 'agent-1': allowedTools(SETTINGS) }, max_search_limit: 50 }),
  );
  return dir;
}

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Upstream (SDK server), the bare Node hop and the proxy in front of it (dev issuer, audit to
 * stdout = /dev/null).
 */
async function startServers() {
  const upstream = await startBaseline('mcp-upstream.mjs');
  const upstreamUrl = `http://${upstream.http.host}:${upstream.http.port}/mcp`;
  const bare = await startBaseline('mcp-bare-proxy.mjs', { BENCH_UPSTREAM: upstreamUrl });
  const bareUrl = `http://${bare.http.host}:${bare.http.port}/mcp`;
  const port = await freePort();
  const resourceUri = `http://127.0.0.1:${port}/mcp`;
  const configPath = join(stateDir, 'mandate.yaml');
  writeFileSync(
    configPath,
    [
      `dev: { enabled: true, state_dir: "${stateDir}" }`,
      `policies: { dir: "${writePolicies()}" }`,
      'audit: { sink: stdout }',
      'mcp:',
      `  upstream: "${upstreamUrl}"`,
      `  listen: "127.0.0.1:${port}"`,
      '  resources:',
      `    - uri: "${resourceUri}"`,
      `      authorization_servers: ["${DEV_ISSUER}"]`,
      '      scopes_supported: [mcp.tools]',
      '',
    ].join('\n'),
  );
  const profileDir = flags['cpu-prof'] ? join(OUT, 'profiles', 'mcp-proxy') : undefined;
  if (profileDir) {
    rmSync(profileDir, { recursive: true, force: true });
    mkdirSync(profileDir, { recursive: true });
  }
  const proxy = await startMcpProxy({
    configPath,
    nodeArgs: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
  });
  return { upstream, upstreamUrl, bare, bareUrl, proxy, resourceUri, profileDir };
}

/** One session per side and answer mode: direct, through the bare hop, and through the proxy with the token. */
async function openSessions(servers, token) {
  const open = async (url, auth, mode) => {
    const client = createMcpClient({ url, token: auth, clientName: `mandate-bench-${mode}` });
    await client.initialize();
    return client;
  };
  return {
    json: {
      direct: await open(servers.upstreamUrl, undefined, 'json'),
      bare: await open(servers.bareUrl, undefined, 'json'),
      proxy: await open(servers.resourceUri, token, 'json'),
    },
    sse: {
      direct: await open(servers.upstreamUrl, undefined, 'sse'),
      bare: await open(servers.bareUrl, undefined, 'sse'),
      proxy: await open(servers.resourceUri, token, 'sse'),
    },
  };
}

const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

const SIDES = ['direct', 'bare', 'proxy'];

/**
 * Checks one answer per side (and learns its size), warms each up, then measures the rounds: the
 * three sides take turns, in an order rotated each round, so a swing of the machine's speed
 * (other load on the same cores) falls on all three alike; each figure compares sides within one
 * round, and the median over the rounds is reported.
 */
async function measure(scenario, sessions, pids) {
  const sides = sessions[scenario.mode];
  const expectBytes = {};
  for (const side of SIDES) {
    const client = sides[side];
    const answer = await client.post(scenario.body(client.takeId()), { keepText: true });
    // The bare hop filters nothing: its list answers are checked as direct ones.
    if (
      answer.status !== 200 ||
      !scenario.ok(messagesOf(answer.text), side === 'proxy' ? 'proxy' : 'direct')
    ) {
      throw new Error(
        `${scenario.label}: the ${side} answer is not the expected one: ${answer.status} ${answer.text.slice(0, 400)}`,
      );
    }
    expectBytes[side] = answer.bytes;
  }
  const run = (side, ms) =>
    runSlice(sides[side], scenario.body, {
      concurrency: scenario.c,
      ms,
      expectBytes: expectBytes[side],
    });
  for (const side of SIDES) await run(side, SETTINGS.warmupMs);
  const rounds = [];
  for (let r = 0; r < SETTINGS.rounds; r++) {
    const round = {};
    const order = SIDES.map((_, i) => SIDES[(i + r) % SIDES.length]);
    if (Math.floor(r / SIDES.length) % 2 === 1) order.reverse();
    for (const side of order) {
      const cpu = pids[side] !== undefined ? startCpuAccount(pids[side]) : undefined;
      round[side] = await run(side, SETTINGS.sliceMs);
      round[side].cpuUs = cpu ? ((cpu.finish()?.server ?? NaN) * 1000) / round[side].requests : NaN;
    }
    rounds.push(round);
  }
  const of = (side, key) => median(rounds.map((r) => r[side][key]));
  const stats = (side) => ({
    p50: of(side, 'p50'),
    p99: of(side, 'p99'),
    rps: of(side, 'rps'),
    mbps: of(side, 'mbps'),
    cpuUs: of(side, 'cpuUs'),
  });
  const ratio = (a, b, key) => median(rounds.map((r) => r[a][key] / r[b][key]));
  const diff = (a, b, key) => median(rounds.map((r) => r[a][key] - r[b][key]));
  const requests = rounds.reduce((n, r) => n + r.proxy.requests, 0);
  const cpuUs = rounds.reduce((n, r) => n + r.proxy.cpuUs * r.proxy.requests, 0);
  return {
    ...scenario,
    body: undefined,
    ok: undefined,
    expectBytes,
    direct: stats('direct'),
    bare: stats('bare'),
    proxy: stats('proxy'),
    addedP50: diff('proxy', 'direct', 'p50'),
    addedP99: diff('proxy', 'direct', 'p99'),
    rpsRatio: ratio('proxy', 'direct', 'rps'),
    mbpsRatio: ratio('proxy', 'direct', 'mbps'),
    proxyCpuUs: cpuUs / requests,
    bareAddedP50: diff('bare', 'direct', 'p50'),
    excessP50: diff('proxy', 'bare', 'p50'),
    excessCpuUs: diff('proxy', 'bare', 'cpuUs'),
    cpuRatio: ratio('proxy', 'bare', 'cpuUs'),
    bareRpsRatio: ratio('bare', 'direct', 'rps'),
    bareMbpsRatio: ratio('bare', 'direct', 'mbps'),
    overBareRps: ratio('proxy', 'bare', 'rps'),
    overBareMbps: ratio('proxy', 'bare', 'mbps'),
    mismatches: rounds.reduce(
      (n, r) => n + SIDES.reduce((m, side) => m + r[side].mismatches, 0),
      0,
    ),
  };
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

const pct = (x) => `${Math.round(x * 100)}%`;
const signedUs = (us) => `${us >= 0 ? '+' : '-'}${fmtUs(Math.abs(us))}`;
/** INVALID when an answer was not the checked one; PASS or FAIL only for rows with a target. */
const verdict = (r, pass) => {
  if (r.mismatches > 0) return 'INVALID';
  if (!r.target) return '';
  return pass ? 'PASS' : 'FAIL';
};

function report(info, background, results) {
  const by = Object.fromEntries(results.map((r) => [r.id, r]));
  const latency = results.filter((r) => r.kind === 'latency');
  const flow = results.filter((r) => r.kind !== 'latency');
  const listItems = SETTINGS.tools;
  const perItem = (list, call) => ({
    latency: (list.addedP50 - call.addedP50) / listItems,
    cpu: (list.proxyCpuUs - call.proxyCpuUs) / listItems,
  });
  const perItemLine = (mode) => {
    const list = by[`list-${mode}`];
    const call = by[`call-${mode}`];
    if (!list || !call) return `${mode.toUpperCase()} n/a`;
    const item = perItem(list, call);
    return `${mode.toUpperCase()} ${signedUs(item.latency)} latency, ${signedUs(item.cpu)} proxy CPU`;
  };
  return [
    `mandate MCP proxy bench, ${new Date().toISOString()}, ${gitDescription()}`,
    `machine: nproc ${info.nproc}, ${info.model}, Node ${info.node}; loadavg ${info.loadavg.join(' ')}; ` +
      `${background === undefined ? 'n/a' : background.toFixed(2)} cores busy in the 2 s before start`,
    `upstream: @modelcontextprotocol/sdk McpServer, Streamable HTTP, one stateful session per side and answer mode; ` +
      `proxy: mandate proxy, dev issuer, cached token, audit to stdout (/dev/null)`,
    `load: keep-alive node:http driver, ${SETTINGS.rounds} rounds of ${SETTINGS.sliceMs} ms per side, direct, bare hop and proxy taking turns ` +
      `(order rotated each round), after ${SETTINGS.warmupMs} ms warm-up each; figures are medians over the rounds`,
    '',
    table(
      [
        'latency, 1 request at a time',
        'direct p50',
        'proxy p50',
        'added p50',
        'direct p99',
        'proxy p99',
        'added p99',
        'proxy CPU/req',
        'target',
        'result',
      ],
      latency.map((r) => [
        r.label,
        fmtUs(r.direct.p50),
        fmtUs(r.proxy.p50),
        signedUs(r.addedP50),
        fmtUs(r.direct.p99),
        fmtUs(r.proxy.p99),
        signedUs(r.addedP99),
        fmtUs(r.proxyCpuUs),
        r.target ? `added p50 <= ${TARGET_ADDED_P50_US}us` : 'info',
        verdict(r, r.addedP50 <= TARGET_ADDED_P50_US),
      ]),
    ),
    '',
    table(
      ['throughput', 'direct', 'proxy', 'proxy/direct', 'proxy CPU/req', 'target', 'result'],
      flow.map((r) => {
        const mb = r.kind === 'mbps';
        const value = (side) =>
          mb ? `${r[side].mbps.toFixed(1)} MB/s` : `${fmtInt(r[side].rps)} req/s`;
        const ratio = mb ? r.mbpsRatio : r.rpsRatio;
        return [
          r.label,
          value('direct'),
          value('proxy'),
          pct(ratio),
          fmtUs(r.proxyCpuUs),
          r.target ? `>= ${pct(TARGET_STREAM_RATIO)}` : 'info',
          verdict(r, ratio >= TARGET_STREAM_RATIO),
        ];
      }),
    ),
    '',
    table(
      [
        'mandate excess over a bare Node hop',
        'bare added',
        'proxy added',
        'excess',
        'bare CPU/req',
        'proxy CPU/req',
        'excess CPU',
        'CPU x bare',
      ],
      results.map((r) => {
        const mb = r.kind === 'mbps';
        const rps = r.kind === 'rps';
        const added = (bare) => {
          if (mb) return pct(bare ? r.bareMbpsRatio : r.mbpsRatio);
          if (rps) return pct(bare ? r.bareRpsRatio : r.rpsRatio);
          return signedUs(bare ? r.bareAddedP50 : r.addedP50);
        };
        const excess = mb ? pct(r.overBareMbps) : rps ? pct(r.overBareRps) : signedUs(r.excessP50);
        return [
          r.label,
          added(true),
          added(false),
          excess,
          fmtUs(r.bare.cpuUs),
          fmtUs(r.proxy.cpuUs),
          signedUs(r.excessCpuUs),
          `${r.cpuRatio.toFixed(2)}x`,
        ];
      }),
    ),
    '',
    `tools/list filtering, per listed item (tools/list over tools/call, / ${listItems} items): ` +
      `${perItemLine('json')}; ${perItemLine('sse')} ` +
      '(a decision as the caller, its audit record, and the share of reading and re-serialising the list)',
    'added: proxy minus direct in the same round. proxy CPU/req: the proxy process CPU time (all threads) over its requests.',
    'MB/s: answer bytes received by the driver per second. proxy/direct: the median over the rounds of the ratio within',
    'each round (not the ratio of the two medians). INVALID: some answer was not a 200 of the checked size.',
    'bare hop: a plain keep-alive node:http reverse proxy (bench/mcp-bare-proxy.mjs), what any Node hop costs here.',
    'excess: proxy minus bare hop in the same round, p50 (req/s and MB/s rows: proxy over bare hop); CPU/req: the',
    "process's CPU time over its requests in each round, median over the rounds; CPU x bare: the median ratio.",
  ].join('\n');
}

async function main() {
  mkdirSync(OUT, { recursive: true });
  const info = machineInfo();
  const background = await sampleBackgroundLoad(2000);
  log('bench/mcp: starting the SDK upstream and mandate proxy');
  const servers = await startServers();
  const signer = await loadOrCreateDevSigner(stateDir);
  const token = await signer.mint({
    issuer: DEV_ISSUER,
    audience: servers.resourceUri,
    sub: 'user_8421',
    tenant: 'acme_inc',
    scope: 'mcp.tools',
    clientId: 'agent-1',
    act: ['agent-1'],
    ttlSeconds: 3600,
  });
  const sessions = await openSessions(servers, token);
  const results = [];
  // `node bench/mcp.mjs call-json blob-sse` runs only those scenarios (for exploring).
  for (const scenario of scenarios(SETTINGS)) {
    if (only.length > 0 && !only.includes(scenario.id)) continue;
    log(`- ${scenario.label}`);
    const r = await measure(scenario, sessions, {
      bare: servers.bare.pid,
      proxy: servers.proxy.pid,
    });
    log(
      `  direct / bare / proxy: p50 ${fmtUs(r.direct.p50)} / ${fmtUs(r.bare.p50)} / ${fmtUs(r.proxy.p50)}, ` +
        `${fmtInt(r.direct.rps)} / ${fmtInt(r.bare.rps)} / ${fmtInt(r.proxy.rps)} req/s, ` +
        `${r.direct.mbps.toFixed(1)} / ${r.bare.mbps.toFixed(1)} / ${r.proxy.mbps.toFixed(1)} MB/s`,
    );
    results.push(r);
  }
  for (const mode of Object.values(sessions)) for (const c of Object.values(mode)) c.close();
  await servers.proxy.stop();
  await servers.bare.stop();
  await servers.upstream.stop();
  const text = report(info, background, results);
  process.stdout.write(`\n${text}\n`);
  writeFileSync(join(OUT, 'mcp.txt'), `${text}\n`);
  writeFileSync(
    join(OUT, 'mcp.json'),
    `${JSON.stringify({ info, background, settings: SETTINGS, results }, null, 2)}\n`,
  );
  if (servers.profileDir) {
    const file = readdirSync(servers.profileDir).find((f) => f.endsWith('.cpuprofile'));
    if (file) {
      const path = join(servers.profileDir, file);
      process.stdout.write(`\nCPU profile of mandate proxy (${path}):\n`);
      process.stdout.write(`${formatTop(await topSelfTime(path, 25))}\n`);
    }
  }
  return results.some((r) => r.mismatches > 0) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    log(`bench/mcp: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  },
);
