// Builds a unit's data document from its data files the way opa loads a directory, so data can change without a compile.
import { posix } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { RESERVED_DATA_KEY } from './conventions.js';
import { PolicyError } from './errors.js';

/** One data file of a unit: path relative to the unit folder (POSIX), and its bytes. */
export interface DataFile {
  readonly path: string;
  readonly content: Uint8Array;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(value: unknown): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseFile(unit: string, file: DataFile): Json {
  const text = new TextDecoder().decode(file.content);
  try {
    if (file.path.endsWith('.json')) return JSON.parse(text) as Json;
    return (parseYaml(text) ?? null) as Json;
  } catch (cause) {
    throw new PolicyError(
      'unit_invalid',
      `${unit}: ${file.path} is not valid ${file.path.endsWith('.json') ? 'JSON' : 'YAML'}`,
      {
        unit,
        cause,
      },
    );
  }
}

/** Deep-merges `value` into `target` at `path`; like opa, two values at one path other than objects conflict. */
function mergeAt(
  unit: string,
  target: Record<string, Json>,
  keys: readonly string[],
  value: Json,
  file: string,
): void {
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (next === undefined) node[key] = {};
    else if (!isObject(next)) {
      throw new PolicyError(
        'unit_invalid',
        `${unit}: ${file} conflicts with data already at ${key}`,
        { unit },
      );
    }
    node = node[key] as Record<string, Json>;
  }
  const last = keys[keys.length - 1];
  if (last === undefined) {
    if (!isObject(value)) {
      throw new PolicyError(
        'unit_invalid',
        `${unit}: ${file} must hold a JSON object at the top level`,
        {
          unit,
        },
      );
    }
    mergeObjects(unit, node, value, file);
    return;
  }
  const existing = node[last];
  if (existing === undefined) node[last] = value;
  else if (isObject(existing) && isObject(value)) mergeObjects(unit, existing, value, file);
  else
    throw new PolicyError(
      'unit_invalid',
      `${unit}: ${file} conflicts with data already at ${keys.join('.')}`,
      { unit },
    );
}

function mergeObjects(
  unit: string,
  into: Record<string, Json>,
  from: Record<string, Json>,
  file: string,
): void {
  for (const [key, value] of Object.entries(from)) {
    const existing = into[key];
    if (existing === undefined) into[key] = value;
    else if (isObject(existing) && isObject(value)) mergeObjects(unit, existing, value, file);
    else
      throw new PolicyError(
        'unit_invalid',
        `${unit}: ${file} conflicts with data already at ${key}`,
        { unit },
      );
  }
}

/**
 * The data document of a unit: each file's content mounted at its folder's path (`sub/x.json` →
 * `data.sub`), merged. Throws {@link PolicyError} `unit_invalid` for bad files, conflicts or the
 * reserved top-level key.
 */
export function mergeDataFiles(unit: string, files: readonly DataFile[]): Record<string, unknown> {
  const data: Record<string, Json> = {};
  for (const file of files) {
    const folder = posix.dirname(file.path);
    const keys = folder === '.' ? [] : folder.split('/');
    mergeAt(unit, data, keys, parseFile(unit, file), file.path);
  }
  if (Object.hasOwn(data, RESERVED_DATA_KEY)) {
    throw new PolicyError(
      'unit_invalid',
      `${unit}: data must not have a top-level "${RESERVED_DATA_KEY}" key; it is reserved for the policy packages`,
      { unit },
    );
  }
  return data;
}
