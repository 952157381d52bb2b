// Masking: configured JSON-pointer rules, credentials scrubbed wherever they hide, and the caller's objects never touched.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAuditLog } from '../../src/audit/audit-log.js';
import { createMasker, mayHoldCredential } from '../../src/audit/mask.js';
import type { AuditRecord } from '../../src/audit/record.js';
import { parsePointer } from '../../src/config/audit.js';
import type { AuditConfig, AuditMaskRule } from '../../src/config/types.js';

const JWS =
  'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEiLCJleHAiOjQxMDI0NDQ4MDB9.c2lnbmF0dXJlLWJ5dGVz';

function rule(op: 'erase' | 'mask', path: string, value: unknown = '[masked]'): AuditMaskRule {
  const segments = parsePointer('test', path);
  return op === 'erase' ? { op, path, segments } : { op, path, segments, value };
}

function record(input: object, extra: Record<string, unknown> = {}): AuditRecord {
  return {
    type: 'decision',
    schema_version: 1,
    decision_id: 'd-1',
    time: '2026-11-28T09:20:10.000000000Z',
    transport: 'http',
    allow: true,
    reasons: [],
    action: 'contacts.read',
    sub: 'user-1',
    latency_us: 10,
    input,
    ...extra,
  } as AuditRecord;
}

describe('mask rules', () => {
  it('erases and masks by pointer, lists what it touched, and leaves the original intact', () => {
    const attributes = { ssn: '123-45-6789', owner: 'user-1', tags: ['a', 'b'] };
    const claims = { email: 'ann@example.com', sub: 'user-1' };
    const input = { resource: { type: 'contact', attributes }, claims };
    const original = record(input);
    const masked = createMasker([
      rule('erase', '/input/resource/attributes/ssn'),
      rule('mask', '/input/claims/email', '***'),
      rule('erase', '/input/resource/attributes/missing'),
    ])(original) as unknown as Record<string, unknown>;

    expect(masked['input']).toEqual({
      resource: { type: 'contact', attributes: { owner: 'user-1', tags: ['a', 'b'] } },
      claims: { email: '***', sub: 'user-1' },
    });
    expect(masked['erased']).toEqual(['/input/resource/attributes/ssn']);
    expect(masked['masked']).toEqual(['/input/claims/email']);
    // Shared objects (the verified-token cache's claims, the request body) are never modified.
    expect(attributes.ssn).toBe('123-45-6789');
    expect(claims.email).toBe('ann@example.com');
    expect((original as unknown as Record<string, unknown>)['erased']).toBeUndefined();
  });

  it('matches every key or index with *, and erases array elements', () => {
    const input = {
      items: [
        { id: 1, card: '4111' },
        { id: 2, card: '4242' },
      ],
      list: ['keep', 'drop'],
    };
    const masked = createMasker([
      rule('mask', '/input/items/*/card'),
      rule('erase', '/input/list/1'),
    ])(record(input)) as unknown as Record<string, unknown>;
    expect(masked['input']).toEqual({
      items: [
        { id: 1, card: '[masked]' },
        { id: 2, card: '[masked]' },
      ],
      list: ['keep'],
    });
    expect(masked['masked']).toEqual(['/input/items/0/card', '/input/items/1/card']);
  });

  it('returns the very same record when nothing applies', () => {
    const r = record({ action: 'x', context: { ip: '10.0.0.1' } });
    expect(createMasker([rule('erase', '/input/claims/email')])(r)).toBe(r);
  });

  it('can mask top-level attribution fields, e.g. pseudonymous subjects', () => {
    const masked = createMasker([rule('mask', '/sub', 'anon')])(record({})) as unknown as Record<
      string,
      unknown
    >;
    expect(masked['sub']).toBe('anon');
  });
});

