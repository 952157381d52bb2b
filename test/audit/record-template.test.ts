// Record templates: the line is exactly JSON.stringify's, and "clean" is never said of a line the full precheck would send to masking.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAuditLog } from '../../src/audit/audit-log.js';
import {
  mayHoldCredential,
  openBracketCount,
  PRECHECK_MAX_BRACKETS,
} from '../../src/audit/mask.js';
import { RECORD_SHAPE, type AuditRecord } from '../../src/audit/record.js';
import { RecordTemplates } from '../../src/audit/record-template.js';
import type { AuditConfig } from '../../src/config/types.js';

const deepFreeze = <T extends object>(value: T): T => {
  for (const child of Object.values(value)) {
    if (typeof child === 'object' && child !== null) deepFreeze(child);
  }
  return Object.freeze(value);
};

const CLAIMS = deepFreeze({
  iss: 'https://as.example',
  sub: 'user-1',
  scope: 'tickets.write',
  tenant: 'acme_inc',
});

interface PerDecision {
  decision_id?: unknown;
  time?: unknown;
  latency_us?: unknown;
  eval_ns?: unknown;
  request_id?: unknown;
  peer?: unknown;
}

/** A decision record in the pipeline's member order; `context` goes into the input. */
function record(shape: object | undefined, per: PerDecision = {}, context: object = {}) {
  return {
    type: 'decision',
    schema_version: 1,
    decision_id: per.decision_id ?? '2f1e7c55-8d0a-4a4c-9a64-0b5b8f0f2a10',
    time: per.time ?? '2026-11-28T14:03:07.123456789Z',
    transport: 'http',
    allow: true,
    reasons: [],
    action: 'tickets.comment',
    resource: { type: 'ticket', id: 'T-1' },
    tenant: 'acme_inc',
    sub: 'user-1',
    scopes: ['tickets.write'],
    decided_by: 'base',
    policy: { base: 'b1', tenant: 't1' },
    policy_cached: true,
    latency_us: 'latency_us' in per ? per.latency_us : 42,
    request_id: per.request_id,
    dry_run: undefined,
    eval_ns: per.eval_ns,
    peer: 'peer' in per ? per.peer : '127.0.0.1:51234',
    input: {
      action: 'tickets.comment',
      resource: { type: 'ticket', id: 'T-1' },
      tenant: 'acme_inc',
      context,
      claims: CLAIMS,
      transport: 'http',
    },
    [RECORD_SHAPE]: shape,
  } as unknown as AuditRecord;
}

