// The engine when policies are wrong: a broken tenant fails closed, a broken base stops start(), unknown results deny.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createPolicyEngine } from '../../src/policy/engine.js';
import { PolicyError } from '../../src/policy/errors.js';
import {
  ALLOW_ALL_BASE,
  ALLOW_ALL_TENANT,
  type PolicyDirLayout,
  delegatedSubject,
  makePolicyDir,
  policyInput,
  recordingLogger,
  startEngine,
} from './fixtures.js';

const cleanups: (() => Promise<void>)[] = [];

async function dirWith(layout: PolicyDirLayout): Promise<string> {
  const { dir, remove } = await makePolicyDir(layout);
  cleanups.push(remove);
  return dir;
}

afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((remove) => remove()));
});

const input = policyInput('contacts.read', delegatedSubject('agent-1', ['contacts.read']));

describe('a broken tenant policy', () => {
  it('does not stop start(); status names the tenant and the opa error, not ready; its requests are denied', async () => {
    const dir = await dirWith({
      base: ALLOW_ALL_BASE,
      tenants: {
        good: ALLOW_ALL_TENANT,
        broken: { 'policy.rego': 'package mandate.tenant\n\ndecision := {"allow": true\n' },
      },
    });
    const logger = recordingLogger();
    const engine = await startEngine(dir, { logger });

    // Broken at start-up: not ready, so a rollout with a broken tenant policy is held back.
    const status = engine.status();
    expect(status.state).toBe('ERROR');
    expect(status.message).toContain('broken');
    expect(status.message).toContain('start-up');
    const broken = (status.detail as { tenants: Record<string, Record<string, unknown>> }).tenants
      .broken;
    expect(broken).toMatchObject({ state: 'ERROR', code: 'compile_failed' });
    expect(broken?.error).toMatch(/tenants\/broken\/policy\.rego:\d+: rego_parse_error/);
    expect(broken?.revision).toMatch(/^[0-9a-f]{12}$/);
    expect(engine.revisions().tenants).toEqual({ good: expect.any(String) });
    expect(
      logger.lines.some(
        (line) => line.level === 'error' && JSON.stringify(line.fields).includes('tenant:broken'),
      ),
    ).toBe(true);

    // Fail closed: base allows, but the broken tenant's requests are denied, not left to base alone.
    const outcome = engine.evaluate('broken', input);
    expect(outcome.base.allow).toBe(true);
    expect(outcome.allow).toBe(false);
    expect(outcome.decidedBy).toBe('tenant');
    expect(outcome.reasons[0]?.code).toBe('policy_denied');
    // Callers are not shown compiler output.
    expect(outcome.reasons[0]?.message).not.toContain('rego_parse_error');

    expect(engine.evaluate('good', input).allow).toBe(true);
    expect(engine.evaluate('other', input).allow).toBe(true);

    // Once fixed, ready again; a tenant that breaks later only turns the component WARN (ready):
    // pulling every replica out of service would deny every tenant for one tenant's mistake.
    await writeFile(join(dir, 'tenants', 'broken', 'policy.rego'), ALLOW_ALL_TENANT['policy.rego']);
    await engine.reloadFromDir({ tenants: ['broken'] });
    expect(engine.status().state).toBe('OK');
    await mkdir(join(dir, 'tenants', 'late'));
    await writeFile(
      join(dir, 'tenants', 'late', 'policy.rego'),
      'package mandate.tenant\n\nx := {\n',
    );
    await engine.reloadFromDir({ tenants: ['late'] });
    expect(engine.status()).toMatchObject({
      state: 'WARN',
      message: expect.stringContaining('late'),
    });
    expect(engine.evaluate('late', input).allow).toBe(false);
  });

  it('a tenant folder without Rego is an error too, not a tenant without policy', async () => {
    const dir = await dirWith({ base: ALLOW_ALL_BASE, tenants: { empty: { 'data.json': '{}' } } });
    const engine = await startEngine(dir);
    expect(engine.status().detail).toMatchObject({
      tenants: { empty: { state: 'ERROR', code: 'unit_invalid' } },
    });
    expect(engine.evaluate('empty', input).allow).toBe(false);
  });

  it('a tenant in the wrong package fails to compile, naming the entrypoint', async () => {
    const dir = await dirWith({
      base: ALLOW_ALL_BASE,
      tenants: {
        misnamed: {
          'policy.rego': 'package mandate.base\n\ndecision := {"allow": true, "reasons": []}\n',
        },
      },
    });
    const engine = await startEngine(dir);
    const detail = engine.status().detail as { tenants: Record<string, { error: string }> };
    expect(detail.tenants.misnamed?.error).toContain('mandate/tenant/decision');
    expect(engine.evaluate('misnamed', input).allow).toBe(false);
  });
});

