// The config schema as a plain JSON Schema document for editors (docs/mandate.schema.json, written by `npm run schema`).
import { configFileSchema } from './schema/root.js';

/** Where the document is checked in, relative to the repository root. */
export const CONFIG_SCHEMA_FILE = 'docs/mandate.schema.json';

type Json = Record<string, unknown>;

/**
 * The schema as JSON. Editors (VS Code, yaml-language-server) show `patternErrorMessage` and a
 * string `errorMessage`; a per-keyword `errorMessage` is ours alone, so only its `pattern`
 * message is kept, under the name editors read.
 */
export function configJsonSchema(): Json {
  const plain = JSON.parse(JSON.stringify(configFileSchema)) as Json;
  return { $schema: 'http://json-schema.org/draft-07/schema#', ...(forEditors(plain) as Json) };
}

/** The checked-in text (before formatting). */
export function configSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}

function forEditors(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(forEditors);
  if (typeof node !== 'object' || node === null) return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node as Json)) {
    if (k === 'errorMessage' && typeof v === 'object' && v !== null) {
      const pattern = (v as Json)['pattern'];
      if (typeof pattern === 'string') out['patternErrorMessage'] = pattern;
    } else {
      out[k] = forEditors(v);
    }
  }
  return out;
}
