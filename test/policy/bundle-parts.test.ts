// The pieces under bundles: canonical JSON hashing, tar writing, data file merging, poll back-off, the Wasm memory import.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { backoffMs } from '../../src/policy/bundle-poller.js';
import { readPolicyBundle, writePolicyBundle } from '../../src/policy/bundle-format.js';
import { bundleFileDigest } from '../../src/policy/bundle-signing.js';
import { canonicalJson } from '../../src/policy/canonical-json.js';
import { mergeDataFiles } from '../../src/policy/data-files.js';
import { readTar } from '../../src/policy/tar-reader.js';
import { writeTar } from '../../src/policy/tar-writer.js';
import { importedMemoryMinPages } from '../../src/policy/wasm-host.js';

const bytes = (text: string) => new TextEncoder().encode(text);

describe('canonical JSON (as OPA hashes .manifest and data.json)', () => {
  it('sorts keys, drops whitespace, keeps number literals, escapes like Go without HTML escaping', () => {
    expect(canonicalJson('{ "b": [1.0, 2e3, -0], "a": {"y": true, "x": null} }')).toBe(
      '{"a":{"x":null,"y":true},"b":[1.0,2e3,-0]}',
    );
    expect(canonicalJson('"<a>&\\u2028\\n\\u0001"')).toBe('"<a>&\\u2028\\n\\u0001"');
    // Keys compare by UTF-8 bytes (Go's sort), not UTF-16 units.
    expect(canonicalJson('{"\uFF61": 1, "\uD83D\uDE00": 2}')).toBe('{"\uFF61":1,"\uD83D\uDE00":2}');
  });

  it('rejects text that is not JSON', () => {
    expect(() => canonicalJson('{"a": }')).toThrow();
    expect(() => canonicalJson('[1] 2')).toThrow();
  });

  it('hashes structured files canonically and everything else raw', () => {
    const digest = (text: string) => createHash('sha256').update(text).digest('hex');
    expect(bundleFileDigest('data.json', bytes('{ "b": 1, "a": 2 }'))).toBe(
      digest('{"a":2,"b":1}'),
    );
    expect(bundleFileDigest('roles/data.json', bytes('{"x": [ ]}'))).toBe(digest('{"x":[]}'));
    expect(bundleFileDigest('.manifest', bytes('{"revision": "r"}'))).toBe(
      digest('{"revision":"r"}'),
    );
    expect(bundleFileDigest('x.json', bytes('{ }'))).toBe(digest('{ }'));
    expect(() => bundleFileDigest('policy.wasm', bytes('x'), 'SHA-3')).toThrow(/unsupported/);
  });
});

describe('bundle files', () => {
  it('round-trip through our tar writer and reader', async () => {
    const archive = await writeTar([
      { path: '/.manifest', data: bytes('{}') },
      { path: '/nested/data.json', data: bytes('{"a": 1}') },
    ]);
    expect(
      (await readTar(archive)).map((file) => [file.path, new TextDecoder().decode(file.data)]),
    ).toEqual([
      ['.manifest', '{}'],
      ['nested/data.json', '{"a": 1}'],
    ]);
  });

  it('mount nested data.json files at their folder and read the manifest entrypoint', async () => {
    const gz = await writePolicyBundle({
      manifest: {
        revision: 'r1',
        wasm: [{ entrypoint: 'mandate/tenant/decision', module: '/policy.wasm' }],
      },
      wasm: new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]),
      data: { top: 1 },
    });
    const bundle = await readPolicyBundle(gz, 'tenant:a', 'mandate/tenant/decision');
    expect(bundle.revision).toBe('r1');
    expect(bundle.data).toEqual({ top: 1 });
    await expect(readPolicyBundle(gz, 'tenant:a', 'other/entry')).resolves.toBeDefined();
    await expect(readPolicyBundle(bytes('nope'), 'tenant:a', 'x')).rejects.toThrow(
      /not a gzipped tar/,
    );
  });
});

describe('data files', () => {
  it('merge at their folder, like opa loads a directory', () => {
    const data = mergeDataFiles('tenant:a', [
      { path: 'data.json', content: bytes('{"a": {"x": 1}}') },
      { path: 'a/more.yaml', content: bytes('y: 2\n') },
      { path: 'b/c/data.json', content: bytes('[1, 2]') },
    ]);
    expect(data).toEqual({ a: { x: 1, y: 2 }, b: { c: [1, 2] } });
  });

  it('refuse conflicts, bad files and the reserved key, naming the file', () => {
    expect(() =>
      mergeDataFiles('t', [
        { path: 'data.json', content: bytes('{"a": 1}') },
        { path: 'a/data.json', content: bytes('{"b": 1}') },
      ]),
    ).toThrow(/a\/data.json conflicts/);
    expect(() => mergeDataFiles('t', [{ path: 'data.json', content: bytes('{') }])).toThrow(
      /data.json is not valid JSON/,
    );
    expect(() => mergeDataFiles('t', [{ path: 'data.json', content: bytes('[1]') }])).toThrow(
      /JSON object/,
    );
    expect(() =>
      mergeDataFiles('t', [{ path: 'data.json', content: bytes('{"mandate": 1}') }]),
    ).toThrow(/reserved/);
  });
});

describe('polling back-off', () => {
  it('grows from 100 ms by 1.6 per retry, within ±20 %, capped at the max delay', () => {
    expect(backoffMs(0, 10_000, () => 0.5)).toBe(100);
    expect(backoffMs(3, 10_000, () => 0.5)).toBeCloseTo(409.6);
    expect(backoffMs(50, 10_000, () => 1)).toBe(10_000);
    expect(backoffMs(2, 10_000, () => 0)).toBeCloseTo(256 * 0.8);
  });
});

describe('the Wasm memory import', () => {
  it('reads the minimum pages from the import section', () => {
    // (module (import "env" "memory" (memory 7)))
    const module = new Uint8Array([
      0, 97, 115, 109, 1, 0, 0, 0, 2, 15, 1, 3, 101, 110, 118, 6, 109, 101, 109, 111, 114, 121, 2,
      0, 7,
    ]);
    expect(importedMemoryMinPages(module)).toBe(7);
    expect(importedMemoryMinPages(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]))).toBe(0);
  });
});
