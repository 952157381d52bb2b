// The opa CLI wrapper with the real binary: its version, a Wasm build, and compile errors as typed values.
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { PolicyError } from '../../src/policy/errors.js';
import {
  PINNED_OPA_VERSION,
  createOpaCli,
  parseCompileProblems,
} from '../../src/policy/opa-cli.js';
import { readTar } from '../../src/policy/tar-reader.js';
import { readWasmBundle } from '../../src/policy/wasm-bundle.js';
import { SHIPPED_POLICIES, makePolicyDir } from './fixtures.js';

const opa = createOpaCli();
const cleanups: (() => Promise<void>)[] = [];

afterAll(async () => {
  await Promise.all(cleanups.map((remove) => remove()));
});

describe('opa CLI', () => {
  it('runs the pinned version', async () => {
    expect(await opa.version()).toBe(PINNED_OPA_VERSION);
  });

  it('builds a unit to a bundle holding policy.wasm and the unit data, without the tests', async () => {
    const gzipped = await opa.buildWasm({
      cwd: SHIPPED_POLICIES,
      path: 'base',
      entrypoint: 'mandate/base/decision',
      unit: 'base',
    });
    const paths = (await readTar(gunzipSync(gzipped))).map((file) => file.path);
    expect(paths).toContain('policy.wasm');
    expect(paths.some((path) => path.endsWith('_test.rego'))).toBe(false);

    const bundle = await readWasmBundle(gzipped, 'base');
    expect(Array.from(bundle.wasm.subarray(0, 4))).toEqual([0x00, 0x61, 0x73, 0x6d]);
    expect(bundle.data).toHaveProperty('scope_grants');
  });

  it('turns compile errors into a PolicyError with file:line problems', async () => {
    const { dir, remove } = await makePolicyDir({
      tenants: {
        acme: {
          'policy.rego': 'package mandate.tenant\n\ndecision := {"allow": y}\n\nother := q\n',
          'policy_test.rego': 'this is not rego and is not compiled',
        },
      },
    });
    cleanups.push(remove);
    const error = await opa
      .buildWasm({
        cwd: dir,
        path: 'tenants/acme',
        entrypoint: 'mandate/tenant/decision',
        unit: 'tenant:acme',
      })
      .then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
    expect(error).toBeInstanceOf(PolicyError);
    expect(error).toMatchObject({ code: 'compile_failed', unit: 'tenant:acme' });
    expect((error as PolicyError).problems).toEqual([
      {
        file: 'tenants/acme/policy.rego',
        line: 3,
        kind: 'rego_unsafe_var_error',
        text: 'var y is unsafe',
      },
      {
        file: 'tenants/acme/policy.rego',
        line: 5,
        kind: 'rego_unsafe_var_error',
        text: 'var q is unsafe',
      },
    ]);
    expect((error as PolicyError).message).toMatch(
      /^tenant:acme: .*tenants\/acme\/policy\.rego:3/s,
    );
  });

  it('reports a missing binary as opa_not_found', async () => {
    const missing = createOpaCli({ opaPath: '/nonexistent/opa' });
    await expect(missing.version()).rejects.toMatchObject({ code: 'opa_not_found' });
    await expect(
      missing.buildWasm({
        cwd: SHIPPED_POLICIES,
        path: 'base',
        entrypoint: 'mandate/base/decision',
        unit: 'base',
      }),
    ).rejects.toMatchObject({ code: 'opa_not_found' });
  });
});

describe('parseCompileProblems', () => {
  it('reads problems on their own lines and after a prefix', () => {
    const output = [
      'error: load error: 1 error occurred during loading: base/p.rego:5: rego_parse_error: unexpected eof token',
      '\tfoo := input.a +',
      '\t               ^',
      'base/q.rego:12: rego_type_error: undefined function foo.bar',
    ].join('\n');
    expect(parseCompileProblems(output)).toEqual([
      { file: 'base/p.rego', line: 5, kind: 'rego_parse_error', text: 'unexpected eof token' },
      {
        file: 'base/q.rego',
        line: 12,
        kind: 'rego_type_error',
        text: 'undefined function foo.bar',
      },
    ]);
  });
});