describe('a broken base policy', () => {
  it('makes start() throw, naming the file and line', async () => {
    const dir = await dirWith({
      base: { 'policy.rego': 'package mandate.base\n\ndecision := {"allow": x}\n' },
    });
    const engine = createPolicyEngine({ config: { dir } });
    const error = await engine.start().then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(PolicyError);
    expect((error as PolicyError).code).toBe('compile_failed');
    expect((error as PolicyError).message).toContain('base/policy.rego:3');
    expect((error as PolicyError).problems[0]).toMatchObject({
      file: 'base/policy.rego',
      line: 3,
      kind: 'rego_unsafe_var_error',
    });
    expect(engine.status().state).toBe('ERROR');
    // Never an allow from an engine that did not start.
    expect(engine.evaluate(undefined, input).allow).toBe(false);
  });

  it('makes start() throw when base is missing, naming the directory', async () => {
    const dir = await dirWith({ tenants: { acme: ALLOW_ALL_TENANT } });
    const engine = createPolicyEngine({ config: { dir } });
    await expect(engine.start()).rejects.toThrow(/does not exist/);
    await expect(engine.start()).rejects.toThrow(dir);
  });

  it('names a missing opa binary', async () => {
    const dir = await dirWith({ base: ALLOW_ALL_BASE });
    const engine = createPolicyEngine({ config: { dir, opaPath: '/nonexistent/opa' } });
    await expect(engine.start()).rejects.toMatchObject({ code: 'opa_not_found' });
  });
});

describe('unsupported builtins', () => {
  const httpSend =
    'decision := {"allow": true, "reasons": [], "r": http.send({"method": "get", "url": "http://example.invalid"})}\n';

  it('are rejected when base loads, naming the builtin', async () => {
    const dir = await dirWith({ base: { 'policy.rego': `package mandate.base\n\n${httpSend}` } });
    const error = await createPolicyEngine({ config: { dir } })
      .start()
      .then(
        () => undefined,
        (thrown: unknown) => thrown as PolicyError,
      );
    expect(error?.code).toBe('unsupported_builtin');
    expect(error?.builtins).toEqual(['http.send']);
    expect(error?.message).toContain('http.send');
  });

  it('fail only that tenant, naming the builtin in its status', async () => {
    const dir = await dirWith({
      base: ALLOW_ALL_BASE,
      tenants: { fetcher: { 'policy.rego': `package mandate.tenant\n\n${httpSend}` } },
    });
    const engine = await startEngine(dir);
    expect(engine.status().detail).toMatchObject({
      tenants: {
        fetcher: {
          state: 'ERROR',
          code: 'unsupported_builtin',
          error: expect.stringContaining('http.send'),
        },
      },
    });
    expect(engine.evaluate('fetcher', input).allow).toBe(false);
  });

  it("accept opa-wasm's own JS builtins", async () => {
    const dir = await dirWith({
      base: {
        'policy.rego':
          'package mandate.base\n\ndecision := {"allow": true, "reasons": [{"code": "note", "message": sprintf("%s/%d", [input.action, 7])}]}\n',
      },
    });
    const engine = await startEngine(dir);
    expect(engine.evaluate(undefined, input).base.reasons).toEqual([
      { code: 'note', message: 'contacts.read/7' },
    ]);
  });
});

