// The built `mandate policy test|check|fmt|build` and `mandate check` as an author runs them, with their exit codes.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { readTar } from '../../src/policy/tar-reader.js';
import { ALLOW_ALL_BASE, makePolicyDir } from '../policy/fixtures.js';

const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'dist/cli/main.js');
const SHIPPED = join(ROOT, 'policies');
const STATE = mkdtempSync(join(tmpdir(), 'mandate-policy-cli-'));

function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, MANDATE_STATE_DIR: STATE, MANDATE_CONFIG: '', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (status) => done({ status, stdout, stderr }));
  });
}

const removals: (() => Promise<void>)[] = [];
afterAll(async () => {
  await Promise.all(removals.map((remove) => remove()));
});

async function dir(layout: Parameters<typeof makePolicyDir>[0]): Promise<string> {
  const made = await makePolicyDir(layout);
  removals.push(made.remove);
  return made.dir;
}

describe('mandate policy test', () => {
  it('runs every unit of the shipped policies, per unit, exit 0', async () => {
    const run = await cli(['policy', 'test', SHIPPED]);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/✓ base: \d+ passed/);
    expect(run.stdout).toMatch(/✓ tenants\/acme_inc: \d+ passed/);
    expect(run.stdout).toMatch(/✓ tenants\/initech: \d+ passed/);
  });

  it('names a failing test with file and line, exit 1; --tenant narrows to one unit', async () => {
    const policies = await dir({
      base: ALLOW_ALL_BASE,
      tenants: {
        acme: {
          'policy.rego': 'package mandate.tenant\n\ndecision := {"allow": true, "reasons": []}\n',
          'policy_test.rego':
            'package mandate.tenant_test\n\nimport data.mandate.tenant\n\ntest_allows if tenant.decision.allow\n\ntest_denies if not tenant.decision.allow\n',
        },
        other: {
          'policy.rego': 'package mandate.tenant\n\ndecision := {"allow": true, "reasons": []}\n',
        },
      },
    });
    const all = await cli(['policy', 'test', policies]);
    expect(all.status).toBe(1);
    expect(all.stdout).toContain('✗ tenants/acme: 1 passed, 1 failed');
    expect(all.stdout).toMatch(
      /tenants\/acme\/policy_test\.rego:7: data\.mandate\.tenant_test\.test_denies/,
    );
    expect(all.stdout).toContain('- tenants/other: no tests');

    const one = await cli(['policy', 'test', policies, '--tenant', 'other']);
    expect(one.status).toBe(0);
    expect(one.stdout).not.toContain('acme');
    expect((await cli(['policy', 'test', policies, '--tenant', 'nobody'])).status).toBe(2);
  });
});

describe('mandate policy check', () => {
  it('passes the shipped policies and writes the runtime capabilities file', async () => {
    const capabilities = join(STATE, 'caps.json');
    const run = await cli(['policy', 'check', SHIPPED, '--write-capabilities', capabilities]);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('policy check ok');
    const doc = JSON.parse(await readFile(capabilities, 'utf8')) as {
      builtins: { name: string }[];
    };
    expect(doc.builtins.some((b) => b.name === 'time.now_ns')).toBe(true);
    expect(doc.builtins.some((b) => b.name === 'http.send')).toBe(false);
  });

  it('reports a syntax error, an unsupported builtin and a missing entrypoint with file and line, exit 1', async () => {
    const policies = await dir({
      base: ALLOW_ALL_BASE,
      tenants: {
        broken: { 'policy.rego': 'package mandate.tenant\n\ndecision := {"allow": true\n' },
        fetcher: {
          'policy.rego':
            'package mandate.tenant\n\ndecision := {"allow": true, "reasons": [], "r": http.send({"method": "get", "url": "http://x"})}\n',
        },
        misnamed: { 'policy.rego': 'package mandate.tenant\n\nallow := true\n' },
        fine: {
          'policy.rego': 'package mandate.tenant\n\ndecision := {"allow": true, "reasons": []}\n',
        },
      },
    });
    const run = await cli(['policy', 'check', policies]);
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/tenants\/broken\/policy\.rego:\d+: rego_parse_error/);
    expect(run.stdout).toMatch(
      /tenants\/fetcher\/policy\.rego:3: rego_type_error: undefined function http\.send/,
    );
    expect(run.stdout).toContain('not available to Wasm policies in mandate: http.send');
    expect(run.stdout).toContain('mandate/tenant/decision');
    expect(run.stdout).toContain('✓ tenants/fine');
    expect(run.stdout).toContain('policy check FAILED: 2 of 5 unit(s) compile');
  });
});