describe('credentials, by construction', () => {
  it('erases authorization and cookie headers anywhere, and scrubs bearer values and JWS strings', () => {
    const input = {
      context: {
        headers: { Authorization: `Bearer ${JWS}`, cookie: 'sid=1', accept: 'json' },
        note: `pasted token ${JWS} here`,
        api: 'Basic dXNlcjpwYXNz',
      },
      attributes: { 'proxy-authorization': 'x', deep: [{ token: JWS }] },
    };
    const masked = createMasker([])(record(input, { request_id: JWS })) as unknown as Record<
      string,
      unknown
    >;
    const text = JSON.stringify(masked);
    expect(text).not.toContain(JWS);
    expect(text).not.toContain('dXNlcjpwYXNz');
    // The header names survive only as pointers in `erased`, never as keys with values.
    expect(JSON.stringify(masked['input'])).not.toMatch(/authorization/i);
    expect(text).not.toContain('sid=1');
    expect(masked['input']).toMatchObject({
      context: {
        headers: { accept: 'json' },
        note: 'pasted token [credential] here',
        api: '[credential]',
      },
      attributes: { deep: [{ token: '[credential]' }] },
    });
    expect(masked['erased']).toEqual([
      '/input/context/headers/Authorization',
      '/input/context/headers/cookie',
      '/input/attributes/proxy-authorization',
    ]);
    expect(masked['masked']).toEqual(
      expect.arrayContaining([
        '/request_id',
        '/input/context/note',
        '/input/context/api',
        '/input/attributes/deep/0/token',
      ]),
    );
  });

  it('scrubs credentials in object keys at every depth, and never names them in a pointer', () => {
    const input = {
      context: { [JWS]: 'v', nested: [{ [`Bearer ${SECRET}`]: { [`x ${JWS} y`]: 1 } }] },
      attributes: { [`basic ${SECRET}`]: null, n: { [JWS]: JWS } },
    };
    const masked = createMasker([])(record(input)) as unknown as Record<string, unknown>;
    const text = JSON.stringify(masked);
    expect(text).not.toContain(JWS);
    expect(text).not.toContain(SECRET);
    expect(masked['input']).toEqual({
      context: { '[credential]': 'v', nested: [{ '[credential]': { 'x [credential] y': 1 } }] },
      attributes: { '[credential]': null, n: { '[credential]': '[credential]' } },
    });
    expect(masked['masked']).toEqual(
      expect.arrayContaining([
        '/input/context/[credential]',
        '/input/context/nested/0/[credential]',
        '/input/context/nested/0/[credential]/x [credential] y',
        '/input/attributes/n/[credential]',
      ]),
    );
  });

  it('drops a scrubbed key that would overwrite another one, whichever comes first', () => {
    for (const context of [
      { '[credential]': 'kept', [JWS]: 'dropped' },
      { [JWS]: 'dropped', '[credential]': 'kept' },
      { [JWS]: 'kept', [`Bearer ${SECRET}`]: 'dropped' },
    ]) {
      const masked = createMasker([])(record({ context })) as unknown as Record<string, unknown>;
      expect(masked['input']).toEqual({ context: { '[credential]': 'kept' } });
      expect(masked['erased']).toEqual(['/input/context/[credential]']);
    }
  });

  it('leaves no string a second pass would scrub, in keys or values (random records)', () => {
    const parts = ['Bearer ', 'basic\t', 'eyJ', 'eyJhbGciOiJFUzI1NiJ9', '.', 'abcd', 'x', ' '];
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const text = () => {
      let out = '';
      for (let i = rand(8); i >= 0; i--) out += parts[rand(parts.length)];
      return out;
    };
    const value = (depth: number): unknown => {
      const kind = rand(depth > 4 ? 2 : 4);
      if (kind === 0) return text();
      if (kind === 1) return rand(100);
      if (kind === 2) return [value(depth + 1), value(depth + 1)];
      return { [text()]: value(depth + 1), [text()]: value(depth + 1) };
    };
    const mask = createMasker([]);
    const strings = (node: unknown, out: string[]): string[] => {
      if (typeof node === 'string') out.push(node);
      else if (Array.isArray(node)) for (const v of node) strings(v, out);
      else if (node !== null && typeof node === 'object') {
        for (const [k, v] of Object.entries(node)) {
          out.push(k);
          strings(v, out);
        }
      }
      return out;
    };
    for (let i = 0; i < 2000; i++) {
      const masked = mask(ctx({ [text()]: value(0) })) as unknown as Record<string, unknown>;
      for (const s of strings(masked['input'], [])) {
        const probe = ctx({ s });
        expect(mask(probe), s).toBe(probe);
      }
    }
  });

  it('cuts hostile nesting instead of recursing without bound', () => {
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 10_000; i++) deep = { d: deep };
    const masked = createMasker([])(record({ context: deep })) as unknown as Record<
      string,
      unknown
    >;
    expect(JSON.stringify(masked)).toContain('[too deep]');
  });
});

