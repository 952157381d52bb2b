// The built `mandate` command as a user runs it: dev-mode serve with its banner curl, token mint, config errors, SIGTERM.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'dist/cli/main.js');

function cli(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [MAIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

let child: ChildProcess | undefined;
afterEach(() => {
  child?.kill('SIGKILL');
  child = undefined;
});

/** Starts `mandate serve` and resolves with everything it printed once the dev banner is complete. */
function serveUntil(
  env: Record<string, string>,
  marker: RegExp,
): Promise<{ stderr: string; stdout: () => string }> {
  const proc = spawn(process.execPath, [MAIN, 'serve'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
  });
  child = proc;
  let stderr = '';
  let stdout = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${marker} in:\n${stderr}`)), 60_000);
    proc.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (marker.test(stderr)) {
        clearTimeout(timer);
        resolvePromise({ stderr, stdout: () => stdout });
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code}:\n${stderr}`));
    });
  });
}

describe('mandate CLI', () => {
  it('serve on built-in defaults prints a curl that performs a real check, and stops cleanly on SIGTERM', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'mandate-dev-'));
    const { stderr, stdout } = await serveUntil(
      {
        MANDATE_STATE_DIR: stateDir,
        MANDATE_HTTP_LISTEN: '127.0.0.1:0',
        MANDATE_GRPC_LISTEN: '127.0.0.1:0',
        MANDATE_ADMIN_LISTEN: '127.0.0.1:0',
      },
      /Mint more:/,
    );
    expect(stderr).toContain('DEV MODE');
    const url = /curl -s (\S+)/.exec(stderr)?.[1];
    const token = /Bearer ([\w.-]+)/.exec(stderr)?.[1];
    const body = /-d '(.+)'/.exec(stderr)?.[1];
    expect(url && token && body).toBeTruthy();
    const res = await fetch(url as string, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: body as string,
    });
    expect(await res.json()).toMatchObject({
      allow: true,
      subject: { sub: 'user_8421', tenant: 'acme_inc' },
    });

    const minted = cli(
      [
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
        '2m',
        '--act',
        'agent-1',
      ],
      { MANDATE_STATE_DIR: stateDir },
    );
    expect(minted.status).toBe(0);
    const mintedToken = minted.stdout.trim();
    const claims = JSON.parse(
      Buffer.from(mintedToken.split('.')[1] as string, 'base64url').toString(),
    ) as Record<string, unknown>;
    expect(claims).toMatchObject({
      sub: 'user_8421',
      tenant: 'acme_inc',
      client_id: 'agent-1',
      act: { sub: 'agent-1' },
    });
    expect((claims['exp'] as number) - (claims['iat'] as number)).toBe(120);
    const check = await fetch(url as string, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: mintedToken, action: 'contacts.update' }),
    });
    expect(await check.json()).toMatchObject({
      allow: false,
      reasons: [{ code: 'insufficient_scope' }],
      subject: { act: ['agent-1'] },
    });

    const exited = new Promise<number | null>((r) => child?.on('exit', (code) => r(code)));
    child?.kill('SIGTERM');
    expect(await exited).toBe(0);
    child = undefined;
    // Audit records go to stdout, one JSON object per line, never the token.
    const records = stdout()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.map((r) => r['allow'])).toEqual([true, false]);
    expect(stdout()).not.toContain(mintedToken);
  });

  it('refuses a bad config naming the key, with a non-zero exit', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-badconf-'));
    const path = join(dir, 'mandate.yaml');
    writeFileSync(
      path,
      'issuers:\n  - issuer: https://as.example.com\n    jwks_uri: https://as.example.com/jwks\n    audiences: [api]\n    algorithms: [none]\n',
    );
    const run = cli(['serve', '--config', path]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('issuers[0].algorithms[0]');
    const viaEnv = cli(['serve'], { MANDATE_CONFIG: join(dir, 'missing.yaml') });
    expect(viaEnv.status).toBe(2);
    expect(viaEnv.stderr).toContain('MANDATE_CONFIG');
  });

  it('fails at start-up naming the file when the base policy does not compile', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-badpol-'));
    const policies = join(dir, 'policies');
    spawnSync('mkdir', ['-p', join(policies, 'base')]);
    writeFileSync(
      join(policies, 'base', 'decision.rego'),
      'package mandate.base\n\ndecision := {"allow": true\n',
    );
    const run = cli(['serve'], {
      MANDATE_STATE_DIR: join(dir, 'state'),
      MANDATE_POLICIES_DIR: policies,
      MANDATE_HTTP_LISTEN: '127.0.0.1:0',
      MANDATE_GRPC_LISTEN: '127.0.0.1:0',
      MANDATE_ADMIN_LISTEN: '127.0.0.1:0',
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/decision\.rego:\d+/);
  });

  it('token mint accepts --config before its own flags', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-mintconf-'));
    const path = join(dir, 'mandate.yaml');
    writeFileSync(
      path,
      `dev: { enabled: true, state_dir: ${JSON.stringify(join(dir, 'state'))}, audience: mint-api }\n`,
    );
    const run = cli(['token', 'mint', '--config', path, '--client', 'agent-1', '--sub', 'u1']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const claims = JSON.parse(
      Buffer.from(run.stdout.trim().split('.')[1] as string, 'base64url').toString(),
    ) as Record<string, unknown>;
    expect(claims).toMatchObject({ aud: 'mint-api', sub: 'u1', client_id: 'agent-1' });
  });

  it('reports usage mistakes with exit code 2', () => {
    expect(cli(['token', 'mint']).status).toBe(2);
    expect(cli(['frobnicate']).status).toBe(2);
    expect(cli(['token', 'mint', '--client', 'a', '--ttl', 'soon']).stderr).toContain('--ttl');
  });
});
