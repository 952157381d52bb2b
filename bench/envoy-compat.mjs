// OPA-Envoy compatibility mode against native Envoy mode: OPA-Envoy's quick-start policy (its own HS256 JWT
// check with io.jwt.decode_verify) over HTTP ext_authz, with one repeated JWT and with a new JWT per request,
// plus the JWT builtin's own cost per call. Standalone: `npm run build && node bench/envoy-compat.mjs [seconds]`.
import { spawn } from 'node:child_process';
import { Buffer } from 'node:buffer';
import { createHmac } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { runWrk } from './load.mjs';
import { ROOT, killAll, track } from './servers.mjs';
import { ensureLoadTools } from './tools.mjs';

const QUICKSTART = join(ROOT, 'examples/opa-envoy-quickstart');
/** An OPA-Envoy policy with no builtin of its own: what compatibility mode costs before any JWT work. */
const PLAIN_POLICY = join(ROOT, 'examples/envoy/opa-envoy-policy.rego');
const WRK_THREADS = 1;
const CONNECTIONS = 32;
const UNIQUE_JWTS = 200_000;
/** The compat row with a repeated JWT must reach this share of the native row's req/s. */
const TARGET = 1 / 1.5;

function node(args, env) {
  return new Promise((resolve, reject) => {
    const child = track(
      spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env } }),
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c) => (out += c));
    child.once('close', (code) =>
      code === 0 ? resolve(out.trim()) : reject(new Error(`node ${args.join(' ')}: ${code}`)),
    );
  });
}

/** Starts `mandate serve`; resolves with its HTTP port once it logs that it is serving. */
function startSidecar(configPath) {
  const child = track(
    spawn(process.execPath, ['dist/cli/main.js', 'serve', '--config', configPath], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    }),
  );
  return new Promise((resolve, reject) => {
    let buffered = '';
    child.once('exit', (code) => reject(new Error(`mandate exited (${code})`)));
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
      buffered += chunk;
      for (const line of buffered.split('\n')) {
        try {
          const record = JSON.parse(line);
          if (record.msg === 'mandate is serving')
            resolve({ child, http: new URL(record.http).port });
        } catch {
          // partial line
        }
      }
      buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
    });
  });
}