/** What the audit log's drain writes (file sink) and keeps (ring) for these records, unmasked config. */
async function drained(
  records: readonly AuditRecord[],
): Promise<{ lines: string[]; ring: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'mandate-mask-'));
  const path = join(dir, 'audit.jsonl');
  const config: AuditConfig = {
    sinks: [
      { driver: 'file', name: 'file', format: 'mandate', path, maxBytes: 1 << 30, maxFiles: 1 },
    ],
    mask: [],
    ringSize: 1000,
    labels: {},
    maxQueue: 10_000,
    shutdownFlushMs: 0,
  };
  const log = createAuditLog({ config, version: 'test' });
  try {
    await log.start();
    for (const r of records) log.write(r);
    await log.flush();
    const lines = (await readFile(path, 'utf8')).split('\n').filter((l) => l.length > 0);
    const answer = await log.query({ limit: 1000 }, 'ring');
    return { lines, ring: JSON.stringify(answer.records) };
  } finally {
    await log.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const SECRET = 'opaque-s3cr3t-value';
const ctx = (context: object) => record({ action: 'x', context });

/** Records holding a credential only scrub() finds, each in a different way (none but one has a JWS). */
const CREDENTIAL_CASES: readonly (readonly [string, AuditRecord, string])[] = [
  [
    'Bearer in a nested context header',
    ctx({ headers: { 'x-upstream': `Bearer ${SECRET}` } }),
    SECRET,
  ],
  ['a lower-case credential key', ctx({ headers: { authorization: SECRET } }), SECRET],
  ['an upper-case credential key', ctx({ headers: { 'X-API-KEY': SECRET } }), SECRET],
  ['mixed-case cookie keys', ctx({ headers: { Cookie: SECRET, 'Set-Cookie': SECRET } }), SECRET],
  ['proxy-authorization', ctx({ 'Proxy-Authorization': SECRET }), SECRET],
  ['a KELVIN SIGN for k in a key', ctx({ 'x-api-\u212aey': SECRET }), SECRET],
  ['a tab before the scheme', ctx({ auth: `\tBearer ${SECRET}` }), SECRET],
  ['a tab after the scheme', ctx({ auth: `Bearer\t${SECRET}` }), SECRET],
  ['\\u00a0 before the scheme', ctx({ auth: `\u00a0Bearer ${SECRET}` }), SECRET],
  ['\\u00a0 after the scheme', ctx({ auth: `Basic\u00a0${SECRET}` }), SECRET],
  ['\\v after the scheme (JSON writes \\u000b)', ctx({ auth: `token\v${SECRET}` }), SECRET],
  ['\\u2028 after the scheme', ctx({ auth: `DPoP\u2028${SECRET}` }), SECRET],
  ['\\ufeff after the scheme', ctx({ auth: `NEGOTIATE\ufeff${SECRET}` }), SECRET],
  ['a newline before the scheme', ctx({ auth: `\nDigest ${SECRET}` }), SECRET],
  ['a scheme inside an array', ctx({ list: ['a', `bearer ${SECRET}`] }), SECRET],
  ['a top-level field', record({}, { request_id: `Bearer ${SECRET}` }), SECRET],
  ['a JWS inside a longer string', ctx({ note: `callback?t=${JWS}&x=1` }), JWS],
  ['a JWS as a key', ctx({ deep: { [JWS]: 1 } }), JWS],
  ['a Bearer value as a key', ctx({ list: [{ [`Bearer ${SECRET}`]: 'x' }] }), SECRET],
];

/** A document nested past the masker's depth limit, with nothing else to scrub. */
function deepRecord(levels: number): AuditRecord {
  let deep: Record<string, unknown> = { leaf: 'fine' };
  for (let i = 0; i < levels; i++) deep = { d: deep };
  return ctx({ deep });
}

/** A decision record as the sidecar writes it, with nothing in it to mask. */
function cleanRecord(): AuditRecord {
  return record(
    {
      action: 'tickets.comment',
      resource: { type: 'ticket', id: 'T-1' },
      tenant: 'acme_inc',
      context: {
        headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64)', accept: 'application/json' },
      },
      subject: { sub: 'user-1', scopes: ['contacts.read', 'tickets.write'], act: [] },
      claims: { iss: 'https://issuer.example', scope: 'contacts.read tickets.write' },
    },
    {
      tenant: 'acme_inc',
      token_hash: '0dd516e76425759e',
      reasons: [{ code: 'ok', message: 'allowed' }],
    },
  );
}

