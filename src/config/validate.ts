// Validates a config document against the schema with ajv (filling defaults) and turns the first error into a ConfigError naming the key.
import { Ajv, type ErrorObject } from 'ajv';
import { ConfigError } from './errors.js';
import { configFileSchema, type ConfigFile } from './schema/root.js';

type Json = Record<string, unknown>;

const ajv = new Ajv({ useDefaults: true, discriminator: true, verbose: true, strict: true });
// Annotations the schema carries for messages and the reference page; they validate nothing.
ajv.addKeyword({ keyword: 'errorMessage', schemaType: ['string', 'object'] });
ajv.addKeyword({ keyword: 'x-default', schemaType: 'string' });
ajv.addKeyword({ keyword: 'x-key', schemaType: 'string' });
const check = ajv.compile<ConfigFile>(configFileSchema);

/**
 * Checks `doc` (a fresh copy: defaults are written into it) and returns it typed. YAML `key:`
 * with no value is null: it means "unset", as if the key were absent.
 */
export function validateConfigDocument(doc: unknown): ConfigFile {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new ConfigError('(root)', 'must be a mapping');
  }
  dropNulls(doc);
  if (check(doc)) return doc;
  const errors = check.errors ?? [];
  // Without allErrors, ajv stops at the first failing keyword; a failing anyOf or propertyNames
  // reports its branches first and itself last, and the last one names the key best.
  throw toConfigError(errors[errors.length - 1] as ErrorObject);
}

function dropNulls(value: unknown): void {
  if (Array.isArray(value)) value.forEach(dropNulls);
  else if (typeof value === 'object' && value !== null) {
    const obj = value as Json;
    for (const [k, v] of Object.entries(obj)) {
      if (v === null) delete obj[k];
      else dropNulls(v);
    }
  }
}

/** `/issuers/0/algorithms/1` → `issuers[0].algorithms[1]`. */
function keyPath(pointer: string, child?: string): string {
  const parts = pointer === '' ? [] : pointer.slice(1).split('/');
  if (child !== undefined) parts.push(child);
  let out = '';
  for (const raw of parts) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(part) ? `[${part}]` : out === '' ? part : `.${part}`;
  }
  return out === '' ? '(root)' : out;
}

function toConfigError(e: ErrorObject): ConfigError {
  const parent = (e.parentSchema ?? {}) as Json;
  switch (e.keyword) {
    case 'required':
      return new ConfigError(keyPath(e.instancePath, e.params.missingProperty), 'is required');
    case 'additionalProperties': {
      const allowed = Object.keys((parent['properties'] ?? {}) as Json).join(', ');
      return new ConfigError(
        keyPath(e.instancePath, e.params.additionalProperty),
        `unknown key (expected one of: ${allowed})`,
      );
    }
    case 'propertyNames': {
      const names = e.schema as Json;
      const message = typeof names['errorMessage'] === 'string' ? names['errorMessage'] : null;
      return new ConfigError(
        keyPath(e.instancePath, e.params.propertyName),
        message ?? 'is not an allowed name',
      );
    }
    case 'discriminator': {
      const tag = e.params.tag as string;
      const tags = ((parent['oneOf'] ?? []) as Json[]).map(
        (s) => ((s['properties'] as Json)[tag] as Json)['const'] as string,
      );
      return new ConfigError(
        keyPath(e.instancePath, tag),
        e.params.error === 'tag'
          ? `is required (${tags.join(', ')})`
          : `must be one of: ${tags.join(', ')}`,
      );
    }
    default:
      return new ConfigError(keyPath(e.instancePath), messageOf(e, parent));
  }
}

/** The schema's own message for this keyword, else one written from the schema's type and bounds. */
function messageOf(e: ErrorObject, parent: Json): string {
  const custom = parent['errorMessage'];
  const text =
    typeof custom === 'string'
      ? custom
      : typeof custom === 'object' && custom !== null
        ? (custom as Record<string, string>)[e.keyword]
        : undefined;
  if (text !== undefined) return text.replace('{value}', JSON.stringify(e.data));
  if (Array.isArray(parent['enum'])) return `must be one of: ${parent['enum'].join(', ')}`;
  switch (parent['type']) {
    case 'integer':
      return `must be an integer between ${String(parent['minimum'] ?? 0)} and ${String(parent['maximum'] ?? Number.MAX_SAFE_INTEGER)}`;
    case 'boolean':
      return 'must be true or false';
    case 'string': {
      const min = Number(parent['minLength'] ?? 0);
      if (e.keyword === 'pattern') return `must match ${String(parent['pattern'])}`;
      return min > 1 ? `must be at least ${min} characters` : 'must be a non-empty string';
    }
    case 'array': {
      const items = (parent['items'] ?? {}) as Json;
      if (e.keyword === 'minItems') return `must list at least ${String(parent['minItems'])}`;
      return items['type'] === 'string' ? 'must be a list of non-empty strings' : 'must be a list';
    }
    case 'object':
      return 'must be a mapping';
    default:
      return e.keyword === 'not' ? 'is not allowed' : 'has the wrong type';
  }
}
