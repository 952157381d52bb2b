// Writes a decision record that repeats an earlier one but for its per-decision members from that earlier one's JSON, precheck included.
//
// A cached token asking a question the decision cache answers gets records that differ only in the
// decision id, the time, the latency, the request id and the peer. Serialising the record and
// running the credential precheck over it each time was the largest part of a cached check
// (BENCHMARKS.md, "record-json"). The pipeline marks such records with a shape key
// (RECORD_SHAPE): records with the same key agree on every other member. The first one seen makes
// a template (the JSON between the per-decision members, and whether that text passed the
// precheck); the others fill in their own per-decision values.
import { mayHoldCredential, openBracketCount, PRECHECK_MAX_BRACKETS } from './mask.js';
import { RECORD_SHAPE, type AuditRecord } from './record.js';

/** Members that change from one decision to the next. */
const PER_DECISION: ReadonlySet<string> = new Set([
  'decision_id',
  'time',
  'latency_us',
  'eval_ns',
  'request_id',
  'peer',
]);

interface Template {
  readonly first: AuditRecord;
  /** The JSON between the holes: the line is runs[0], hole 0, runs[1], ..., runs[holes.length]. */
  readonly runs: readonly string[];
  /** The per-decision members in order (see {@link Hole}). */
  readonly holes: readonly Hole[];
  /** The text without the holes passed the credential precheck. */
  readonly clean: boolean;
  /** `{` and `[` in that text, for the precheck's depth count. */
  readonly brackets: number;
  /** That text is all ASCII. */
  readonly ascii: boolean;
}

/** One per-decision member of a template, with its text made once. */
interface Hole {
  readonly key: string;
  /** Written before a present value: `,"key":`. */
  readonly prefix: string;
  /** The same with a string's opening quote: `,"key":"`. */
  readonly quotedPrefix: string;
  /** A string's closing quote and the run that follows the hole. */
  readonly quotedRun: string;
  /** The run that follows the hole. */
  readonly run: string;
}

/** A record's JSON line and whether the credential precheck must treat it as suspect. */
export interface TemplateLine {
  readonly json: string;
  /** Exactly mayHoldCredential(json), or true. */
  readonly mayHoldCredential: boolean;
  /** True only when every character is ASCII (so its UTF-8 is its Latin-1, byte for byte). */
  readonly ascii: boolean;
  /** The first record of this shape: the others equal it but for their per-decision members. */
  readonly first: AuditRecord;
}

/**
 * A record of `first`'s shape kept small: its own per-decision members over `first` as prototype.
 * A ring of recent records holds thousands; whole records there survive young-generation
 * collections and are copied by each, a measurable cost per decision. Reads see every member;
 * {@link fullRecord} gives back the plain object (JSON sees own members only).
 */
export function compactRecord(first: AuditRecord, record: AuditRecord): AuditRecord {
  const r = record as unknown as Record<string, unknown>;
  const compact = Object.create(first) as Record<string, unknown>;
  // Every one is set, undefined included, so none of first's shows through.
  for (const key of PER_DECISION) compact[key] = r[key];
  return compact as unknown as AuditRecord;
}

/** The plain record of a compact one (members in the original order); any other record as it is. */
export function fullRecord(record: AuditRecord): AuditRecord {
  const proto = Object.getPrototypeOf(record) as object | null;
  if (proto === Object.prototype || proto === null) return record;
  return { ...proto, ...record } as AuditRecord;
}

