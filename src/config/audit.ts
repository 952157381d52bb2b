// Resolves the validated `audit:` section: the legacy single sink, sink names, mask pointers, labels and spool bounds.
import { join } from 'node:path';
import type { Static } from '@sinclair/typebox';
import { ConfigError } from './errors.js';
import { DEFAULT_SEGMENT_MAX_BYTES, FILE_SINK_DEFAULTS, type auditSchema } from './schema/audit.js';
import type { AuditConfig, AuditMaskRule, AuditSinkConfig, AuditSpoolConfig } from './types.js';

type AuditFile = Static<typeof auditSchema>;
type SinkFile = NonNullable<AuditFile['sinks']>[number];
type HttpSinkFile = Extract<SinkFile, { driver: 'http' }>;

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
export function resolveAudit(
  raw: AuditFile,
  at: (p: string) => string,
  stateDir: string,
): AuditConfig {
  const sinks = resolveSinks(raw, at, stateDir);
  const mask = raw.mask.map((rule, i): AuditMaskRule => {
    const key = `audit.mask[${i}]`;
    const segments = parsePointer(`${key}.path`, rule.path);
    if (rule.op === 'erase') {
      if (rule.value !== undefined)
        throw new ConfigError(`${key}.value`, 'only valid with op: mask');
      return { op: 'erase', path: rule.path, segments };
    }
    return {
      op: 'mask',
      path: rule.path,
      segments,
      value: rule.value !== undefined ? rule.value : '[masked]',
    };
  });
  if (raw.labels['version'] !== undefined) {
    throw new ConfigError('audit.labels.version', 'is set by mandate');
  }
  return {
    sinks,
    mask,
    ringSize: raw.ring_size,
    labels: raw.labels,
    maxQueue: raw.max_queue,
    shutdownFlushMs: raw.shutdown_flush_ms,
    durability: raw.durability,
  };
}

function resolveSinks(
  raw: AuditFile,
  at: (p: string) => string,
  stateDir: string,
): AuditSinkConfig[] {
  const stdout: AuditSinkConfig = { driver: 'stdout', name: 'stdout', format: 'mandate' };
  if (raw.sink !== undefined) {
    if (raw.sink === 'none') return [];
    if (raw.sink === 'stdout') return [stdout];
    if (raw.path === undefined) throw new ConfigError('audit.path', 'is required');
    return [
      {
        driver: 'file',
        name: 'file',
        format: 'mandate',
        path: at(raw.path),
        ...FILE_SINK_DEFAULTS,
      },
    ];
  }
  if (raw.path !== undefined) throw new ConfigError('audit.path', 'only valid with sink: file');
  if (raw.sinks === undefined) return [stdout];
  const names = new Set<string>();
  return raw.sinks.map((sink, i) => {
    const name = sink.name ?? sink.driver;
    if (names.has(name)) {
      throw new ConfigError(
        `audit.sinks[${i}].name`,
        `duplicate sink name ${JSON.stringify(name)} (name sinks of the same driver apart)`,
      );
    }
    names.add(name);
    switch (sink.driver) {
      case 'stdout':
        return { driver: 'stdout', name, format: sink.format };
      case 'file':
        return {
          driver: 'file',
          name,
          format: sink.format,
          path: at(sink.path),
          maxBytes: sink.max_bytes,
          maxFiles: sink.max_files,
        };
      case 'http':
        return resolveHttpSink(`audit.sinks[${i}]`, sink, name, at, stateDir);
    }
  });
}

function resolveHttpSink(
  key: string,
  sink: HttpSinkFile,
  name: string,
  at: (p: string) => string,
  stateDir: string,
): AuditSinkConfig {
  for (const header of Object.keys(sink.headers)) {
    if (/^(content-type|content-encoding|content-length)$/i.test(header)) {
      throw new ConfigError(`${key}.headers.${header}`, 'is set by mandate');
    }
  }
  if (sink.backoff_max_ms < sink.backoff_min_ms) {
    throw new ConfigError(`${key}.backoff_max_ms`, 'must be at least backoff_min_ms');
  }
  return {
    driver: 'http',
    name,
    url: sink.url,
    headers: sink.headers,
    timeoutMs: sink.timeout_ms,
    batchMaxBytes: sink.batch_max_bytes,
    batchMaxDelayMs: sink.batch_max_delay_ms,
    backoffMinMs: sink.backoff_min_ms,
    backoffMaxMs: sink.backoff_max_ms,
    spool: resolveSpool(`${key}.spool`, sink.spool, at, join(stateDir, 'audit-spool', name)),
    onFull: sink.on_full,
  };
}

function resolveSpool(
  key: string,
  spool: HttpSinkFile['spool'],
  at: (p: string) => string,
  defaultDir: string,
): AuditSpoolConfig {
  const segmentMaxBytes =
    spool.segment_max_bytes ?? Math.min(DEFAULT_SEGMENT_MAX_BYTES, Math.floor(spool.max_bytes / 4));
  // Drop-oldest frees whole segments: several must fit under the bound for it to free anything.
  if (segmentMaxBytes * 4 > spool.max_bytes) {
    throw new ConfigError(`${key}.segment_max_bytes`, 'must be at most a quarter of max_bytes');
  }
  return {
    dir: spool.dir !== undefined ? at(spool.dir) : defaultDir,
    maxBytes: spool.max_bytes,
    segmentMaxBytes,
    fsync: spool.fsync,
    fsyncIntervalMs: spool.fsync_interval_ms,
  };
}
