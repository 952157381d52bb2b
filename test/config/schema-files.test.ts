// The exported JSON Schema and the generated reference page: current, described key by key, and usable by an editor's validator.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import * as prettier from 'prettier';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import {
  CONFIG_SCHEMA_FILE,
  configJsonSchema,
  configSchemaText,
} from '../../src/config/json-schema.js';
import { CONFIG_REFERENCE_FILE, replaceReference } from '../../src/config/reference.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** mandate config files shipped as examples; each names the schema for editors. */
const EXAMPLE_CONFIGS = ['examples/envoy/mandate.yaml'];

async function formatted(file: string, text: string): Promise<string> {
  const path = join(ROOT, file);
  const options = (await prettier.resolveConfig(path)) ?? {};
  return prettier.format(text, { ...options, filepath: path });
}

type Json = Record<string, unknown>;

/** Every schema that stands for a key: properties, list items' properties, map values' properties. */
function keys(schema: Json, path: string, out: [string, Json][]): [string, Json][] {
  for (const [name, child] of Object.entries((schema['properties'] ?? {}) as Json)) {
    out.push([`${path}${name}`, child as Json]);
    keys(child as Json, `${path}${name}.`, out);
  }
  for (const nested of ['items', 'additionalProperties']) {
    const child = schema[nested];
    if (typeof child === 'object' && child !== null) keys(child as Json, `${path}*.`, out);
  }
  for (const variant of (schema['oneOf'] ?? []) as Json[]) keys(variant, path, out);
  return out;
}

/** A validator as an editor builds one: plain ajv over the exported document, no mandate code. */
function editorValidator() {
  const ajv = new Ajv({ strict: false, allErrors: true });
  const text = readFileSync(join(ROOT, CONFIG_SCHEMA_FILE), 'utf8');
  const schema = JSON.parse(text) as Json;
  // The draft-07 meta-schema is not bundled with ajv 8's default export; editors know it.
  delete schema['$schema'];
  return ajv.compile(schema);
}

describe('config schema files', () => {
  it(`${CONFIG_SCHEMA_FILE} is current (run npm run schema after changing src/config/schema)`, async () => {
    const committed = readFileSync(join(ROOT, CONFIG_SCHEMA_FILE), 'utf8');
    expect(committed, `${CONFIG_SCHEMA_FILE} is stale: run npm run schema`).toBe(
      await formatted(CONFIG_SCHEMA_FILE, configSchemaText()),
    );
  });

  it(`the reference in ${CONFIG_REFERENCE_FILE} is current (run npm run schema)`, async () => {
    const committed = readFileSync(join(ROOT, CONFIG_REFERENCE_FILE), 'utf8');
    expect(committed, `${CONFIG_REFERENCE_FILE} is stale: run npm run schema`).toBe(
      await formatted(CONFIG_REFERENCE_FILE, replaceReference(committed)),
    );
  });

  it('describes every key, and the reference lists every key', () => {
    const all = keys(configJsonSchema(), '', []);
    expect(all.length).toBeGreaterThan(150);
    const undescribed = all.filter(([, s]) => typeof s['description'] !== 'string');
    expect(undescribed.map(([k]) => k)).toEqual([]);
    const page = readFileSync(join(ROOT, CONFIG_REFERENCE_FILE), 'utf8');
    for (const [key] of all) {
      const last = key.split('.').pop() as string;
      if (last !== '*') expect(page, key).toContain(last);
    }
  });

  it('lets an editor validate the example configs, and catch a typo naming the key', () => {
    const validate = editorValidator();
    const page = readFileSync(join(ROOT, CONFIG_REFERENCE_FILE), 'utf8');
    const documents: [string, string][] = EXAMPLE_CONFIGS.map((file) => [
      file,
      readFileSync(join(ROOT, file), 'utf8'),
    ]);
    for (const [, code] of page.matchAll(/```yaml\n([\s\S]*?)```/g)) {
      documents.push([CONFIG_REFERENCE_FILE, code as string]);
    }
    for (const [file, text] of documents) {
      // The first line points the YAML language server at the checked-in schema.
      const m = /^# yaml-language-server: \$schema=(\S+)\n/.exec(text);
      expect(m, `${file} names the schema on its first line`).not.toBeNull();
      expect(resolve(dirname(join(ROOT, file)), m?.[1] as string)).toBe(
        join(ROOT, CONFIG_SCHEMA_FILE),
      );
      expect(validate(parseYaml(text)), `${file}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
    expect(validate({ listen: { htp: '127.0.0.1:1' } })).toBe(false);
    expect(validate.errors?.[0]?.params).toEqual({ additionalProperty: 'htp' });
  });
});
