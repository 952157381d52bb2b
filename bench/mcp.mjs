// `node bench/mcp.mjs [--cpu-prof]` (after `npm run build`): `mandate proxy` in front of the SDK's MCP server against a direct connection to it — tools/call added latency, tools/list filtering cost, streamed-result throughput.
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
  rounds: int('BENCH_MCP_ROUNDS', 5),
  sliceMs: int('BENCH_MCP_SLICE_MS', 1000),
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

/** Upstream (SDK server), then the proxy in front of it (dev issuer, audit to stdout = /dev/null). */
async function startServers() {
  const upstream = await startBaseline('mcp-upstream.mjs');
  const upstreamUrl = `http://${upstream.http.host}:${upstream.http.port}/mcp`;
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
  return { upstream, upstreamUrl, proxy, resourceUri, profileDir };
}

/** One session per side and answer mode: direct to the upstream, and through the proxy with the token. */
async function openSessions(servers, token) {
  const open = async (url, auth, mode) => {
    const client = createMcpClient({ url, token: auth, clientName: `mandate-bench-${mode}` });
    await client.initialize();
    return client;
  };
  return {
    json: {
      direct: await open(servers.upstreamUrl, undefined, 'json'),
      proxy: await open(servers.resourceUri, token, 'json'),
    },
    sse: {
      direct: await open(servers.upstreamUrl, undefined, 'sse'),
      proxy: await open(servers.resourceUri, token, 'sse'),
    },
  };
}

const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

/** Checks one answer per side (and learns its size), warms both up, then measures the rounds. */
async function measure(scenario, sessions, proxyPid) {
  const sides = sessions[scenario.mode];
  const expectBytes = {};
  for (const side of ['direct', 'proxy']) {
    const client = sides[side];
    const answer = await client.post(scenario.body(client.takeId()), { keepText: true });
    if (answer.status !== 200 || !scenario.ok(messagesOf(answer.text), side)) {
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
  await run('direct', SETTINGS.warmupMs);
  await run('proxy', SETTINGS.warmupMs);
  const rounds = [];
  for (let r = 0; r < SETTINGS.rounds; r++) {
    const round = {};
    for (const side of r % 2 === 0 ? ['direct', 'proxy'] : ['proxy', 'direct']) {
      const cpu = side === 'proxy' ? startCpuAccount(proxyPid) : undefined;
      round[side] = await run(side, SETTINGS.sliceMs);
      if (cpu) round.proxyCpuMs = cpu.finish()?.server;
    }
    rounds.push(round);
  }
  const of = (side, key) => median(rounds.map((r) => r[side][key]));
  const requests = rounds.reduce((n, r) => n + r.proxy.requests, 0);
  const cpuMs = rounds.reduce((n, r) => n + (r.proxyCpuMs ?? NaN), 0);
  return {
    ...scenario,
    body: undefined,
    ok: undefined,
    expectBytes,
    direct: {
      p50: of('direct', 'p50'),
      p99: of('direct', 'p99'),
      rps: of('direct', 'rps'),
      mbps: of('direct', 'mbps'),
    },
    proxy: {
      p50: of('proxy', 'p50'),
      p99: of('proxy', 'p99'),
      rps: of('proxy', 'rps'),
      mbps: of('proxy', 'mbps'),
    },
    addedP50: median(rounds.map((r) => r.proxy.p50 - r.direct.p50)),
    addedP99: median(rounds.map((r) => r.proxy.p99 - r.direct.p99)),
    rpsRatio: median(rounds.map((r) => r.proxy.rps / r.direct.rps)),
    mbpsRatio: median(rounds.map((r) => r.proxy.mbps / r.direct.mbps)),
    proxyCpuUs: (cpuMs * 1000) / requests,
    mismatches: rounds.reduce((n, r) => n + r.direct.mismatches + r.proxy.mismatches, 0),
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
    `load: keep-alive node:http driver, ${SETTINGS.rounds} rounds of ${SETTINGS.sliceMs} ms per side, direct and proxy taking turns ` +
      `(order swapped each round), after ${SETTINGS.warmupMs} ms warm-up each; figures are medians over the rounds`,
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
    `tools/list filtering, per listed item (tools/list over tools/call, / ${listItems} items): ` +
      `${perItemLine('json')}; ${perItemLine('sse')} ` +
      '(a decision as the caller, its audit record, and the share of reading and re-serialising the list)',
    'added: proxy minus direct in the same round. proxy CPU/req: the proxy process CPU time (all threads) over its requests.',
    'MB/s: answer bytes received by the driver per second. proxy/direct: the median over the rounds of the ratio within',
    'each round (not the ratio of the two medians). INVALID: some answer was not a 200 of the checked size.',
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
    const r = await measure(scenario, sessions, servers.proxy.pid);
    log(
      `  direct p50 ${fmtUs(r.direct.p50)} / proxy p50 ${fmtUs(r.proxy.p50)}, ` +
        `${fmtInt(r.direct.rps)} / ${fmtInt(r.proxy.rps)} req/s, ${r.direct.mbps.toFixed(1)} / ${r.proxy.mbps.toFixed(1)} MB/s`,
    );
    results.push(r);
  }
  for (const mode of Object.values(sessions)) for (const c of Object.values(mode)) c.close();
  await servers.proxy.stop();
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