describe('the line-level precheck (mayHoldCredential)', () => {
  it.each(CREDENTIAL_CASES)(
    'sees %s, and the drain writes no credential',
    async (_n, r, secret) => {
      expect(JSON.stringify(createMasker([])(r))).not.toContain(secret); // a case scrub() handles
      expect(mayHoldCredential(JSON.stringify(r))).toBe(true);
      const { lines, ring } = await drained([r]);
      expect(lines).toEqual([JSON.stringify(createMasker([])(r))]);
      expect(lines[0]).not.toContain(secret);
      expect(ring).not.toContain(secret);
    },
  );

  it('sends a document nested past the depth limit to the structural masker', async () => {
    const r = deepRecord(70);
    expect(mayHoldCredential(JSON.stringify(r))).toBe(true);
    const { lines, ring } = await drained([r]);
    expect(lines[0]).toContain('[too deep]');
    expect(ring).toContain('[too deep]');
  });

  it('sees a scheme before or after any character JS \\s matches, escaped by JSON or not', () => {
    for (let c = 0; c <= 0xffff; c++) {
      const space = String.fromCharCode(c);
      if (!/\s/.test(space)) continue;
      const name = `U+${c.toString(16).padStart(4, '0')}`;
      for (const value of [`Bearer${space}${SECRET}`, `${space}Bearer ${SECRET}`]) {
        const r = ctx({ auth: value });
        expect(mayHoldCredential(JSON.stringify(r)), name).toBe(true);
        expect(JSON.stringify(createMasker([])(r)), name).not.toContain(SECRET);
      }
    }
  });

  it('clears an ordinary decision record, which the drain then writes as it is', async () => {
    const records = [cleanRecord(), cleanRecord()];
    expect(mayHoldCredential(JSON.stringify(records[0]))).toBe(false);
    const { lines } = await drained(records);
    expect(lines).toEqual(records.map((r) => JSON.stringify(r)));
  });

  it('never says false where scrub() would change something (random records)', () => {
    // Fragments of everything scrub() looks for, cut and mixed so near misses come up too.
    const parts = [
      'Bearer',
      'bEaReR',
      'basic',
      'Digest',
      'dpop',
      'Negotiate',
      'TOKEN',
      'tokens',
      'eyJ',
      'eyJhbGciOiJFUzI1NiJ9',
      '.',
      'abcd',
      ' ',
      '\t',
      '\n',
      '\v',
      '\u00a0',
      '\u2028',
      '\ufeff',
      '\\',
      '"',
      'x',
      'k',
      '\u212a',
      'authorization',
      'cookie',
      'x-api-key',
      'Set-',
      'Proxy-',
    ];
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const text = () => {
      let out = '';
      for (let i = rand(5); i >= 0; i--) out += parts[rand(parts.length)];
      return out;
    };
    const value = (depth: number): unknown => {
      const kind = rand(depth > 3 ? 2 : 4);
      if (kind === 0) return text();
      if (kind === 1) return rand(100);
      if (kind === 2) return [value(depth + 1), value(depth + 1)];
      return { [text()]: value(depth + 1), [text()]: value(depth + 1) };
    };
    const mask = createMasker([]);
    let changed = 0;
    for (let i = 0; i < 5000; i++) {
      const r = ctx({ [text()]: value(0), v: value(0) });
      if (mask(r) === r) continue;
      changed++;
      expect(mayHoldCredential(JSON.stringify(r)), JSON.stringify(r)).toBe(true);
    }
    expect(changed).toBeGreaterThan(250); // not vacuous
  });
});

describe('mask rule pointers', () => {
  it('parses RFC 6901 escapes and refuses the fields that identify a record', () => {
    expect(parsePointer('k', '/input/a~1b/c~0d')).toEqual(['input', 'a/b', 'c~d']);
    expect(() => parsePointer('audit.mask[0].path', 'input/x')).toThrow(/audit.mask\[0\].path/);
    expect(() => parsePointer('k', '/decision_id')).toThrow(/cannot be masked/);
    expect(() => parsePointer('k', '/time')).toThrow(/cannot be masked/);
    expect(() => parsePointer('k', '/reasons')).toThrow(/cannot be masked/);
    expect(parsePointer('k', '/reasons/*/message')).toEqual(['reasons', '*', 'message']);
    expect(() => parsePointer('k', '/input//x')).toThrow(/empty segment/);
  });
});
