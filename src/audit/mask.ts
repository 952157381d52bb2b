// Masking applied to every record before it leaves memory: credentials scrubbed by construction, then the configured JSON-pointer rules.
import type { AuditMaskRule } from '../config/types.js';
import type { AuditRecord } from './record.js';

/** What replaces a string that carries a credential (a JWS, a `Bearer …` value). */
export const CREDENTIAL_PLACEHOLDER = '[credential]';

/** Keys whose values are credentials wherever they appear (headers copied into context, OPA-Envoy inputs). */
const CREDENTIAL_KEYS = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
]);
/** An HTTP credential value: scheme then the secret. */
const AUTH_SCHEME = /^\s*(?:bearer|basic|digest|dpop|negotiate|token)\s+\S/i;
/** The scheme words of AUTH_SCHEME, for the line-level precheck. */
const SCHEMES = ['bearer', 'basic', 'digest', 'dpop', 'negotiate', 'token'];
/** Every character JS `\s` matches (a test checks this against the runtime), i.e. AUTH_SCHEME's whitespace. */
const JS_SPACES =
  '\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff';
/** First letters of those schemes and any leading whitespace `\s*` admits, so most strings skip the regex. */
const SCHEME_START = new Set([...'bBdDnNtT', ...JS_SPACES]);
/** A compact JWS/JWT anywhere in a string (a token pasted into a path, a query, a note). */
const COMPACT_JWS = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
/** Nesting beyond this is cut, so a hostile document cannot exhaust the stack off the request path. */
const MAX_DEPTH = 64;
const TOO_DEEP = '[too deep]';

const REMOVE: unique symbol = Symbol('remove');
type Edited = unknown | typeof REMOVE;

export type Masker = (record: AuditRecord) => AuditRecord;

/** RFC 6901 escaping of one segment. */
function escapeSegment(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** The pointer of the node at `path` (built only when something there is a hit). */
function pointerOf(path: readonly (string | number)[]): string {
  let out = '';
  for (const seg of path) out += `/${typeof seg === 'number' ? seg : escapeSegment(seg)}`;
  return out;
}

interface Hits {
  erased: string[];
  masked: string[];
}

function isCredentialKey(key: string): boolean {
  // Lengths first: almost every key is ruled out without lower-casing it.
  const n = key.length;
  if (n !== 6 && n !== 9 && n !== 10 && n !== 13 && n !== 19) return false;
  return CREDENTIAL_KEYS.has(key.toLowerCase());
}

function scrubString(value: string): string {
  if (value.length > 5 && SCHEME_START.has(value[0] as string) && AUTH_SCHEME.test(value)) {
    return CREDENTIAL_PLACEHOLDER;
  }
  if (!value.includes('eyJ')) return value;
  COMPACT_JWS.lastIndex = 0;
  return value.replace(COMPACT_JWS, CREDENTIAL_PLACEHOLDER);
}

/**
 * Returns `node` itself when nothing in it is a credential, else a copy with credentials removed.
 * `path` is a shared stack of the segments leading here: pointers are only built for hits.
 */
function scrub(node: unknown, path: (string | number)[], hits: Hits): unknown {
  if (typeof node === 'string') {
    const clean = scrubString(node);
    if (clean !== node) hits.masked.push(pointerOf(path));
    return clean;
  }
  if (node === null || typeof node !== 'object') return node;
  if (path.length >= MAX_DEPTH) {
    hits.masked.push(pointerOf(path));
    return TOO_DEEP;
  }
  if (Array.isArray(node)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < node.length; i++) {
      const child: unknown = node[i];
      if (child === null || (typeof child !== 'object' && typeof child !== 'string')) continue;
      path.push(i);
      const next = scrub(child, path, hits);
      path.pop();
      if (next !== child) {
        copy ??= [...node];
        copy[i] = next;
      }
    }
    return copy ?? node;
  }
  const obj = node as Record<string, unknown>;
  let copy: Record<string, unknown> | undefined;
  for (const key in obj) {
    if (!Object.hasOwn(obj, key)) continue;
    const child = obj[key];
    if (isCredentialKey(key)) {
      copy ??= { ...obj };
      delete copy[key];
      path.push(key);
      hits.erased.push(pointerOf(path));
      path.pop();
      continue;
    }
    // A key is written wherever its value is, so it is scrubbed like one; the pointers below it
    // are built from the clean key, never from the credential.
    const cleanKey = scrubString(key);
    path.push(cleanKey);
    const next =
      child === null || (typeof child !== 'object' && typeof child !== 'string')
        ? child
        : scrub(child, path, hits);
    if (cleanKey !== key) {
      copy ??= { ...obj };
      delete copy[key];
      // Two keys scrubbed alike (or one clashing with a key already there) would overwrite a
      // value: the clean key stays, the renamed entry is dropped.
      if (Object.hasOwn(copy, cleanKey)) hits.erased.push(pointerOf(path));
      else {
        hits.masked.push(pointerOf(path));
        copy[cleanKey] = next;
      }
    } else if (next !== child) {
      copy ??= { ...obj };
      copy[key] = next;
    }
    path.pop();
  }
  return copy ?? node;
}

