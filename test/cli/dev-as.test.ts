// `mandate dev-as` as a user runs it (the built command): the development banner, a working token endpoint, SIGTERM, usage errors.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'dist/cli/main.js');

let child: ChildProcess | undefined;
afterEach(() => {
  child?.kill('SIGKILL');
  child = undefined;
});

describe('mandate dev-as', () => {
  it('says it is for development only, serves tokens, and stops on SIGTERM', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'mandate-devas-cli-'));
    const proc = spawn(process.execPath, [MAIN, 'dev-as', '--port', '0', '--state-dir', stateDir], {
      cwd: ROOT,
    });
    child = proc;
    let stderr = '';
    const banner = await new Promise<string>((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error(`no banner in:\n${stderr}`)), 30_000);
      proc.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (/code_verifier=\S+\n=+/.test(stderr)) {
          clearTimeout(timer);
          resolvePromise(stderr);
        }
      });
    });
    expect(banner).toContain('For local development and tests ONLY');
    expect(banner).toContain('Never expose it or trust it in production');
    const issuer = /Issuer\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(banner)?.[1];
    expect(issuer).toBeDefined();

    const meta = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as {
      issuer: string;
      token_endpoint: string;
    };
    expect(meta.issuer).toBe(issuer);
    // The printed service-token curl, as fetch.
    const res = await fetch(meta.token_endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from('crm-service:crm-service-dev-secret').toString('base64')}`,
      },
      body: 'grant_type=client_credentials&resource=urn:mandate:crm-api&scope=contacts.read',
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { token_type: string }).token_type).toBe('Bearer');

    const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    child = undefined;
  });

  it('refuses a bad port with exit code 2', () => {
    const run = spawnSync(process.execPath, [MAIN, 'dev-as', '--port', 'eighty'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--port: must be a port number');
  });
});
