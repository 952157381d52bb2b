// Moves a tenant's Rego from `package mandate.tenant` to a package of its own, so many tenants share one Wasm module.
//
// Why: every Wasm module costs memory, and with one per tenant V8's full GCs grow long
// (BENCHMARKS.md, "module-per-tenant"; docs/policies.md, "A thousand tenants"). Tenants are
// instead compiled together, each under `mandate.packed.<slot>`, and evaluated with their own
// data document (OPA's Wasm ABI takes the data address per call). The rewrite keeps every line
// where it was, so opa's `file:line` messages stay right.
//
// Isolation holds only if a tenant's Rego can reach nothing but its own rules and its own data.
// So a unit is packed only when every `data` reference is `data.<key>` with `<key>` not `mandate`,
// or `data.mandate.tenant...` (its own package). Anything else (`data` alone, `data[x]`,
// `data.mandate.base`, a package other than `mandate.tenant[.…]`) leaves the unit unpacked: it
// is compiled alone, exactly as before, and behaves exactly as before.

/** The package a packed unit's `mandate.tenant` becomes. */
export function packedPackage(slot: string): string {
  return `mandate.packed.${slot}`;
}

/** The entrypoint of a packed unit's decision. */
export function packedEntrypoint(slot: string): string {
  return `mandate/packed/${slot}/decision`;
}

type TokenKind = 'ident' | 'string' | 'punct';

interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

const IDENT_START = /[A-Za-z_]/;
const IDENT_PART = /[A-Za-z0-9_]/;

/** Splits Rego into identifiers, string literals and punctuation; comments and whitespace are dropped. */
function tokenize(source: string): Token[] | undefined {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (c === '#') {
      while (i < source.length && source[i] !== '\n') i++;
    } else if (/\s/.test(c)) {
      i++;
    } else if (c === '"') {
      const start = i++;
      while (i < source.length && source[i] !== '"') {
        if (source[i] === '\\') i++;
        if (source[i] === '\n') return undefined;
        i++;
      }
      if (i >= source.length) return undefined;
      i++;
      tokens.push({ kind: 'string', text: source.slice(start, i), start, end: i });
    } else if (c === '`') {
      const start = i++;
      while (i < source.length && source[i] !== '`') i++;
      if (i >= source.length) return undefined;
      i++;
      tokens.push({ kind: 'string', text: source.slice(start, i), start, end: i });
    } else if (IDENT_START.test(c)) {
      const start = i;
      while (i < source.length && IDENT_PART.test(source[i]!)) i++;
      tokens.push({ kind: 'ident', text: source.slice(start, i), start, end: i });
    } else {
      tokens.push({ kind: 'punct', text: c, start: i, end: i + 1 });
      i++;
    }
  }
  return tokens;
}

/** The value of a `"..."` literal, or undefined for raw strings and anything unusual. */
function stringValue(token: Token): string | undefined {
  if (token.kind !== 'string' || !token.text.startsWith('"')) return undefined;
  try {
    return JSON.parse(token.text) as string;
  } catch {
    return undefined;
  }
}

/** Reads `.ident` or `["str"]` at `at`; returns the key and the index after it. */
function refPart(
  tokens: readonly Token[],
  at: number,
): { key: string; next: number; token: Token } | undefined {
  const first = tokens[at];
  if (first?.kind !== 'punct') return undefined;
  if (first.text === '.') {
    const ident = tokens[at + 1];
    if (ident?.kind !== 'ident' || ident.start !== first.end) return undefined;
    return { key: ident.text, next: at + 2, token: ident };
  }
  if (first.text === '[') {
    const literal = tokens[at + 1];
    const close = tokens[at + 2];
    const key = literal === undefined ? undefined : stringValue(literal);
    if (key === undefined || close?.kind !== 'punct' || close.text !== ']') return undefined;
    return { key, next: at + 3, token: literal! };
  }
  return undefined;
}

interface Edit {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

/** Why a unit cannot be packed, or the rewritten source. */
export type RewriteResult =
  { readonly ok: true; readonly source: string } | { readonly ok: false; readonly reason: string };

/** Rewrites one Rego file of a tenant unit into `mandate.packed.<slot>`. */
export function rewriteForPack(source: string, slot: string): RewriteResult {
  const tokens = tokenize(source);
  if (tokens === undefined) return { ok: false, reason: 'unterminated string' };
  const edits: Edit[] = [];
  const replacement = `packed.${slot}`;
  let sawPackage = false;

  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.kind !== 'ident') continue;
    const previous = tokens[i - 1];
    // `x.data` or `{"a": 1}.data` is a field, not the data root.
    if (previous?.kind === 'punct' && previous.text === '.' && previous.end === token.start) {
      continue;
    }

    if (token.text === 'package' && !sawPackage && i === 0) {
      sawPackage = true;
      const root = tokens[1];
      const second = refPart(tokens, 2);
      if (root?.text !== 'mandate' || second?.key !== 'tenant') {
        return { ok: false, reason: 'the package is not mandate.tenant' };
      }
      if (second.token.kind !== 'ident') return { ok: false, reason: 'unusual package path' };
      edits.push({ start: second.token.start, end: second.token.end, text: replacement });
      i = second.next - 1;
      continue;
    }
    if (token.text === 'package') return { ok: false, reason: 'unexpected package clause' };

    if (token.text !== 'data') continue;
    const first = refPart(tokens, i + 1);
    if (first === undefined) return { ok: false, reason: 'uses the whole data document' };
    if (first.key !== 'mandate') {
      i = first.next - 1;
      continue;
    }
    const second = refPart(tokens, first.next);
    if (second?.key !== 'tenant' || second.token.kind !== 'ident' || first.token.kind !== 'ident') {
      return { ok: false, reason: 'refers to data.mandate outside its own package' };
    }
    edits.push({ start: second.token.start, end: second.token.end, text: replacement });
    i = second.next - 1;
  }
  if (!sawPackage) return { ok: false, reason: 'no package clause first' };

  let out = '';
  let at = 0;
  for (const edit of edits) {
    out += source.slice(at, edit.start) + edit.text;
    at = edit.end;
  }
  return { ok: true, source: out + source.slice(at) };
}
