// Serialises audit records to JSON, writing a cached token's claims and subject in `input` from text made once per token.
//
// JSON.stringify of a record is a large share of a cached-token check, and the claims and the
// subject are a good part of it (BENCHMARKS.md, "record-json"), identical for every check of one
// token. They are interned (they never change), so their JSON is kept per object, weakly. A copy
// of the record is serialised with a marker in their place, then the markers are replaced by that
// text.
import { isInterned } from '../lib/interned.js';
import type { AuditRecord } from './record.js';

/** Markers JSON writes as `"\u0000subject"`; found from the end of the line, see below. */
const SUBJECT_MARK = '\u0000subject';
const CLAIMS_MARK = '\u0000claims';
const SUBJECT_TEXT = JSON.stringify(SUBJECT_MARK);
const CLAIMS_TEXT = JSON.stringify(CLAIMS_MARK);

/** `line` with the last `marker` replaced by `text`. */
function replaceLast(line: string, marker: string, text: string): string {
  const at = line.lastIndexOf(marker);
  return `${line.slice(0, at)}${text}${line.slice(at + marker.length)}`;
}

/** Serialises records; owns the JSON of the interned subjects and claims it has written. */
export type RecordJson = (record: AuditRecord) => string;

/**
 * Returns a serialiser giving exactly `JSON.stringify(record)`, keeping the JSON of interned
 * subjects and claims (weakly, per object) for the next record of the same token. The shortcut
 * applies when `input` is the last member of the record and `subject` and `claims` are interned and followed in `input` only by `transport`: then
 * nothing a caller supplied is written after the markers, so the last occurrence of each is ours
 * even if a caller's string happens to read the same. Anything else is plain JSON.stringify.
 */
export function createRecordJson(): RecordJson {
  const fragments = new WeakMap<object, string>();
  const fragmentOf = (value: object): string => {
    let json = fragments.get(value);
    if (json === undefined) {
      json = JSON.stringify(value);
      fragments.set(value, json);
    }
    return json;
  };
  return (record) => recordJsonWith(record, fragmentOf);
}

function recordJsonWith(record: AuditRecord, fragmentOf: (value: object) => string): string {
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
  // Written from a copy with markers in their place: the record itself is never touched, so no
  // reader (the ring, a query, another sink) can ever see it half-rendered.
  let line = JSON.stringify({
    ...(record as object),
    input: { ...input, subject: SUBJECT_MARK, claims: CLAIMS_MARK },
  });
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