/** A deterministic generator, so a failure reproduces. */
function random(seed: number) {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

/** Pieces that touch every precheck mark and every JSON escape, plus ordinary ones. */
const PIECES = [
  'a',
  '7',
  'Z',
  '9Z',
  'J',
  'eyJ',
  'ey',
  'z',
  'k',
  'K',
  '\u212a',
  ' ',
  '\t',
  '\u00a0',
  '\u2028',
  '\\',
  '"',
  '\n',
  '{',
  '[',
  'Bearer ',
  'bearer\u00a0',
  'token ',
  'authorization',
  'cookie',
  'x-api-key',
  'Authori\u212aation',
  '\ud800',
  '-',
  ':',
  '.',
  'é',
];

function randomValue(next: () => number): unknown {
  const kind = next();
  if (kind < 0.1) return undefined;
  if (kind < 0.2) return Math.floor(next() * 1e6);
  if (kind < 0.23) return Number.NaN;
  if (kind < 0.26) return { nested: ['x'] };
  let text = '';
  const n = Math.floor(next() * 6);
  for (let i = 0; i < n; i++) text += PIECES[Math.floor(next() * PIECES.length)];
  return text;
}

describe('record templates', () => {
  it('write exactly JSON.stringify, and never call a line clean that the precheck would not', () => {
    const next = random(20261128);
    const templates = new RecordTemplates();
    const shape = {};
    let clean = 0;
    let suspect = 0;
    let ascii = 0;
    let notAscii = 0;
    for (let i = 0; i < 5000; i++) {
      const r = record(shape, {
        request_id: randomValue(next),
        peer: randomValue(next),
        eval_ns: randomValue(next),
        latency_us: randomValue(next),
      });
      const line = templates.lineOf(r);
      const expected = JSON.stringify(r);
      expect(line?.json).toBe(expected);
      if (line?.mayHoldCredential === false) {
        expect(mayHoldCredential(expected), expected).toBe(false);
        clean++;
      } else {
        suspect++;
      }
      // ASCII is said only of a line that is (its Latin-1 bytes are then its UTF-8 bytes).
      if (line?.ascii === true) {
        expect(Buffer.from(expected, 'latin1').equals(Buffer.from(expected, 'utf8'))).toBe(true);
        ascii++;
      } else {
        notAscii++;
      }
    }
    // Both outcomes were exercised.
    expect(clean).toBeGreaterThan(100);
    expect(suspect).toBeGreaterThan(100);
    expect(ascii).toBeGreaterThan(100);
    expect(notAscii).toBeGreaterThan(100);
  });

  it('calls the usual per-decision values clean: a UUID, a time, an IPv4 or IPv6 peer, a request id', () => {
    const templates = new RecordTemplates();
    const shape = {};
    for (const peer of ['10.1.2.3:40000', '[::1]:40000', '[fe80::1]:8080']) {
      const r = record(shape, { peer, request_id: 'req-4f9c2b', eval_ns: 1234 });
      expect(templates.lineOf(r)).toMatchObject({
        json: JSON.stringify(r),
        mayHoldCredential: false,
      });
    }
  });

  it('keeps a template whose fixed text is suspect suspect for every later record', () => {
    const templates = new RecordTemplates();
    const shape = {};
    const context = { headers: { authorization: 'opaque' } };
    expect(templates.lineOf(record(shape, {}, context))?.mayHoldCredential).toBe(true);
    expect(templates.lineOf(record(shape, { request_id: 'plain' }, context))).toMatchObject({
      json: JSON.stringify(record(shape, { request_id: 'plain' }, context)),
      mayHoldCredential: true,
    });
  });

  it('counts brackets in the fixed text and the values together, as the depth check does', () => {
    const templates = new RecordTemplates();
    const shape = {};
    // Nest until the fixed text holds two brackets fewer than the precheck's limit.
    let deep: object = {};
    while (
      openBracketCount(JSON.stringify(record(shape, {}, { deep }))) <
      PRECHECK_MAX_BRACKETS - 2
    )
      deep = { d: deep };
    const base = record(shape, {}, { deep });
    expect(mayHoldCredential(JSON.stringify(base))).toBe(false);
    expect(templates.lineOf(base)?.mayHoldCredential).toBe(false);
    const one = record(shape, { request_id: '[' }, { deep });
    expect(templates.lineOf(one)).toMatchObject({
      json: JSON.stringify(one),
      mayHoldCredential: false,
    });
    const bracketed = record(shape, { request_id: '[', peer: '[::1]:1' }, { deep });
    expect(mayHoldCredential(JSON.stringify(bracketed))).toBe(true);
    expect(templates.lineOf(bracketed)?.mayHoldCredential).toBe(true);
  });

  it('writes nothing for a record without a shape key', () => {
    expect(new RecordTemplates().lineOf(record(undefined))).toBeUndefined();
  });
});

describe('the audit log with templated records', () => {
  it('writes each record exactly, and masks a credential that arrives in a per-decision member', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mandate-template-'));
    const path = join(dir, 'audit.jsonl');
    const config: AuditConfig = {
      sinks: [
        { driver: 'file', name: 'file', format: 'mandate', path, maxBytes: 1 << 30, maxFiles: 1 },
      ],
      mask: [],
      ringSize: 100,
      labels: {},
      maxQueue: 10_000,
      shutdownFlushMs: 0,
    };
    const log = createAuditLog({ config, version: 'test' });
    const shape = {};
    const records = [
      record(shape, { request_id: 'r-1' }),
      record(shape, { request_id: 'Bearer opaque-s3cr3t' }),
      record(shape, { request_id: 'say "hi"\\' }),
      record(shape, { request_id: undefined, peer: undefined }),
    ];
    try {
      await log.start();
      for (const r of records) log.write(r);
      await log.flush();
      const lines = (await readFile(path, 'utf8')).split('\n').filter((l) => l.length > 0);
      expect(lines).toHaveLength(4);
      expect(lines[0]).toBe(JSON.stringify(records[0]));
      expect(lines[1]).not.toContain('opaque-s3cr3t');
      expect(JSON.parse(lines[1] as string)).toMatchObject({ request_id: '[credential]' });
      expect(lines[2]).toBe(JSON.stringify(records[2]));
      expect(lines[3]).toBe(JSON.stringify(records[3]));
      // The ring keeps the repeats small, and answers with whole records, members in order.
      const answer = await log.query({ limit: 10 }, 'ring');
      expect(answer.records.map((r) => JSON.stringify(r))).toEqual([
        lines[0],
        JSON.stringify({ ...records[1], request_id: '[credential]', masked: ['/request_id'] }),
        lines[2],
        lines[3],
      ]);
      const only = await log.query({ limit: 10, decisionId: 'x', sub: 'user-1' }, 'ring');
      expect(only.records).toEqual([]);
      const bySub = await log.query({ limit: 10, sub: 'user-1', allow: true }, 'ring');
      expect(bySub.records).toHaveLength(4);
    } finally {
      await log.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