function templateOf(record: AuditRecord): Template | undefined {
  const r = record as unknown as Record<string, unknown>;
  const keys = Object.keys(r);
  // The first member is written without a comma, so it must always be there: never a hole.
  const first = keys[0];
  if (first === undefined || PER_DECISION.has(first) || r[first] === undefined) {
    return undefined;
  }
  const runs: string[] = [];
  const keysOfHoles: string[] = [];
  let run = '{';
  let stable = '';
  for (const key of keys) {
    if (PER_DECISION.has(key)) {
      runs.push(run);
      run = '';
      keysOfHoles.push(key);
      continue;
    }
    const json = JSON.stringify(r[key]) as string | undefined;
    if (json === undefined) continue;
    const text = `${key === first ? '' : ','}${JSON.stringify(key)}:${json}`;
    run += text;
    stable += text;
  }
  runs.push(`${run}}`);
  // Each run was built by many `+=`, a chain V8 would walk again every time a line holding it is
  // flattened (for writing): reading a character flattens a string once, in place.
  const flat = (text: string) => (text.charCodeAt(0), text);
  for (const r of runs) flat(r);
  const holes = keysOfHoles.map((key, i): Hole => {
    const prefix = flat(`,${JSON.stringify(key)}:`);
    const run = runs[i + 1] as string;
    return { key, prefix, quotedPrefix: flat(`${prefix}"`), quotedRun: flat(`"${run}`), run };
  });
  const line = `{${stable}}`;
  // A key that could take part in a mark would have to be checked with every value: none of ours can.
  const keysInert = holes.every((h) => scanString(h.key) === PLAIN);
  return {
    first: record,
    runs,
    holes,
    clean: keysInert && !mayHoldCredential(line),
    brackets: openBracketCount(line),
    ascii: isAscii(line),
  };
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** What scanning a hole's string value found. */
const PLAIN = 0;
/** JSON escapes something in it (a quote, a backslash, a control character, a lone surrogate). */
const NEEDS_ESCAPE = 1;
/** It might take part in a precheck mark, or holds brackets: checked the full way. */
const MAY_MATTER = 2;

const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

/** What an ASCII character is to scanString: one table load per character on the usual path. */
const ORDINARY = 0;
const ESCAPED = 1;
const NOTICED = 2;
/** J z Z k K: noticed unless right after a digit. */
const MARK_LETTER = 3;
const ASCII_KIND = new Uint8Array(128);
for (let c = 0; c < 0x20; c++) ASCII_KIND[c] = ESCAPED;
ASCII_KIND[0x22] = ESCAPED; // "
ASCII_KIND[0x5c] = ESCAPED; // \
for (const c of [0x20, 0x7f, 0x7b, 0x5b]) ASCII_KIND[c] = NOTICED; // space, DEL, { [
for (const c of [0x4a, 0x5a, 0x7a, 0x4b, 0x6b]) ASCII_KIND[c] = MARK_LETTER; // J Z z K k

/**
 * One pass over a string: whether `"${value}"` is its JSON, and whether the precheck could care.
 * Every precheck mark needs whitespace, a `\`, a non-ASCII character, a bracket (the depth
 * count), or one of the letters J z Z k K right after a letter, `-` or `"` (eyJ, authorization",
 * cookie", x-api-key"). Our own per-decision values (a UUID, an RFC 3339 time, numbers, an IPv4
 * peer) have none of those but a Z after a digit. Marks cannot span a hole's edges: a hole is
 * `,"key":value` and what follows it starts with `,"` or is the closing `}`, which no mark holds.
 */
function scanString(value: string): number {
  let found = PLAIN;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 0x80) {
      // Non-ASCII: noticed; a surrogate (maybe lone, which JSON escapes) takes the escaping path.
      if (c >= 0xd800 && c <= 0xdfff) return NEEDS_ESCAPE;
      found = MAY_MATTER;
      continue;
    }
    const kind = ASCII_KIND[c];
    if (kind === ORDINARY) continue;
    if (kind === ESCAPED) return NEEDS_ESCAPE;
    if (kind === NOTICED) found = MAY_MATTER;
    else {
      // (Never reads before the start: that would leave the optimised loop.)
      const before = i === 0 ? 0 : value.charCodeAt(i - 1);
      if (!(before >= DIGIT_0 && before <= DIGIT_9)) found = MAY_MATTER;
    }
  }
  return found;
}

function fill(record: Record<string, unknown>, template: Template): TemplateLine {
  const holes = template.holes;
  let json = template.runs[0] as string;
  let suspect = !template.clean;
  let brackets = template.brackets;
  // A plain string (scanString found nothing) and a number are ASCII; anything else may not be.
  let ascii = template.ascii;
  for (let i = 0; i < holes.length; i++) {
    const hole = holes[i] as Hole;
    const value = record[hole.key];
    if (typeof value === 'string') {
      const scan = scanString(value);
      if (scan === PLAIN) {
        // The usual case, three concatenations: `,"key":"` value `"run`.
        json += hole.quotedPrefix;
        json += value;
        json += hole.quotedRun;
        continue;
      }
      const text = scan === NEEDS_ESCAPE ? JSON.stringify(value) : `"${value}"`;
      ascii = false;
      json += hole.prefix;
      json += text;
      json += hole.run;
      if (!suspect) {
        brackets += openBracketCount(text);
        if (mayHoldCredential(`${hole.prefix}${text}`)) suspect = true;
      }
    } else if (typeof value === 'number') {
      // For a finite number JSON writes what String() does.
      json += hole.prefix;
      json += Number.isFinite(value) ? `${value}` : 'null';
      json += hole.run;
    } else {
      // Absent (undefined) members are left out, as JSON leaves them out.
      const text = JSON.stringify(value) as string | undefined;
      if (text !== undefined) {
        ascii = false;
        json += hole.prefix;
        json += text;
        if (!suspect) {
          brackets += openBracketCount(text);
          if (mayHoldCredential(`${hole.prefix}${text}`)) suspect = true;
        }
      }
      json += hole.run;
    }
  }
  if (brackets >= PRECHECK_MAX_BRACKETS) suspect = true;
  return { json, mayHoldCredential: suspect, ascii, first: template.first };
}

/** Templates by shape key, held only as long as the key (the pipeline drops a key with its cached outcome). */
export class RecordTemplates {
  readonly #byShape = new WeakMap<object, Template | null>();

  /** The line of a record that carries a shape key; undefined for any other. */
  lineOf(record: AuditRecord): TemplateLine | undefined {
    const shape = (record as { [RECORD_SHAPE]?: object })[RECORD_SHAPE];
    if (shape === undefined) return undefined;
    const r = record as unknown as Record<string, unknown>;
    let template = this.#byShape.get(shape);
    if (template === undefined) {
      template = templateOf(record) ?? null;
      this.#byShape.set(shape, template);
    }
    return template === null ? undefined : fill(r, template);
  }
}
