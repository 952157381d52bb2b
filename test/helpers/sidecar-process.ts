// Runs the built sidecar (`dist/cli/main.js serve --config`) as a child process, optionally inside a wrapper (unshare) or under GC pressure, so tests can signal and SIGKILL it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { POLICIES_DIR } from './sidecar.js';
import { AUDIENCE, ISSUER } from './tokens.js';

const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'dist/cli/main.js');
const GC_PRESSURE = join(import.meta.dirname, 'gc-pressure.mjs');
const START_TIMEOUT_MS = 120_000;

export const PROCESS_ADMIN_TOKEN = 'fault-admin-token-0123456789abcdef01234567';

/**
 * Compiled policies shared by every child (the cache is keyed by content hash): only the first
 * start pays for `opa build`, which takes many seconds on a busy machine. Pass it as
 * `policies.cache_dir`.
 */
export const POLICY_CACHE_DIR = join(tmpdir(), 'mandate-fault-policy-cache');

export interface SidecarProcess {
  readonly proc: ChildProcess;
  readonly httpUrl: string;
  readonly adminUrl: string;
  /** Operational log records (JSON lines of stderr) so far. */
  logs(): Record<string, unknown>[];
  stderr(): string;
  stdout(): string;
  /** Sends the signal and resolves once the process (and, wrapped, its wrapper) is gone. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** Sends `signal` and resolves once the process is gone, with its exit code and how long that took. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>;
}

export interface SidecarProcessOptions {
  /** Command the sidecar runs inside, e.g. `unshare --pid ...`. */
  readonly wrapper?: readonly string[];
  /** Run with `--expose-gc` and a forced garbage collection every 50 ms (gc-pressure.mjs). */
  readonly gcPressure?: boolean;
  /** Working directory; default the repository root. */
  readonly cwd?: string;
}

const running = new Set<ChildProcess>();

/** SIGKILLs every sidecar process still running (for afterAll). */
export function killSidecarProcesses(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}

/** Starts `mandate serve --config <config>` and resolves once it logs "mandate is serving". */
export async function startSidecarProcess(
  config: string,
  options: SidecarProcessOptions = {},
): Promise<SidecarProcess> {
  const node = options.gcPressure ? ['--expose-gc', '--import', GC_PRESSURE] : [];
  const argv = [
    ...(options.wrapper ?? []),
    process.execPath,
    ...node,
    MAIN,
    'serve',
    '--config',
    config,
  ];
  const proc = spawn(argv[0] as string, argv.slice(1), {
    cwd: options.cwd ?? ROOT,
    env: cleanEnv(),
  });
  running.add(proc);
  const exited = new Promise<number | null>((r) =>
    proc.once('exit', (code) => {
      running.delete(proc);
      r(code);
    }),
  );
  let stdout = '';
  let stderr = '';
  const records: Record<string, unknown>[] = [];
  proc.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  const serving = new Promise<Record<string, unknown>>((resolveReady, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`not serving within ${START_TIMEOUT_MS} ms:\n${stderr.slice(-4000)}`));
    }, START_TIMEOUT_MS);
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`exited (${signal ?? code}) before serving:\n${stderr.slice(-4000)}`));
    });
    let buffered = '';
    proc.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let record: Record<string, unknown>;
        try {
          record = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue; // not a log line
        }
        records.push(record);
        if (record['msg'] === 'mandate is serving') {
          clearTimeout(timer);
          resolveReady(record);
        }
      }
    });
  });
  const ready = await serving;
  const port = (url: unknown) => new URL(String(url)).port;
  return {
    proc,
    httpUrl: `http://127.0.0.1:${port(ready['http'])}`,
    adminUrl: `http://127.0.0.1:${port(ready['admin'])}`,
    logs: () => records,
    stderr: () => stderr,
    stdout: () => stdout,
    async kill(signal) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
    async stop(signal = 'SIGTERM') {
      const started = Date.now();
      if (proc.exitCode !== null) return { code: proc.exitCode, ms: 0 };
      proc.kill(signal);
      const code = await exited;
      return { code, ms: Date.now() - started };
    },
  };
}