describe('undefined or malformed decisions deny', () => {
  const cases: [string, string][] = [
    ['undefined decision', 'decision := {"allow": true, "reasons": []} if input.never'],
    ['decision not an object', 'decision := true'],
    ['allow not a boolean', 'decision := {"allow": "yes", "reasons": []}'],
    ['allow missing', 'decision := {"reasons": []}'],
  ];

  for (const [name, rule] of cases) {
    it(name, async () => {
      const dir = await dirWith({ base: { 'policy.rego': `package mandate.base\n\n${rule}\n` } });
      const outcome = (await startEngine(dir)).evaluate(undefined, input);
      expect(outcome.allow).toBe(false);
      expect(outcome.reasons).toEqual([
        { code: 'policy_denied', message: 'policy produced no decision' },
      ]);
    });
  }

  it('a deny without reasons gets one', async () => {
    const dir = await dirWith({
      base: { 'policy.rego': 'package mandate.base\n\ndecision := {"allow": false}\n' },
    });
    const outcome = (await startEngine(dir)).evaluate(undefined, input);
    expect(outcome.reasons).toEqual([
      { code: 'policy_denied', message: 'denied by the base policy' },
    ]);
  });

  it('a runtime error in Rego is a deny, logged', async () => {
    const dir = await dirWith({
      // Two definitions of a complete rule that both hold: OPA's "var assignment conflict" at run time.
      base: {
        'policy.rego':
          'package mandate.base\n\nx := 1 if input.action\n\nx := 2 if input.subject\n\ndecision := {"allow": true, "reasons": [], "x": x}\n',
      },
    });
    const logger = recordingLogger();
    const engine = await startEngine(dir, { logger });
    const outcome = engine.evaluate(undefined, input);
    expect(outcome.allow).toBe(false);
    expect(outcome.reasons).toEqual([
      { code: 'policy_denied', message: 'policy evaluation failed' },
    ]);
    expect(
      logger.lines.some(
        (line) => line.level === 'error' && line.message?.includes('evaluation failed'),
      ),
    ).toBe(true);
    expect(engine.status().detail).toMatchObject({ base: { eval_errors: 1 } });
    // The module is still usable after an abort.
    expect(engine.evaluate(undefined, { action: 'contacts.read' }).allow).toBe(true);
  });
});

describe('lifecycle', () => {
  it('is NOT_READY before start and after stop, and denies then', async () => {
    const dir = await dirWith({ base: ALLOW_ALL_BASE });
    const engine = createPolicyEngine({ config: { dir } });
    expect(engine.status().state).toBe('NOT_READY');
    expect(engine.evaluate(undefined, input).reasons[0]?.code).toBe('internal_error');
    await engine.start();
    expect(engine.evaluate(undefined, input).allow).toBe(true);
    await engine.stop();
    expect(engine.status().state).toBe('NOT_READY');
    expect(engine.evaluate(undefined, input).allow).toBe(false);
  });

  it('a failed reload keeps serving the policies already loaded', async () => {
    const dir = await dirWith({ base: ALLOW_ALL_BASE });
    const engine = await startEngine(dir);
    const revision = engine.revisions().base;
    await writeFile(join(dir, 'base', 'policy.rego'), 'package mandate.base\n\ndecision := {\n');
    await expect(engine.start()).rejects.toMatchObject({ code: 'compile_failed' });
    expect(engine.status()).toMatchObject({
      state: 'WARN',
      message: expect.stringContaining('reload failed'),
    });
    expect(engine.revisions().base).toBe(revision);
    expect(engine.evaluate(undefined, input).allow).toBe(true);
  });

  it('revisions follow the sources', async () => {
    const first = await dirWith({ base: ALLOW_ALL_BASE });
    const same = await dirWith({ base: ALLOW_ALL_BASE });
    const other = await dirWith({ base: { ...ALLOW_ALL_BASE, 'data.json': '{"x": 1}' } });
    const revision = async (dir: string) => (await startEngine(dir)).revisions().base;
    expect(await revision(first)).toBe(await revision(same));
    expect(await revision(first)).not.toBe(await revision(other));
  });

  it('rejects data that would shadow the policy packages', async () => {
    const dir = await dirWith({
      base: { ...ALLOW_ALL_BASE, 'data.json': '{"mandate": {"x": 1}}' },
    });
    await expect(createPolicyEngine({ config: { dir } }).start()).rejects.toThrow(/mandate/);
  });
});