/** Applies one rule below `node`, copying only along the paths it changes. */
function edit(node: unknown, rule: AuditMaskRule, i: number, ptr: string, hits: Hits): Edited {
  if (i === rule.segments.length) {
    if (rule.op === 'erase') {
      hits.erased.push(ptr);
      return REMOVE;
    }
    hits.masked.push(ptr);
    return rule.value;
  }
  if (node === null || typeof node !== 'object') return node;
  const seg = rule.segments[i] as string;
  if (Array.isArray(node)) {
    const indices =
      seg === '*' ? node.map((_v, k) => k) : /^(0|[1-9]\d*)$/.test(seg) ? [Number(seg)] : [];
    let copy: unknown[] | undefined;
    const removed = new Set<number>();
    for (const k of indices) {
      if (k >= node.length) continue;
      const child: unknown = node[k];
      const next = edit(child, rule, i + 1, `${ptr}/${k}`, hits);
      if (next === child) continue;
      copy ??= [...node];
      if (next === REMOVE) removed.add(k);
      else copy[k] = next;
    }
    if (copy === undefined) return node;
    return removed.size > 0 ? copy.filter((_v, k) => !removed.has(k)) : copy;
  }
  const obj = node as Record<string, unknown>;
  const keys = seg === '*' ? Object.keys(obj) : Object.hasOwn(obj, seg) ? [seg] : [];
  let copy: Record<string, unknown> | undefined;
  for (const key of keys) {
    const child = obj[key];
    const next = edit(child, rule, i + 1, `${ptr}/${escapeSegment(key)}`, hits);
    if (next === child) continue;
    copy ??= { ...obj };
    if (next === REMOVE) delete copy[key];
    else copy[key] = next;
  }
  return copy ?? node;
}

/**
 * Builds the masker: first every credential-looking value is removed wherever it is (keys such as
 * `authorization`, `Bearer …` values, compact JWS strings), in object keys as in values at every
 * depth, then the configured rules run in order. The pointers touched are listed in the record's `erased` and `masked`, as OPA does.
 * The input record is never modified (its objects are shared with caches and the caller);
 * a record nothing applies to is returned as is.
 */
export function createMasker(rules: readonly AuditMaskRule[]): Masker {
  return (record) => {
    const hits: Hits = { erased: [], masked: [] };
    let current = scrub(record, [], hits) as Record<string, unknown>;
    for (const rule of rules) {
      const next = edit(current, rule, 0, '', hits);
      if (next !== REMOVE) current = next as Record<string, unknown>;
    }
    if (hits.erased.length === 0 && hits.masked.length === 0) return record;
    if (current === (record as unknown)) current = { ...current };
    if (hits.erased.length > 0) current['erased'] = hits.erased;
    if (hits.masked.length > 0) current['masked'] = hits.masked;
    return current as unknown as AuditRecord;
  };
}