/** Writes a config trusting the test issuer at `jwksUrl`; `yaml` adds top-level keys (revocation, audit...). */
export function writeProcessConfig(dir: string, jwksUrl: string, yaml: string): string {
  const path = join(dir, 'mandate.yaml');
  writeFileSync(
    path,
    `listen: { http: "127.0.0.1:0", grpc: "127.0.0.1:0", admin: "127.0.0.1:0" }
issuers:
  - issuer: "${ISSUER}"
    jwks_uri: "${jwksUrl}"
    audiences: ["${AUDIENCE}"]
    algorithms: ["ES256"]
    token_types: ["at+jwt"]
policies: { dir: "${POLICIES_DIR}" }
admin: { tokens: ["${PROCESS_ADMIN_TOKEN}"] }
${yaml}
`,
  );
  return path;
}

export interface ChildSidecar extends SidecarProcess {
  /** The child's own directory: its config, state_dir and working directory. */
  readonly dir: string;
}

/**
 * Starts a sidecar with `yaml` (listen, state_dir, admin token and debug logging are added) in a
 * directory of its own, under GC pressure.
 */
export async function startChildSidecar(yaml: string): Promise<ChildSidecar> {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-fault-'));
  const configPath = join(dir, 'mandate.yaml');
  writeFileSync(
    configPath,
    `listen: { http: "127.0.0.1:0", grpc: "127.0.0.1:0", admin: "127.0.0.1:0" }
dev: { state_dir: "${dir}" }
admin: { tokens: ["${PROCESS_ADMIN_TOKEN}"] }
log_level: debug
${yaml}`,
  );
  const sidecar = await startSidecarProcess(configPath, { gcPressure: true, cwd: dir });
  return { ...sidecar, dir };
}

/** Our environment without MANDATE_* (a developer's settings must not leak into the child). */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('MANDATE_')) env[key] = value;
  }
  return env;
}

/** POST /v1/check with a bearer token: `allow`, or the first reason code. */
export async function checkOutcome(
  sidecar: SidecarProcess,
  token: string,
  body: Record<string, unknown>,
): Promise<{ outcome: string; decisionId: string }> {
  const res = await fetch(`${sidecar.httpUrl}/v1/check`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, unknown>;
  const outcome =
    json['allow'] === true
      ? 'allow'
      : ((json['reasons'] as { code: string }[] | undefined)?.[0]?.code ?? `http ${res.status}`);
  return { outcome, decisionId: json['decision_id'] as string };
}

/** POSTs a check and returns its HTTP status, body and how long the answer took. */
export async function timedCheck(
  sidecar: SidecarProcess,
  token: string,
  body: unknown = {
    action: 'tickets.comment',
    resource: { type: 'ticket', id: 'T-1' },
    tenant: 'acme_inc',
  },
): Promise<{ status: number; body: Record<string, unknown>; ms: number; codes: string[] }> {
  const started = Date.now();
  const res = await fetch(`${sidecar.httpUrl}/v1/check`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  const json = (await res.json()) as Record<string, unknown>;
  const codes = ((json['reasons'] as { code: string }[] | undefined) ?? []).map((r) => r.code);
  return { status: res.status, body: json, ms: Date.now() - started, codes };
}

/** GET /ready: true when 200. */
export async function isReady(sidecar: SidecarProcess): Promise<boolean> {
  const res = await fetch(`${sidecar.httpUrl}/ready`, { signal: AbortSignal.timeout(5000) });
  await res.arrayBuffer();
  return res.status === 200;
}

/** POST /v1/revocations; resolves with the status and body. */
export async function revokeOn(
  sidecar: SidecarProcess,
  body: Record<string, unknown>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${sidecar.adminUrl}/v1/revocations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${PROCESS_ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
