// Reads the `audit:` section: sinks (stdout, rotating file, http with spool), masking rules, ring, labels.
import { join } from 'node:path';
import { ConfigError } from './errors.js';
import type { Section } from './reader.js';
import { AUDIT_DURABILITY } from './types.js';
import type {
  AuditConfig,
  AuditFormat,
  AuditMaskRule,
  AuditSinkConfig,
  AuditSpoolConfig,
} from './types.js';

const MIB = 1024 * 1024;
const FORMATS = ['mandate', 'opa'] as const;

/**
 * Record fields a mask rule may not touch: without them a record cannot be identified, ordered,
 * delivered exactly once or trusted to say what was decided.
 */
const PROTECTED = new Set([
  'type',
  'schema_version',
  'decision_id',
  'time',
  'allow',
  'reasons',
  'erased',
  'masked',
]);

/** Parses an RFC 6901 JSON pointer into unescaped segments; `*` is kept as the wildcard. */
export function parsePointer(key: string, pointer: string): readonly string[] {
  if (!pointer.startsWith('/'))
    throw new ConfigError(key, 'must be a JSON pointer starting with /');
  const segments = pointer
    .slice(1)
    .split('/')
    .map((s) => {
      if (/~[^01]|~$/.test(s)) throw new ConfigError(key, `invalid escape in ${pointer}`);
      return s.replace(/~1/g, '/').replace(/~0/g, '~');
    });
  if (segments.some((s) => s.length === 0)) {
    throw new ConfigError(key, `empty segment in ${pointer}`);
  }
  const first = segments[0] as string;
  if (segments.length === 1 && PROTECTED.has(first)) {
    throw new ConfigError(key, `${pointer} identifies the record and cannot be masked`);
  }
  if (PROTECTED.has(first) && first !== 'reasons') {
    throw new ConfigError(key, `${pointer} identifies the record and cannot be masked`);
  }
  return Object.freeze(segments);
}

/**
 * The `audit:` section. The legacy single-sink form (`sink: stdout|file|none`, `path`) stays
 * valid; when it is present together with `sinks` (e.g. `MANDATE_AUDIT_SINK` over a file that
 * lists sinks) it wins, so the environment override keeps working.
 */
export function readAuditConfig(
  s: Section,
  at: (p: string) => string,
  stateDir: string,
): AuditConfig {
  s.only([
    'sink',
    'path',
    'sinks',
    'mask',
    'ring_size',
    'labels',
    'max_queue',
    'shutdown_flush_ms',
    'durability',
  ]);
  let sinks: AuditSinkConfig[];
  if (s.has('sink')) {
    const driver = s.oneOf('sink', ['stdout', 'file', 'none'] as const, 'stdout');
    if (driver === 'none') sinks = [];
    else if (driver === 'file') sinks = [fileSink('file', 'mandate', at(s.string('path')), {})];
    else sinks = [{ driver: 'stdout', name: 'stdout', format: 'mandate' }];
  } else if (s.has('sinks')) {
    sinks = s.list('sinks').map((item) => readSink(item, at, stateDir));
  } else {
    if (s.has('path')) throw new ConfigError(s.key('path'), 'only valid with sink: file');
    sinks = [{ driver: 'stdout', name: 'stdout', format: 'mandate' }];
  }
  const names = new Set<string>();
  sinks.forEach((sink, i) => {
    if (names.has(sink.name)) {
      throw new ConfigError(
        `${s.key('sinks')}[${i}].name`,
        `duplicate sink name ${JSON.stringify(sink.name)} (name sinks of the same driver apart)`,
      );
    }
    names.add(sink.name);
  });

  const mask = s.list('mask').map((rule): AuditMaskRule => {
    rule.only(['op', 'path', 'value']);
    const op = rule.oneOf('op', ['erase', 'mask'] as const, 'erase');
    const path = rule.string('path');
    const segments = parsePointer(rule.key('path'), path);
    if (op === 'erase') {
      if (rule.has('value')) throw new ConfigError(rule.key('value'), 'only valid with op: mask');
      return { op, path, segments };
    }
    return { op, path, segments, value: rule.has('value') ? rule.value['value'] : '[masked]' };
  });

  const labelSection = s.section('labels');
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(labelSection.value)) {
    if (typeof v !== 'string' || v.length === 0) {
      throw new ConfigError(labelSection.key(k), 'must be a non-empty string');
    }
    if (k === 'version') throw new ConfigError(labelSection.key(k), 'is set by mandate');
    labels[k] = v;
  }

  return {
    sinks,
    mask,
    ringSize: s.integer('ring_size', 10_000, 0, 1_000_000),
    labels,
    maxQueue: s.integer('max_queue', 100_000, 1, 10_000_000),
    shutdownFlushMs: s.integer('shutdown_flush_ms', 3000, 0, 60_000),
    durability: s.oneOf('durability', AUDIT_DURABILITY, 'best_effort'),
  };
}

