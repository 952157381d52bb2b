// Runs the built sidecar (`dist/cli/main.js serve`) as a child process, optionally inside a wrapper (unshare), so tests can SIGKILL it.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { POLICIES_DIR } from './sidecar.js';
import { AUDIENCE, ISSUER } from './tokens.js';

const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'dist/cli/main.js');
const START_TIMEOUT_MS = 90_000;

export const PROCESS_ADMIN_TOKEN = 'fault-admin-token-0123456789abcdef01234567';

export interface SidecarProcess {
  readonly proc: ChildProcess;
  readonly httpUrl: string;
  readonly adminUrl: string;
  stderr(): string;
  stdout(): string;
  /** Sends the signal and resolves once the process (and, wrapped, its wrapper) is gone. */
  kill(signal: NodeJS.Signals): Promise<void>;
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

/** Starts `mandate serve --config` (after `wrapper`, e.g. `unshare --pid ...`) and resolves once it serves. */
export function startSidecarProcess(
  config: string,
  wrapper: readonly string[] = [],
): Promise<SidecarProcess> {
  const argv = [...wrapper, process.execPath, MAIN, 'serve', '--config', config];
  const proc = spawn(argv[0] as string, argv.slice(1), {
    cwd: ROOT,
    env: { ...process.env, MANDATE_CONFIG: '' },
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`not serving within ${START_TIMEOUT_MS} ms:\n${stderr}`));
    }, START_TIMEOUT_MS);
    proc.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!stderr.includes('mandate is serving')) return;
      for (const line of stderr.split('\n')) {
        if (!line.includes('mandate is serving')) continue;
        const info = JSON.parse(line) as { http: string; admin: string };
        clearTimeout(timer);
        proc.off('exit', onEarlyExit);
        resolvePromise({
          proc,
          httpUrl: info.http,
          adminUrl: info.admin,
          stderr: () => stderr,
          stdout: () => stdout,
          async kill(signal) {
            if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
            await exited;
          },
        });
        return;
      }
    });
    function onEarlyExit(code: number | null): void {
      clearTimeout(timer);
      reject(new Error(`exited ${code} before serving:\n${stderr}`));
    }
    proc.once('exit', onEarlyExit);
  });
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
