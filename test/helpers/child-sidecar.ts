// Runs the built sidecar (`node dist/cli/main.js serve --config`) as a real child process, under GC pressure, for fault tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'dist/cli/main.js');
const GC_PRESSURE = join(import.meta.dirname, 'gc-pressure.mjs');

export interface ChildSidecar {
  readonly httpUrl: string;
  readonly adminUrl: string;
  readonly dir: string;
  /** Operational log records (JSON lines of stderr) so far. */
  logs(): Record<string, unknown>[];
  /** Sends `signal` and resolves once the process is gone, with how long that took. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>;
}

/**
 * Compiled policies shared by every child (the cache is keyed by content hash): only the first
 * start pays for `opa build`, which takes many seconds on a busy machine. Pass it as
 * `policies.cache_dir`.
 */
export const POLICY_CACHE_DIR = join(tmpdir(), 'mandate-fault-policy-cache');

const running = new Set<ChildProcess>();

/** Kills every child still running (for afterAll). */
export function killChildSidecars(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}

/**
 * Starts a sidecar with `yaml` (listen, state_dir and admin token are added) and resolves once it
 * logs "mandate is serving". The child runs with a forced garbage collection every 50 ms.
 */
export async function startChildSidecar(yaml: string): Promise<ChildSidecar> {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-fault-'));
  const configPath = join(dir, 'mandate.yaml');
  writeFileSync(
    configPath,
    `listen: { http: "127.0.0.1:0", grpc: "127.0.0.1:0", admin: "127.0.0.1:0" }
dev: { state_dir: "${dir}" }
admin: { tokens: ["fault-admin-token-0123456789abcdef0123456789"] }
log_level: debug
${yaml}`,
  );
  const child = spawn(
    process.execPath,
    ['--expose-gc', '--import', GC_PRESSURE, MAIN, 'serve', '--config', configPath],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], env: cleanEnv() },
  );
  running.add(child);
  child.once('exit', () => running.delete(child));
  const records: Record<string, unknown>[] = [];
  let tail = '';
  const serving = new Promise<Record<string, unknown>>((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`not serving within 120 s\n${tail}`)), 120_000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`sidecar exited (${signal ?? code}) before serving\n${tail}`));
    });
    let buffered = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      tail = `${tail}${chunk}`.slice(-4000);
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          const record = JSON.parse(line) as Record<string, unknown>;
          records.push(record);
          if (record['msg'] === 'mandate is serving') {
            clearTimeout(timer);
            resolveReady(record);
          }
        } catch {
          // not a log line
        }
      }
    });
  });
  const ready = await serving;
  const port = (url: unknown) => new URL(String(url)).port;
  return {
    httpUrl: `http://127.0.0.1:${port(ready['http'])}`,
    adminUrl: `http://127.0.0.1:${port(ready['admin'])}`,
    dir,
    logs: () => records,
    stop(signal = 'SIGTERM') {
      const started = Date.now();
      return new Promise((resolveStop) => {
        if (child.exitCode !== null) {
          resolveStop({ code: child.exitCode, ms: 0 });
          return;
        }
        child.once('exit', (code) => resolveStop({ code, ms: Date.now() - started }));
        child.kill(signal);
      });
    },
  };
}

/** Our environment without MANDATE_* (a developer's settings must not leak into the child). */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('MANDATE_')) env[key] = value;
  }
  return env;
}

/** POSTs a check and returns its HTTP status, body and how long the answer took. */
export async function timedCheck(
  sidecar: ChildSidecar,
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
export async function isReady(sidecar: ChildSidecar): Promise<boolean> {
  const res = await fetch(`${sidecar.httpUrl}/ready`, { signal: AbortSignal.timeout(5000) });
  await res.arrayBuffer();
  return res.status === 200;
}