describe('mandate policy fmt', () => {
  it('--check lists unformatted files (exit 1); without it formats them', async () => {
    const policies = await dir({
      base: {
        'policy.rego': 'package mandate.base\ndecision := {"allow": true,   "reasons": []}\n',
      },
    });
    const check = await cli(['policy', 'fmt', policies, '--check']);
    expect(check.status).toBe(1);
    expect(check.stdout).toContain('needs formatting: base/policy.rego');
    const write = await cli(['policy', 'fmt', policies]);
    expect(write.status).toBe(0);
    expect(await readFile(join(policies, 'base', 'policy.rego'), 'utf8')).toContain(
      '\n\ndecision := {"allow": true, "reasons": []}',
    );
    expect((await cli(['policy', 'fmt', policies, '--check'])).status).toBe(0);
  });
});

describe('mandate policy build and mandate check', () => {
  it('builds one signed bundle per unit that mandate check then decides with', async () => {
    const out = join(STATE, 'bundles');
    const key = join(STATE, 'signing.pem');
    const { generateKeyPairSync } = await import('node:crypto');
    await writeFile(
      key,
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
        type: 'pkcs8',
        format: 'pem',
      }),
    );
    const build = await cli([
      'policy',
      'build',
      SHIPPED,
      '-o',
      out,
      '--signing-key',
      key,
      '--signing-alg',
      'ES256',
      '--revision',
      'r42',
    ]);
    expect(build.status).toBe(0);
    expect(build.stdout).toContain('(revision r42, signed)');
    for (const unit of ['base', 'tenants/acme_inc', 'tenants/initech']) {
      expect(existsSync(join(out, `${unit}.tar.gz`))).toBe(true);
    }
    const files = await readTar(gunzipSync(await readFile(join(out, 'tenants/acme_inc.tar.gz'))));
    expect(files.map((f) => f.path).sort()).toEqual([
      '.manifest',
      '.signatures.json',
      'data.json',
      'policy.wasm',
    ]);
    const manifest = JSON.parse(
      new TextDecoder().decode(files.find((f) => f.path === '.manifest')!.data),
    ) as Record<string, unknown>;
    expect(manifest).toMatchObject({
      revision: 'r42',
      wasm: [{ entrypoint: 'mandate/tenant/decision', module: '/policy.wasm' }],
    });

    const mint = await cli([
      'token',
      'mint',
      '--client',
      'acme-portal',
      '--sub',
      'user_1',
      '--tenant',
      'acme_inc',
      '--scope',
      'billing.view',
    ]);
    const token = mint.stdout.trim();
    const allow = await cli([
      'check',
      '--token',
      token,
      '--action',
      'billing.view',
      '--tenant',
      'acme_inc',
      '--policies',
      SHIPPED,
    ]);
    expect(allow.stderr).toBe('');
    expect(allow.status).toBe(0);
    expect(allow.stdout).toMatch(/^ALLOW/);

    const delegated = (
      await cli([
        'token',
        'mint',
        '--client',
        'agent-1',
        '--sub',
        'user_1',
        '--tenant',
        'acme_inc',
        '--scope',
        'billing.view',
        '--act',
        'agent-1',
      ])
    ).stdout.trim();
    const deny = await cli([
      'check',
      '--token',
      delegated,
      '--action',
      'billing.view',
      '--bundles',
      out,
      '--explain',
    ]);
    expect(deny.status).toBe(3);
    expect(deny.stdout).toMatch(/^DENY \(decided by tenant\)/);
    expect(deny.stdout).toContain("only the agent(s) finance-bot may perform 'billing.view'");
    expect(deny.stdout).toContain('policy: base r42, tenant r42');
    expect(deny.stdout).toMatch(/tenant: deny \(revision r42/);

    const json = await cli([
      'check',
      '--token',
      delegated,
      '--action',
      'billing.view',
      '--policies',
      SHIPPED,
      '--json',
      '--explain',
    ]);
    const answer = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(answer).toMatchObject({
      allow: false,
      decided_by: 'tenant',
      reasons: [{ code: 'policy_denied' }],
      subject: { client_id: expect.any(String) },
      layers: { decided_by: 'tenant', base: { eval_ns: expect.any(Number) } },
    });
    // snake_case throughout, as the Check API answers (the policy input is the policy's own).
    const keys = (v: unknown): string[] =>
      typeof v !== 'object' || v === null
        ? []
        : Object.entries(v).flatMap(([k, x]) => (Array.isArray(v) ? [] : [k]).concat(keys(x)));
    for (const key of keys({ ...answer, input: undefined })) expect(key).toMatch(/^[a-z0-9_]+$/);
  });

  it('exits 2 on usage mistakes and 3 on a refused token', async () => {
    expect((await cli(['policy', 'build', SHIPPED])).status).toBe(2);
    expect((await cli(['policy', 'frobnicate'])).status).toBe(2);
    expect((await cli(['check', '--action', 'x'])).status).toBe(2);
    const refused = await cli([
      'check',
      '--token',
      'not-a-jwt',
      '--action',
      'x',
      '--policies',
      SHIPPED,
    ]);
    expect(refused.status).toBe(3);
    expect(refused.stdout).toMatch(/^DENY\n {2}token_malformed/);
  });
});
