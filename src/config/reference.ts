// Renders the configuration reference (the tables in docs/configuration.md) from the schema's types, defaults and descriptions.
import { configFileSchema } from './schema/root.js';

type Json = Record<string, unknown>;

/** The page holding the reference, relative to the repository root. */
export const CONFIG_REFERENCE_FILE = 'docs/configuration.md';

/** The generated part of docs/configuration.md sits between these lines. */
export const REFERENCE_START =
  '<!-- config-reference:start (generated from src/config/schema by npm run schema; edit the schema, not this) -->';
export const REFERENCE_END = '<!-- config-reference:end -->';

interface Row {
  readonly key: string;
  readonly type: string;
  readonly fallback: string;
  readonly meaning: string;
}

/** One `###` section per top-level key, each with a table of its keys. */
export function renderReference(): string {
  const root = configFileSchema as unknown as Json;
  const parts: string[] = [];
  for (const [name, schema] of Object.entries(props(root))) {
    const rows: Row[] = [];
    const section = schema as Json;
    // A section's heading says what it is; its table lists its keys.
    if (isSection(section)) {
      for (const [key, child] of Object.entries(props(section))) {
        walk(`${name}.${key}`, child as Json, isRequired(section, key), rows);
      }
    } else walk(name, section, isRequired(root, name), rows);
    const description = text((schema as Json)['description']);
    parts.push(`### \`${name}\`\n\n${description}\n\n${table(rows)}`);
  }
  return parts.join('\n\n');
}

/** Replaces what lies between the markers in `markdown` with the rendered reference. */
export function replaceReference(markdown: string): string {
  const start = markdown.indexOf(REFERENCE_START);
  const end = markdown.indexOf(REFERENCE_END);
  if (start < 0 || end < start) throw new Error('the reference markers are missing');
  return `${markdown.slice(0, start + REFERENCE_START.length)}\n\n${renderReference()}\n\n${markdown.slice(end)}`;
}

function props(schema: Json): Json {
  return (schema['properties'] ?? {}) as Json;
}

function isRequired(parent: Json, key: string): boolean {
  return ((parent['required'] ?? []) as string[]).includes(key);
}

/** Adds a row for `schema` at `key`, then rows for the keys it holds. */
function walk(key: string, schema: Json, required: boolean, rows: Row[], note = ''): void {
  rows.push(row(key, schema, required, note));
  const entry = mapValue(schema);
  const items = schema['items'] as Json | undefined;
  if (isSection(schema)) {
    for (const [name, child] of Object.entries(props(schema))) {
      walk(`${key}.${name}`, child as Json, isRequired(schema, name), rows, note);
    }
  } else if (entry && isSection(entry)) {
    for (const [name, child] of Object.entries(props(entry))) {
      walk(`${key}.${placeholder(schema)}.${name}`, child as Json, isRequired(entry, name), rows);
    }
  } else if (items && Array.isArray(items['oneOf'])) {
    walkUnion(`${key}[]`, items, rows);
  } else if (items && isSection(items)) {
    for (const [name, child] of Object.entries(props(items))) {
      walk(`${key}[].${name}`, child as Json, isRequired(items, name), rows);
    }
  }
}

function isSection(schema: Json): boolean {
  return schema['type'] === 'object' && Object.keys(props(schema)).length > 0;
}

/** Rows for a list of tagged variants (`audit.sinks[]`): each key once, saying which variants have it. */
function walkUnion(key: string, schema: Json, rows: Row[]): void {
  const tag = (schema['discriminator'] as Json)['propertyName'] as string;
  const seen = new Map<string, string[]>();
  const variants = schema['oneOf'] as Json[];
  for (const variant of variants) {
    const value = (props(variant)[tag] as Json)['const'] as string;
    for (const name of Object.keys(props(variant))) {
      if (name !== tag) seen.set(name, [...(seen.get(name) ?? []), value]);
    }
  }
  rows.push({
    key: code(`${key}.${tag}`),
    type: `one of ${variants.map((v) => code((props(v)[tag] as Json)['const'])).join(', ')}`,
    fallback: 'required',
    meaning: variants
      .map(
        (v) =>
          `${code((props(v)[tag] as Json)['const'])}: ${text((props(v)[tag] as Json)['description'])}`,
      )
      .join(' '),
  });
  for (const [name, tags] of seen) {
    const variant = variants.find((v) =>
      tags.includes((props(v)[tag] as Json)['const'] as string),
    ) as Json;
    const note = tags.length === variants.length ? '' : `(${tags.map(code).join(', ')}) `;
    walk(`${key}.${name}`, props(variant)[name] as Json, isRequired(variant, name), rows, note);
  }
}

function mapValue(schema: Json): Json | undefined {
  const value = schema['additionalProperties'];
  return typeof value === 'object' && value !== null ? (value as Json) : undefined;
}

function placeholder(schema: Json): string {
  return (schema['x-key'] as string | undefined) ?? '<name>';
}

function row(key: string, schema: Json, required: boolean, note: string): Row {
  return {
    key: code(key),
    type: typeOf(schema),
    fallback: fallbackOf(schema, required),
    meaning: `${note}${text(schema['description'])}`,
  };
}

function typeOf(schema: Json): string {
  if (Array.isArray(schema['enum'])) return `one of ${schema['enum'].map(code).join(', ')}`;
  if (schema['const'] !== undefined) return code(schema['const']);
  if (Array.isArray(schema['anyOf'])) return (schema['anyOf'] as Json[]).map(typeOf).join(' or ');
  if (schema['not'] !== undefined) return 'refused';
  switch (schema['type']) {
    case 'integer': {
      const max = schema['maximum'] as number;
      return `integer ${String(schema['minimum'])}–${max === Number.MAX_SAFE_INTEGER ? '∞' : String(max)}`;
    }
    case 'array':
      return `list of ${plural(typeOf((schema['items'] ?? {}) as Json))}`;
    case 'object':
      return mapValue(schema) ? `map of ${plural(typeOf(mapValue(schema) as Json))}` : 'mapping';
    case 'string':
      return 'string';
    case 'boolean':
      return 'boolean';
    default:
      return 'any';
  }
}

function plural(type: string): string {
  return /^(string|boolean|mapping)$/.test(type) ? `${type}s` : type;
}

function fallbackOf(schema: Json, required: boolean): string {
  if (typeof schema['x-default'] === 'string') return schema['x-default'];
  // A section's defaults are its keys' defaults.
  if (isSection(schema)) return required ? 'required' : '—';
  if ('default' in schema) return formatValue(schema['default']);
  return required ? 'required' : '—';
}

function formatValue(value: unknown): string {
  if (Array.isArray(value)) return `\`[${value.join(', ')}]\``;
  if (typeof value === 'object' && value !== null) return `\`${JSON.stringify(value)}\``;
  return code(value);
}

function code(value: unknown): string {
  return `\`${String(value)}\``;
}

/** Table cells: no line breaks, `|` escaped. */
function text(value: unknown): string {
  return String(value ?? '')
    .replace(/\s*\n\s*/g, ' ')
    .replace(/\|/g, '\\|');
}

function table(rows: readonly Row[]): string {
  const lines = ['| key | type | default | meaning |', '| --- | --- | --- | --- |'];
  for (const r of rows)
    lines.push(`| ${r.key} | ${text(r.type)} | ${text(r.fallback)} | ${r.meaning} |`);
  return lines.join('\n');
}
