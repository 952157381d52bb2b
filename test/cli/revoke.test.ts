// `mandate revoke` and `mandate revocations` as a user runs them, against a real sidecar's admin API.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, postCheck, startSidecar, type Sidecar } from '../helpers/sidecar.js';

const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'dist/cli/main.js');

let sidecar: Sidecar;
beforeAll(async () => {
  sidecar = await startSidecar();
});
afterAll(async () => {
  await sidecar?.stop();
});

/** Runs the built CLI asynchronously: the sidecar answering it lives in this process. */
function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('MANDATE_')),
  );
  return new Promise((done) => {
    execFile(
      process.execPath,
      [MAIN, ...args],
      {
        cwd: mkdtempSync(join(tmpdir(), 'mandate-cli-')),
        env: {
          ...clean,
          MANDATE_ADMIN_URL: sidecar.adminUrl,
          MANDATE_ADMIN_TOKEN: ADMIN_TOKEN,
          ...env,
        },
        timeout: 30_000,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

const tokenFor = (sub: string) => sidecar.token({ claims: { sub, scope: 'tickets.write' } });

async function codes(token: string): Promise<string[]> {
  const { body } = await postCheck(
    sidecar,
    { action: 'tickets.comment', tenant: 'acme_inc' },
    { authorization: `Bearer ${token}` },
  );
  return (body['reasons'] as { code: string }[]).map((r) => r.code);
}

describe('mandate revoke / revocations', () => {
  it('revokes a user, lists it, and undoes it', async () => {
    // Minted before the revocation: tokens issued after it are not affected (re-consent).
    const token = await tokenFor('user_8421');
    expect(await codes(token)).toEqual([]);
    const revoked = await cli([
      'revoke',
      '--tenant',
      'acme_inc',
      '--sub',
      'user_8421',
      '--reason',
      'left the company',
    ]);
    expect(revoked.stderr).toBe('');
    expect(revoked.code).toBe(0);
    const entry = JSON.parse(revoked.stdout) as Record<string, unknown>;
    expect(entry).toMatchObject({
      kind: 'subject',
      tenant: 'acme_inc',
      sub: 'user_8421',
      reason: 'left the company',
    });
    expect(await codes(token)).toEqual(['revoked']);

    const listed = await cli(['revocations', 'list', '--tenant', 'acme_inc']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(entry['id'] as string);
    expect(listed.stdout).toContain('sub=user_8421');
    expect(listed.stdout).toContain('"left the company"');
    const asJson = JSON.parse((await cli(['revocations', 'list', '--json'])).stdout);
    expect(asJson.total).toBeGreaterThanOrEqual(1);

    const deleted = await cli(['revocations', 'delete', entry['id'] as string]);
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toMatch(/^deleted rv_/);
    expect(await codes(token)).toEqual([]);
  });

  it('revokes an actor absolutely, with the admin URL and token given as flags', async () => {
    const res = await cli(
      [
        'revoke',
        '--actor',
        'compromised-agent',
        '--absolute',
        '--admin-url',
        sidecar.adminUrl,
        '--admin-token',
        ADMIN_TOKEN,
      ],
      { MANDATE_ADMIN_URL: 'http://127.0.0.1:1', MANDATE_ADMIN_TOKEN: 'wrong' },
    );
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ kind: 'actor', absolute: true });
  });

  it("reads dev mode's admin token from the state folder", async () => {
    const state = mkdtempSync(join(tmpdir(), 'mandate-state-'));
    writeFileSync(join(state, 'admin-token'), `${ADMIN_TOKEN}\n`);
    const res = await cli(['revocations', 'list'], {
      MANDATE_ADMIN_TOKEN: '',
      MANDATE_STATE_DIR: state,
    });
    expect(res.code).toBe(0);
  });

  it.each([
    [['revoke', '--tenant', 'acme_inc'], /exactly one of --jti/],
    [['revoke', '--sub', 'u', '--client', 'c', '--tenant', 't'], /name one thing/],
    [['revoke', '--sub', 'u'], /tenant: is required for kind subject/], // from the server's 400
    [['revocations'], /Usage: mandate revocations(.|\n)*list/],
    [['revocations', 'delete'], /missing required argument 'id'/],
  ])('%j is a usage error (exit 2)', async (args, message) => {
    const res = await cli(args);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(message);
  });

  it('a wrong admin token is refused (exit 1) and nothing is revoked', async () => {
    const token = await tokenFor('user_x');
    const res = await cli(['revoke', '--tenant', 'acme_inc', '--sub', 'user_x'], {
      MANDATE_ADMIN_TOKEN: 'not-the-admin-token-0123456789abcdef',
    });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/admin API 401/);
    expect(await codes(token)).toEqual([]);
  });

  it('an unreachable admin API is a clear error', async () => {
    const res = await cli(['revocations', 'list'], { MANDATE_ADMIN_URL: 'http://127.0.0.1:1' });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/cannot reach the admin API at http:\/\/127\.0\.0\.1:1/);
  });
});
