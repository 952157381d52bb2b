// Writes docs/mandate.schema.json and the reference part of docs/configuration.md from the built config schema (run by `npm run schema`).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { CONFIG_SCHEMA_FILE, configSchemaText } from '../dist/config/json-schema.js';
import { CONFIG_REFERENCE_FILE, replaceReference } from '../dist/config/reference.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Formats as `npm run lint` expects, so the checked-in files pass prettier --check. */
async function write(file, text) {
  const path = join(root, file);
  const options = (await prettier.resolveConfig(path)) ?? {};
  writeFileSync(path, await prettier.format(text, { ...options, filepath: path }));
  console.log(`wrote ${file}`);
}

await write(CONFIG_SCHEMA_FILE, configSchemaText());
const page = readFileSync(join(root, CONFIG_REFERENCE_FILE), 'utf8');
await write(CONFIG_REFERENCE_FILE, replaceReference(page));
