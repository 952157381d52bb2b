// The audit: section: the legacy single sink still works, sink lists with defaults, env override, errors naming the key.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { parseConfig } from '../../src/config/load.js';

const minimal = `
issuers:
  - issuer: https://as.example.com
    jwks_uri: https://as.example.com/.well-known/jwks.json
    audiences: [crm-api]
`;

function keyOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.key;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('audit config', () => {
  it('defaults to one stdout sink in mandate format, a 10000-record ring and no masks', () => {
    const { audit } = parseConfig(minimal, { baseDir: '/srv' });
    expect(audit.sinks).toEqual([{ driver: 'stdout', name: 'stdout', format: 'mandate' }]);
    expect(audit.ringSize).toBe(10_000);
    expect(audit.mask).toEqual([]);
    expect(audit.shutdownFlushMs).toBe(3000);
  });

  it('durability: best_effort by default, answer_after_write on request, anything else refused naming the key', () => {
    expect(parseConfig(minimal).audit.durability).toBe('best_effort');
    const held = parseConfig(`${minimal}audit: { sink: stdout, durability: answer_after_write }\n`);
    expect(held.audit.durability).toBe('answer_after_write');
    expect(keyOf(() => parseConfig(`${minimal}audit: { durability: always }\n`))).toBe(
      'audit.durability',
    );
  });

  it('keeps the legacy forms: sink stdout|file|none with path', () => {
    const file = parseConfig(`${minimal}audit: { sink: file, path: logs/a.jsonl }\n`, {
      baseDir: '/srv',
    });
    expect(file.audit.sinks).toEqual([
      expect.objectContaining({ driver: 'file', path: '/srv/logs/a.jsonl', format: 'mandate' }),
    ]);
    expect(parseConfig(`${minimal}audit: { sink: none }\n`).audit.sinks).toEqual([]);
    expect(parseConfig(`${minimal}audit: { sink: stdout }\n`).audit.sinks).toEqual([
      { driver: 'stdout', name: 'stdout', format: 'mandate' },
    ]);
  });

  it('reads a list of sinks with http defaults: spool under the state dir, fail closed, fsync interval', () => {
    const { audit } = parseConfig(
      `${minimal}
dev: { state_dir: /var/lib/mandate }
audit:
  sinks:
    - { driver: stdout, format: opa }
    - { driver: file, path: /var/log/mandate/audit.jsonl, max_bytes: 1048576, max_files: 3 }
    - driver: http
      url: https://collector.example/logs
      headers: { x-api-key: secret }
  mask:
    - { op: erase, path: /input/resource/attributes/ssn }
    - { op: mask, path: /input/claims/email, value: "***" }
  ring_size: 500
  labels: { service: crm-api, region: eu-1 }
`,
      { baseDir: '/srv' },
    );
    expect(audit.sinks[0]).toEqual({ driver: 'stdout', name: 'stdout', format: 'opa' });
    expect(audit.sinks[1]).toMatchObject({ driver: 'file', maxBytes: 1_048_576, maxFiles: 3 });
    expect(audit.sinks[2]).toEqual({
      driver: 'http',
      name: 'http',
      url: 'https://collector.example/logs',
      headers: { 'x-api-key': 'secret' },
      timeoutMs: 10_000,
      batchMaxBytes: 1_048_576,
      batchMaxDelayMs: 1000,
      backoffMinMs: 250,
      backoffMaxMs: 30_000,
      onFull: 'fail_closed',
      spool: {
        dir: '/var/lib/mandate/audit-spool/http',
        maxBytes: 1024 * 1024 * 1024,
        segmentMaxBytes: 8 * 1024 * 1024,
        fsync: 'interval',
        fsyncIntervalMs: 1000,
      },
    });
    expect(audit.mask.map((m) => [m.op, m.segments])).toEqual([
      ['erase', ['input', 'resource', 'attributes', 'ssn']],
      ['mask', ['input', 'claims', 'email']],
    ]);
    expect(audit.ringSize).toBe(500);
    expect(audit.labels).toEqual({ service: 'crm-api', region: 'eu-1' });
  });

  it('lets MANDATE_AUDIT_SINK win over a listed sinks section', () => {
    const yaml = `${minimal}audit:\n  sinks: [{ driver: http, url: "http://127.0.0.1:1/logs" }]\n`;
    expect(parseConfig(yaml, { env: { MANDATE_AUDIT_SINK: 'none' } }).audit.sinks).toEqual([]);
  });

  it.each([
    ['legacy file sink without path', 'audit: { sink: file }', 'audit.path'],
    ['a sink without driver', 'audit: { sinks: [{ format: opa }] }', 'audit.sinks[0].driver'],
    ['an unknown driver', 'audit: { sinks: [{ driver: kafka }] }', 'audit.sinks[0].driver'],
    ['http without url', 'audit: { sinks: [{ driver: http }] }', 'audit.sinks[0].url'],
    [
      'a non-http url',
      'audit: { sinks: [{ driver: http, url: "ftp://x" }] }',
      'audit.sinks[0].url',
    ],
    [
      'two sinks of one name',
      'audit: { sinks: [{ driver: stdout }, { driver: stdout }] }',
      'audit.sinks[1].name',
    ],
    [
      'segments too large for the bound',
      'audit: { sinks: [{ driver: http, url: "http://c/l", spool: { max_bytes: 1048576, segment_max_bytes: 524288 } }] }',
      'audit.sinks[0].spool.segment_max_bytes',
    ],
    [
      'an unknown on_full',
      'audit: { sinks: [{ driver: http, url: "http://c/l", on_full: block }] }',
      'audit.sinks[0].on_full',
    ],
    [
      'a mask of the decision id',
      'audit: { mask: [{ path: /decision_id }] }',
      'audit.mask[0].path',
    ],
    ['a mask without a slash', 'audit: { mask: [{ path: input/x }] }', 'audit.mask[0].path'],
    [
      'erase with a value',
      'audit: { mask: [{ op: erase, path: /sub, value: 1 }] }',
      'audit.mask[0].value',
    ],
    ['a version label', 'audit: { labels: { version: x } }', 'audit.labels.version'],
    [
      'content-encoding header',
      'audit: { sinks: [{ driver: http, url: "http://c/l", headers: { Content-Encoding: br } }] }',
      'audit.sinks[0].headers.Content-Encoding',
    ],
  ])('refuses %s, naming the key', (_name, yaml, key) => {
    expect(keyOf(() => parseConfig(`${minimal}${yaml}\n`))).toBe(key);
  });
});
