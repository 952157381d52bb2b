// Envoy ext_authz throughput: gRPC Check with a realistic CheckRequest (~20 headers) and HTTP mode, against one sidecar.
// Standalone: `npm run build && node bench/envoy.mjs [seconds]`; run.mjs can call runEnvoyBench() instead.
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Buffer } from 'node:buffer';
import process from 'node:process';
import { runH2load, runWrk } from './load.mjs';
import { ROOT, killAll, track } from './servers.mjs';

const ROUTES = `
envoy:
  tenant_header: x-tenant
  routes:
    - { method: GET, path: "/v1/contacts/{id}", action: contacts.read, resource: { type: contact, id: "{id}" } }
`;

/** ~20 headers as Envoy forwards them for an agent's API call. */
function realisticHeaders(token) {
  return {
    ':authority': 'api.example.com',
    ':method': 'GET',
    ':path': '/v1/contacts/c_42?fields=name,email',
    ':scheme': 'https',
    authorization: `Bearer ${token}`,
    accept: 'application/json',
    'accept-encoding': 'gzip, deflate, br',
    'accept-language': 'en-US,en;q=0.9',
    'user-agent': 'agent-sdk/1.4.2 (linux; node 22)',
    'x-request-id': '6f1e2a7c-0b7d-4c1e-9d0a-3f5e8b2c1a90',
    'x-forwarded-for': '203.0.113.7',
    'x-forwarded-proto': 'https',
    'x-envoy-expected-rq-timeout-ms': '15000',
    'x-b3-traceid': '80f198ee56343ba864fe8b2a57d3eff7',
    'x-b3-spanid': 'e457b5a2e4d86bd1',
    'x-b3-sampled': '1',
    traceparent: '00-80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-01',
    cookie: 'session=abc123; theme=dark',
    'x-tenant': 'acme_inc',
    'x-mandate-subject': 'forged',
  };
}

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

/** Starts `mandate serve` with the Envoy routes; resolves with its HTTP and gRPC ports. */
function startSidecar(stateDir, configPath) {
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
          if (record.msg === 'mandate is serving') {
            resolve({
              child,
              http: new URL(record.http).port,
              grpc: record.grpc.slice(record.grpc.lastIndexOf(':') + 1),
            });
          }
        } catch {
          // partial line
        }
      }
      buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
    });
  });
}

/** Both Envoy modes for `seconds` each; returns one result row per mode. */
export async function runEnvoyBench({ seconds = 10 } = {}) {
  const stateDir = await mkdtemp(join(tmpdir(), 'mandate-bench-envoy-'));
  const configPath = join(stateDir, 'mandate.yaml');
  await writeFile(
    configPath,
    `listen: { http: "127.0.0.1:0", grpc: "127.0.0.1:0", admin: "127.0.0.1:0" }
dev: { enabled: true, state_dir: "${stateDir}" }
policies: { dir: "${ROOT}policies" }
${ROUTES}`,
  );
  const sidecar = await startSidecar(stateDir, configPath);
  try {
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
    const { CheckRequest } = await import('../dist/gen/envoy/service/auth/v3/external_auth.js');
    const message = CheckRequest.encode(
      CheckRequest.fromPartial({
        attributes: {
          source: { address: { socketAddress: { address: '203.0.113.7', portValue: 53122 } } },
          destination: { address: { socketAddress: { address: '10.0.0.5', portValue: 8080 } } },
          request: {
            time: { seconds: Math.floor(Date.now() / 1000), nanos: 0 },
            http: {
              id: '6f1e2a7c-0b7d-4c1e-9d0a-3f5e8b2c1a90',
              method: 'GET',
              path: '/v1/contacts/c_42?fields=name,email',
              host: 'api.example.com',
              scheme: 'https',
              protocol: 'HTTP/1.1',
              headers: realisticHeaders(token),
            },
          },
        },
      }),
    ).finish();
    // gRPC framing: uncompressed flag, big-endian length, message.
    const frame = Buffer.alloc(5 + message.length);
    frame.writeUInt32BE(message.length, 1);
    Buffer.from(message).copy(frame, 5);
    const bodyFile = join(stateDir, 'envoy-check.bin');
    await writeFile(bodyFile, frame);

    const grpc = await runH2load({
      url: `http://127.0.0.1:${sidecar.grpc}/envoy.service.auth.v3.Authorization/Check`,
      bodyFile,
      headers: ['content-type: application/grpc', 'te: trailers'],
      threads: 1,
      clients: 4,
      streams: 16,
      seconds,
      logFile: join(stateDir, 'h2load.log'),
    });
    const http = await runWrk({
      url: `http://127.0.0.1:${sidecar.http}/envoy/authz/v1/contacts/c_42?fields=name,email`,
      script: 'wrk-envoy.lua',
      scriptArgs: [token],
      threads: 1,
      connections: 32,
      seconds,
    });
    return [
      { name: 'envoy-grpc (CheckRequest, 20 headers)', ...grpc },
      { name: 'envoy-http (20 headers)', ...http },
    ];
  } finally {
    sidecar.child.kill('SIGTERM');
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const seconds = Number(process.argv[2] ?? 10);
  runEnvoyBench({ seconds })
    .then((rows) => {
      for (const r of rows) {
        console.log(
          `${r.name.padEnd(40)} ${Math.round(r.rps).toString().padStart(7)} req/s  p50 ${r.p50Us} µs  p99 ${r.p99Us} µs  errors ${r.errors}`,
        );
      }
    })
    .catch((err) => {
      console.error(err);
      process.exitCode = 1;
    })
    .finally(killAll);
}