const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An HS256 JWT signed with "secret", as the quick-start policy expects. */
function quickstartJwt(claims) {
  const signed = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${signed}.${createHmac('sha256', 'secret').update(signed).digest('base64url')}`;
}

function guestClaims(i) {
  const now = Math.floor(Date.now() / 1000);
  return { role: 'guest', sub: 'YWxpY2U', nbf: now - 60, exp: now + 3600, jti: `j${i}` };
}

async function sidecarWith(stateDir, name, envoyYaml) {
  const configPath = join(stateDir, `${name}.yaml`);
  await writeFile(
    configPath,
    `listen: { http: "127.0.0.1:0", grpc: "127.0.0.1:0", admin: "127.0.0.1:0" }
dev: { enabled: true, state_dir: "${stateDir}" }
policies: { dir: "${ROOT}policies" }
audit: { sink: none }
${envoyYaml}`,
  );
  return startSidecar(configPath);
}

/**
 * In process: µs per io.jwt.decode_verify call (the same JWT again, a cache hit; a new JWT each
 * time), and µs per whole compatibility-policy evaluation, quick-start against a policy without JWT.
 */
async function builtinCost(plainDir) {
  const { createHostBuiltins } = await import('../dist/policy/builtins/index.js');
  const { createCompatPolicy } = await import('../dist/policy/compat-unit.js');
  const now = BigInt(Math.floor(Date.now() / 1000)) * 1_000_000_000n;
  const builtins = createHostBuiltins({ nowNs: () => now, decision: () => 0 });
  const decodeVerify = builtins['io.jwt.decode_verify'];
  const constraints = { secret: 'secret' };
  const same = quickstartJwt(guestClaims(0));
  const fresh = Array.from({ length: 20_000 }, (_, i) => quickstartJwt(guestClaims(i + 1)));
  const time = (n, call) => {
    for (let i = 0; i < Math.min(n, 2000); i++) call(i);
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) call(i);
    return Number(process.hrtime.bigint() - start) / 1000 / n;
  };
  const evalUs = async (dir, input) => {
    const policy = createCompatPolicy({ dir, entrypoint: 'envoy/authz/allow' });
    await policy.start();
    return time(20_000, () => policy.evaluate(input));
  };
  const http = (path, authorization) => ({
    attributes: { request: { http: { method: 'GET', path, headers: { authorization } } } },
    parsed_path: path.slice(1).split('/'),
    subject: { scopes: ['contacts.read'] },
  });
  return {
    cachedUs: time(200_000, () => decodeVerify(same, constraints)),
    uniqueUs: time(fresh.length, (i) => decodeVerify(fresh[i], constraints)),
    quickstartEvalUs: await evalUs(QUICKSTART, http('/people/42', `Bearer ${same}`)),
    plainEvalUs: await evalUs(plainDir, http('/v1/contacts', 'Bearer x')),
  };
}

export async function runEnvoyCompatBench({ seconds = 10 } = {}) {
  ensureLoadTools();
  const stateDir = await mkdtemp(join(tmpdir(), 'mandate-bench-compat-'));
  const token = await node(
    [
      'dist/cli/main.js',
      'token',
      'mint',
      '--sub',
      'user_8421',
      '--tenant',
      'acme_inc',
      '--scope',
      'contacts.read',
      '--client',
      'agent-1',
      '--ttl',
      '1h',
    ],
    { MANDATE_STATE_DIR: stateDir },
  );
  const cachedFile = join(stateDir, 'jwt-cached.txt');
  await writeFile(cachedFile, `${quickstartJwt(guestClaims(0))}\n`);
  const uniqueFile = join(stateDir, 'jwt-unique.txt');
  await writeFile(
    uniqueFile,
    `${Array.from({ length: UNIQUE_JWTS }, (_, i) => quickstartJwt(guestClaims(i + 1))).join('\n')}\n`,
  );

  const rows = [];
  const native = await sidecarWith(
    stateDir,
    'native',
    `envoy:
  tenant_header: x-tenant
  routes:
    - { method: GET, path: "/v1/contacts/{id}", action: contacts.read, resource: { type: contact, id: "{id}" } }`,
  );
  try {
    const result = await runWrk({
      url: `http://127.0.0.1:${native.http}/envoy/authz/v1/contacts/c_42?fields=name,email`,
      script: 'wrk-envoy.lua',
      scriptArgs: [token],
      threads: WRK_THREADS,
      connections: CONNECTIONS,
      seconds,
    });
    rows.push({ name: 'envoy-http native (20 headers)', ...result });
  } finally {
    native.child.kill('SIGTERM');
  }

  // The example folder also holds Envoy's and mandate's YAML, which the unit would read as data.
  const plainDir = join(stateDir, 'plain-policy');
  await mkdir(plainDir);
  await copyFile(PLAIN_POLICY, join(plainDir, 'policy.rego'));
  const plain = await sidecarWith(
    stateDir,
    'plain',
    `envoy:
  tenant_header: x-tenant
  compat: { enabled: true, dir: "${plainDir}" }`,
  );
  try {
    const result = await runWrk({
      url: `http://127.0.0.1:${plain.http}/envoy/authz/v1/contacts/c_42?fields=name,email`,
      script: 'wrk-envoy.lua',
      scriptArgs: [token],
      threads: WRK_THREADS,
      connections: CONNECTIONS,
      seconds,
    });
    rows.push({ name: 'envoy-http compat, policy without JWT', ...result });
  } finally {
    plain.child.kill('SIGTERM');
  }

  const compat = await sidecarWith(
    stateDir,
    'compat',
    `envoy:
  token_headers: [x-mandate-token]
  compat: { enabled: true, dir: "${QUICKSTART}" }`,
  );
  try {
    for (const [name, file] of [
      ['envoy-http compat, quick-start JWT cached', cachedFile],
      ['envoy-http compat, quick-start JWT unique', uniqueFile],
    ]) {
      const result = await runWrk({
        url: `http://127.0.0.1:${compat.http}/envoy/authz/people/42`,
        script: 'wrk-envoy-compat.lua',
        scriptArgs: [token, file, '0', String(WRK_THREADS)],
        threads: WRK_THREADS,
        connections: CONNECTIONS,
        seconds,
      });
      rows.push({ name, ...result });
    }
  } finally {
    compat.child.kill('SIGTERM');
  }
  return { rows, cost: await builtinCost(plainDir) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const seconds = Number(process.argv[2] ?? 10);
  runEnvoyCompatBench({ seconds })
    .then(({ rows, cost }) => {
      for (const r of rows) {
        console.log(
          `${r.name.padEnd(44)} ${Math.round(r.rps).toString().padStart(7)} req/s  p50 ${r.p50Us} µs  p99 ${r.p99Us} µs  errors ${r.errors}`,
        );
      }
      console.log(
        `io.jwt.decode_verify per call (in process): cached ${cost.cachedUs.toFixed(2)} µs, unique ${cost.uniqueUs.toFixed(2)} µs`,
      );
      console.log(
        `policy evaluation per decision (in process): quick-start ${cost.quickstartEvalUs.toFixed(1)} µs, policy without JWT ${cost.plainEvalUs.toFixed(1)} µs`,
      );
      const ratio = rows[2].rps / rows[0].rps;
      const met = ratio >= TARGET;
      console.log(
        `compat cached vs native: ${(ratio * 100).toFixed(1)} % of native req/s (target ≥ ${(TARGET * 100).toFixed(1)} %, i.e. within 1.5×: ${met ? 'met' : 'MISSED'})`,
      );
      if (!met) process.exitCode = 1;
    })
    .catch((err) => {
      console.error(err);
      process.exitCode = 1;
    })
    .finally(killAll);
}