function readSink(s: Section, at: (p: string) => string, stateDir: string): AuditSinkConfig {
  const driver = s.oneOf('driver', ['stdout', 'file', 'http'] as const, 'stdout');
  if (!s.has('driver')) throw new ConfigError(s.key('driver'), 'is required (stdout, file, http)');
  const name = s.string('name', driver);
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
    throw new ConfigError(s.key('name'), 'must be 1-64 letters, digits, _ . or -');
  }
  switch (driver) {
    case 'stdout': {
      s.only(['driver', 'name', 'format']);
      return { driver, name, format: s.oneOf('format', FORMATS, 'mandate') };
    }
    case 'file': {
      s.only(['driver', 'name', 'format', 'path', 'max_bytes', 'max_files']);
      return fileSink(name, s.oneOf('format', FORMATS, 'mandate'), at(s.string('path')), {
        maxBytes: s.integer('max_bytes', 100 * MIB, 4096, Number.MAX_SAFE_INTEGER),
        maxFiles: s.integer('max_files', 5, 1, 1000),
      });
    }
    case 'http':
      return readHttpSink(s, name, at, stateDir);
  }
}

function fileSink(
  name: string,
  format: AuditFormat,
  path: string,
  o: { maxBytes?: number; maxFiles?: number },
): AuditSinkConfig {
  return {
    driver: 'file',
    name,
    format,
    path,
    maxBytes: o.maxBytes ?? 100 * MIB,
    maxFiles: o.maxFiles ?? 5,
  };
}

function readHttpSink(
  s: Section,
  name: string,
  at: (p: string) => string,
  stateDir: string,
): AuditSinkConfig {
  s.only([
    'driver',
    'name',
    'url',
    'headers',
    'timeout_ms',
    'batch_max_bytes',
    'batch_max_delay_ms',
    'backoff_min_ms',
    'backoff_max_ms',
    'spool',
    'on_full',
  ]);
  const url = s.string('url');
  if (!/^https?:\/\/[^/]/.test(url)) throw new ConfigError(s.key('url'), 'must be an http(s) URL');
  const headerSection = s.section('headers');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(headerSection.value)) {
    if (typeof v !== 'string') throw new ConfigError(headerSection.key(k), 'must be a string');
    if (/^(content-type|content-encoding|content-length)$/i.test(k)) {
      throw new ConfigError(headerSection.key(k), 'is set by mandate');
    }
    headers[k] = v;
  }
  const backoffMinMs = s.integer('backoff_min_ms', 250, 1, 600_000);
  const backoffMaxMs = s.integer('backoff_max_ms', 30_000, 1, 3_600_000);
  if (backoffMaxMs < backoffMinMs) {
    throw new ConfigError(s.key('backoff_max_ms'), 'must be at least backoff_min_ms');
  }
  const batchMaxBytes = s.integer('batch_max_bytes', MIB, 1024, 64 * MIB);
  return {
    driver: 'http',
    name,
    url,
    headers,
    timeoutMs: s.integer('timeout_ms', 10_000, 100, 600_000),
    batchMaxBytes,
    batchMaxDelayMs: s.integer('batch_max_delay_ms', 1000, 0, 3_600_000),
    backoffMinMs,
    backoffMaxMs,
    spool: readSpool(s.section('spool'), at, join(stateDir, 'audit-spool', name)),
    onFull: s.oneOf('on_full', ['drop_oldest', 'fail_closed'] as const, 'fail_closed'),
  };
}

function readSpool(s: Section, at: (p: string) => string, defaultDir: string): AuditSpoolConfig {
  s.only(['dir', 'max_bytes', 'segment_max_bytes', 'fsync', 'fsync_interval_ms']);
  const maxBytes = s.integer('max_bytes', 1024 * MIB, 64 * 1024, Number.MAX_SAFE_INTEGER);
  const segmentMaxBytes = s.integer(
    'segment_max_bytes',
    Math.min(8 * MIB, Math.floor(maxBytes / 4)),
    4096,
    1024 * MIB,
  );
  // Drop-oldest frees whole segments: several must fit under the bound for it to free anything.
  if (segmentMaxBytes * 4 > maxBytes) {
    throw new ConfigError(s.key('segment_max_bytes'), 'must be at most a quarter of max_bytes');
  }
  const dir = s.optionalString('dir');
  return {
    dir: dir !== undefined ? at(dir) : defaultDir,
    maxBytes,
    segmentMaxBytes,
    fsync: s.oneOf('fsync', ['always', 'interval', 'never'] as const, 'interval'),
    fsyncIntervalMs: s.integer('fsync_interval_ms', 1000, 10, 60_000),
  };
}
