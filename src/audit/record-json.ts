// Serialises audit records to JSON, writing a cached token's claims and subject in `input` from text made once per token.
//
// JSON.stringify of a record is a large share of a cached-token check, and the claims and the
// subject are a good part of it (BENCHMARKS.md, "record-json"), identical for every check of one
// token. They are interned (they never change), so their JSON is kept per object, weakly. The record
// is serialised with a marker in their place, then the markers are replaced by that text.
import { isInterned } from '../lib/interned.js';
import type { AuditRecord } from './record.js';

const fragments = new WeakMap<object, string>();

/** Markers JSON writes as `"\u0000subject"`; found from the end of the line, see below. */
const SUBJECT_MARK = '\u0000subject';
const CLAIMS_MARK = '\u0000claims';
const SUBJECT_TEXT = JSON.stringify(SUBJECT_MARK);
const CLAIMS_TEXT = JSON.stringify(CLAIMS_MARK);

function fragmentOf(value: object): string {
  let json = fragments.get(value);
  if (json === undefined) {
    json = JSON.stringify(value);
    fragments.set(value, json);
  }
  return json;
}

/** `line` with the last `marker` replaced by `text`. */
function replaceLast(line: string, marker: string, text: string): string {
  const at = line.lastIndexOf(marker);
  return `${line.slice(0, at)}${text}${line.slice(at + marker.length)}`;
}

/**
 * Exactly `JSON.stringify(record)`. The shortcut applies when `input` is the last member of the
 * record and `subject` and `claims` are interned and followed in `input` only by `transport`: then
 * nothing a caller supplied is written after the markers, so the last occurrence of each is ours
 * even if a caller's string happens to read the same. Anything else is plain JSON.stringify.
 */
export function recordJson(record: AuditRecord): string {
  const input = (record as { input?: unknown }).input as Record<string, unknown> | undefined;
  if (
    input === undefined ||
    !isInterned(input['subject']) ||
    !isInterned(input['claims']) ||
    typeof input['transport'] !== 'string' ||
    !isLastKeys(record as object, ['input']) ||
    !isLastKeys(input, ['subject', 'claims', 'transport'])
  ) {
    return JSON.stringify(record);
  }
  const subject = input['subject'];
  const claims = input['claims'];
  let line: string;
  // The record is the audit log's own until it is rendered; the swap is undone before anyone else runs.
  input['subject'] = SUBJECT_MARK;
  input['claims'] = CLAIMS_MARK;
  try {
    line = JSON.stringify(record);
  } finally {
    input['subject'] = subject;
    input['claims'] = claims;
  }
  // Subject first: after its marker come only the claims marker and `transport`. Then claims: the
  // subject text now before it cannot matter, and after it comes only `transport`.
  line = replaceLast(line, SUBJECT_TEXT, fragmentOf(subject));
  return replaceLast(line, CLAIMS_TEXT, fragmentOf(claims));
}

/** True when the object's own enumerable keys end with `tail`, in that order. */
function isLastKeys(object: object, tail: readonly string[]): boolean {
  const keys = Object.keys(object);
  if (keys.length < tail.length) return false;
  const offset = keys.length - tail.length;
  return tail.every((key, i) => keys[offset + i] === key);
}
