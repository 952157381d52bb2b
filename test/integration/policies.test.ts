// The whole sidecar with a watched policy directory: admin policy status, reload, /ready detail, metrics, live edits.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALLOW_ALL_BASE, makePolicyDir } from '../policy/fixtures.js';
import { ADMIN_TOKEN, postCheck, startSidecar, type Sidecar } from '../helpers/sidecar.js';

function tenantSaying(message: string) {
  return `package mandate.tenant\n\ndecision := {"allow": false, "reasons": [{"code": "policy_denied", "message": "${message}"}]}\n`;
}

let sidecar: Sidecar;
let dir: string;
let remove: () => Promise<void>;

beforeAll(async () => {
  ({ dir, remove } = await makePolicyDir({
    base: ALLOW_ALL_BASE,
    tenants: { acme: { 'policy.rego': tenantSaying('v1') } },
  }));
  sidecar = await startSidecar({
    policiesDir: dir,
    policiesYaml: 'watch: true, watch_debounce_ms: 30',
  });
});

afterAll(async () => {
  await sidecar?.stop();
  await remove?.();
});

const admin = (path: string, init: RequestInit = {}) =>
  fetch(`${sidecar.adminUrl}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...init.headers },
  });

async function reasonFor(): Promise<string | undefined> {
  const token = await sidecar.token({ claims: { tenant: 'acme' } });
  const { body } = await postCheck(
    sidecar,
    { action: 'orders.read' },
    { authorization: `Bearer ${token}` },
  );
  return (body['reasons'] as { message: string }[] | undefined)?.[0]?.message;
}

async function until(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('policies on the admin listener', () => {
  it('GET /v1/policies lists every unit (admin auth required)', async () => {
    expect((await fetch(`${sidecar.adminUrl}/v1/policies`)).status).toBe(401);
    const res = await admin('/v1/policies');
    expect(res.status).toBe(200);
    const { units } = (await res.json()) as { units: Record<string, unknown>[] };
    expect(units).toEqual([
      expect.objectContaining({
        unit: 'base',
        state: 'OK',
        origin: 'dir',
        revision: expect.any(String),
      }),
      expect.objectContaining({
        unit: 'tenant:acme',
        state: 'OK',
        origin: 'dir',
        module: expect.any(String),
      }),
    ]);
    const filtered = (await (await admin('/v1/policies?state=ERROR')).json()) as {
      units: unknown[];
    };
    expect(filtered.units).toEqual([]);
  });

  it('a broken save keeps the old policy serving and shows up in /ready, the admin API and metrics; a fix takes effect', async () => {
    expect(await reasonFor()).toBe('v1');
    await writeFile(
      join(dir, 'tenants', 'acme', 'policy.rego'),
      'package mandate.tenant\n\ndecision := {\n',
    );
    await until(async () => {
      const { units } = (await (await admin('/v1/policies?unit=tenant:acme')).json()) as {
        units: { state: string }[];
      };
      return units[0]?.state === 'WARN';
    });
    expect(await reasonFor()).toBe('v1');

    const ready = await fetch(`${sidecar.httpUrl}/ready`);
    expect(ready.status).toBe(200);
    const report = (await ready.json()) as {
      components: { policies: { state: string; detail: unknown } };
    };
    expect(report.components.policies.state).toBe('WARN');
    expect(report.components.policies.detail).toMatchObject({
      tenants: {
        acme: {
          state: 'WARN',
          code: 'compile_failed',
          error: expect.stringMatching(/tenants\/acme\/policy\.rego:\d+/),
        },
      },
    });

    const metrics = await (await fetch(`${sidecar.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/mandate_policy_load_failing\{unit="tenants\/acme"\} 1/);
    expect(metrics).toMatch(/mandate_policy_loads_total\{origin="dir",result="error"\} [1-9]/);
    expect(metrics).toMatch(/mandate_policy_units\{state="active"\} 2/);
    expect(metrics).toMatch(/mandate_policy_wasm_modules \d/);
    expect(await sidecar.rawOutput()).toContain('still serving the previous version');

    await writeFile(join(dir, 'tenants', 'acme', 'policy.rego'), tenantSaying('v2'));
    await until(async () => (await reasonFor()) === 'v2');
    const after = await (await fetch(`${sidecar.httpUrl}/metrics`)).text();
    expect(after).not.toMatch(/mandate_policy_load_failing\{unit="tenants\/acme"\}/);
    expect(after).toMatch(
      /mandate_policy_revision_info\{unit="tenants\/acme",revision="[0-9a-f]{12}"\} 1/,
    );
    expect(after.match(/mandate_policy_revision_info\{unit="tenants\/acme"/g)).toHaveLength(1);
  });

  it('POST /v1/policies/reload re-reads the directory and answers with the units', async () => {
    const res = await admin('/v1/policies/reload', { method: 'POST' });
    expect(res.status).toBe(200);
    const { units } = (await res.json()) as { units: { unit: string; state: string }[] };
    expect(units.map((u) => [u.unit, u.state])).toEqual([
      ['base', 'OK'],
      ['tenant:acme', 'OK'],
    ]);
  });
});
