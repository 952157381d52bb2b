// The runtime builtin list against the real compiler: natives import nothing, the capabilities file admits exactly the list.
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { createUnitCompiler, type UnitCompiler } from '../../src/policy/unit-compiler.js';
import { readUnitSnapshot } from '../../src/policy/unit-sources.js';
import {
  MANDATE_BUILTINS,
  OPA_WASM_JS_BUILTINS,
  WASM_NATIVE_BUILTINS,
} from '../../src/policy/runtime-builtins.js';
import { instantiateHost } from '../../src/policy/wasm-host.js';
import { makePolicyDir } from './fixtures.js';

let compiler: UnitCompiler;
beforeAll(async () => {
  compiler = await createUnitCompiler();
});

async function importsOf(rego: string): Promise<readonly string[]> {
  const { dir, remove } = await makePolicyDir({ base: { 'policy.rego': rego } });
  try {
    const compiled = await compiler.compileSolo(await readUnitSnapshot(dir, 'base'));
    return (await instantiateHost(compiled, {}, 'base')).builtins;
  } finally {
    await remove();
  }
}

describe('runtime builtins', () => {
  it('a sample of the Wasm-native list compiles to a module importing nothing', async () => {
    const rego = `package mandate.base

decision := {"allow": true, "reasons": [], "x": [
	startswith(input.a, "x"), object.get(input, "a", 1), json.marshal(input), count(input),
	regex.match("a+", "aa"), glob.match("a.*", ["."], "a.b"), base64.encode("x"), lower("A"),
	net.cidr_contains("10.0.0.0/8", "10.1.1.1"), numbers.range(1, 3), array.slice([1, 2], 0, 1),
	trim_space(" a "), to_number("1"), object.union({}, {}), sort([2, 1]),
]}
`;
    expect(await importsOf(rego)).toEqual([]);
  });

  it('host builtins are imported, and listed as such', async () => {
    const rego =
      'package mandate.base\n\ndecision := {"allow": true, "reasons": [], "x": [sprintf("%d", [1]), time.now_ns()]}\n';
    const imported = await importsOf(rego);
    expect([...imported].sort()).toEqual(['sprintf', 'time.now_ns']);
    for (const name of imported) {
      expect([...OPA_WASM_JS_BUILTINS, ...MANDATE_BUILTINS]).toContain(name);
    }
  });

  it('the capabilities file holds exactly the runtime builtins opa knows', async () => {
    const doc = JSON.parse(await readFile(compiler.capabilities.path, 'utf8')) as {
      builtins: { name: string }[];
      features?: unknown;
    };
    const names = new Set(doc.builtins.map((builtin) => builtin.name));
    for (const name of ['sprintf', 'time.now_ns', 'startswith', 'object.get', 'eq']) {
      expect(names.has(name)).toBe(true);
    }
    for (const name of ['http.send', 'crypto.sha256', 'io.jwt.decode', 'time.parse_rfc3339_ns']) {
      expect(names.has(name)).toBe(false);
      expect(compiler.capabilities.excluded.has(name)).toBe(true);
    }
    for (const name of names) {
      expect([...WASM_NATIVE_BUILTINS, ...OPA_WASM_JS_BUILTINS, ...MANDATE_BUILTINS]).toContain(
        name,
      );
    }
  });

  it('a builtin outside the list is a compile error naming file, line and builtin', async () => {
    const { dir, remove } = await makePolicyDir({
      tenants: {
        t: {
          'policy.rego':
            'package mandate.tenant\n\ndecision := {"allow": true, "reasons": []}\n\nh := crypto.sha256("x")\n',
        },
      },
    });
    try {
      const error = await compiler
        .compileSolo(await readUnitSnapshot(dir, 'tenant', 't'))
        .catch(
          (thrown: unknown) => thrown as { code: string; builtins: string[]; message: string },
        );
      expect(error).toMatchObject({ code: 'unsupported_builtin', builtins: ['crypto.sha256'] });
      expect((error as { message: string }).message).toContain('tenants/t/policy.rego:5');
    } finally {
      await remove();
    }
  });
});