// The line-level precheck. JSON.stringify escapes only `"`, `\`, control characters and lone
// surrogates, so whatever scrub() would act on leaves a visible mark in the record's JSON line:
// a scan for those marks (by rare anchor characters, far cheaper than one regex over the line)
// lets a clean record skip the structural walk.

/** The `\s` characters JSON writes as they are; the others (\t \n \v \f \r) become `\…` escapes. */
const RAW_SPACES = [...JS_SPACES].filter((c) => c >= ' ');
/** KELVIN SIGN: the one non-ASCII character toLowerCase() turns into an ASCII letter (`k`). */
const KELVIN = 0x212a;
/** Characters every credential key holds (the z of authorization, the k of cookie and x-api-key). */
const KEY_ANCHORS = ['z', 'Z', 'k', 'K', String.fromCharCode(KELVIN)];

type Probe = (line: string, at: number) => boolean;

/**
 * `word` (lower case) at `start`, matching every character toLowerCase() turns into its letters
 * (either ASCII case, KELVIN as k); `c | 0x20` also lets a few non-letters through: false positives only.
 */
function wordAt(line: string, start: number, word: string): boolean {
  if (start < 0) return false;
  for (let j = 0; j < word.length; j++) {
    const c = line.charCodeAt(start + j);
    const w = word.charCodeAt(j);
    if (c !== w && (c | 0x20) !== w && !(c === KELVIN && w === 0x6b)) return false;
  }
  return true;
}

/** `at` is a `J`: a compact JWS starts `eyJ` (none of those letters is ever escaped). */
const jwsAt: Probe = (line, at) => at >= 2 && line.startsWith('eyJ', at - 2);

/** `at` is a z or a k: a credential key ends in `"` in the line, whatever its case. */
const credentialKeyAt: Probe = (line, at) =>
  wordAt(line, at - 7, 'authorization"') ||
  wordAt(line, at - 3, 'cookie"') ||
  wordAt(line, at - 6, 'x-api-key"');

/** `at` is whitespace or a `\` (an escaped one): is a scheme word right before it? */
const schemeBefore: Probe = (line, at) => {
  for (const scheme of SCHEMES) if (wordAt(line, at - scheme.length, scheme)) return true;
  return false;
};

/** True when `probe` holds at some occurrence of `anchor`. */
function anyAt(line: string, anchor: string, probe: Probe): boolean {
  for (let at = line.indexOf(anchor); at !== -1; at = line.indexOf(anchor, at + 1)) {
    if (probe(line, at)) return true;
  }
  return false;
}

/** How many `{` and `[` a text holds, inside strings or not. */
export function openBracketCount(text: string): number {
  let n = 0;
  for (const open of '{[') {
    for (let at = text.indexOf(open); at !== -1; at = text.indexOf(open, at + 1)) n++;
  }
  return n;
}

/**
 * A line with this many `{`/`[` in all may be cut by scrub()'s depth limit: an object 64 levels
 * below the record opens the 65th; one fewer is counted so such an object rendered without
 * brackets (a Date) is covered too. Brackets inside strings count as well, which is only conservative.
 */
export const PRECHECK_MAX_BRACKETS = MAX_DEPTH;

/**
 * Lets a clean record skip the structural walk: on a record's `JSON.stringify` line, false means
 * scrub() would change nothing (no JWS, no `Bearer …`-like value, no credential key, no nesting to
 * cut), so with no mask rules the line is already the masked one. False positives only cost the walk.
 * Blind spots, by construction of JSON: a credential key whose value JSON drops (undefined) writes
 * nothing, so nothing leaks, but `erased` does not list it; and structure a `toJSON` hides (records
 * are plain data).
 */
export function mayHoldCredential(line: string): boolean {
  if (anyAt(line, 'J', jwsAt)) return true;
  for (const anchor of KEY_ANCHORS) if (anyAt(line, anchor, credentialKeyAt)) return true;
  if (anyAt(line, '\\', schemeBefore)) return true;
  for (const space of RAW_SPACES) if (anyAt(line, space, schemeBefore)) return true;
  return openBracketCount(line) >= PRECHECK_MAX_BRACKETS;
}
