// The audit log: enqueues on the decision path, then off it masks each record once and fans it out to the ring and every sink.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AuditConfig } from '../config/types.js';
import type { ComponentStatus } from '../lib/lifecycle.js';
import type { Metrics } from '../metrics/registry.js';
import type { AuditDestination, AuditRecordResult } from './destination.js';
import { rotatedFiles, scanAuditFiles } from './file-scan.js';
import { createDecisionRecordMaker } from './decision-record.js';
import { createHttpDestination, type HttpAuditDestination } from './http-destination.js';
import { createLineDestination } from './line-destination.js';
import { createMasker, mayHoldCredential } from './mask.js';
import { toOpaEvent } from './opa-event.js';
import { createRecordJson } from './record-json.js';
import { compactRecord, RecordTemplates } from './record-template.js';
import type { AuditQuery } from './query.js';
import type { AuditRecord } from './record.js';
import { createAuditRing, type AuditRing } from './ring.js';
import type { AuditSink } from './sink.js';

/** Where a query is answered from: the in-memory ring, the file sink, or the ring unless it no longer covers `since`. */
export type AuditQuerySource = 'auto' | 'ring' | 'file';

export interface AuditQueryAnswer {
  readonly source: 'ring' | 'file';
  readonly records: readonly AuditRecord[];
  readonly more: boolean;
  /** Ring answers only: pass as `after` for what came later, with the same `ringId`. */
  readonly nextAfter?: number;
  readonly ringId?: string;
  /** False when older matches may have left the ring (and no file sink could answer). */
  readonly complete: boolean;
}

export interface AuditLog extends AuditSink {
  admits(): boolean;
  /** Opens spools and starts delivery. */
  start(): Promise<void>;
  status(): ComponentStatus;
  /** Throws `AuditSourceError` when `file` is asked for and no mandate-format file sink exists. */
  query(q: AuditQuery, source?: AuditQuerySource): Promise<AuditQueryAnswer>;
  readonly ring: AuditRing;
  /** OPA labels stamped on every OPA-format record. */
  readonly labels: Readonly<Record<string, string>>;
}

interface Commit {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(err: Error): void;
}

function createCommit(): Commit {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A decision may never wait on it (an error path): no unhandled rejection.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

export class AuditSourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuditSourceError';
  }
}

export interface AuditLogDeps {
  readonly config: AuditConfig;
  readonly metrics?: Metrics;
  /** Operational warnings (never record content, never credentials). */
  readonly logger?: { warn(obj: object, msg: string): void };
  /** Default: the package version. */
  readonly version?: string;
}

const METRICS_INTERVAL_MS = 1000;

function packageVersion(): string {
  try {
    const url = new URL('../../package.json', import.meta.url);
    return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function createAuditLog(deps: AuditLogDeps): AuditLog {
  const { config, metrics, logger } = deps;
  const version = deps.version ?? packageVersion();
  const labels = Object.freeze({
    id: randomUUID(),
    service: 'mandate',
    ...config.labels,
    version,
  });
  const mask = createMasker(config.mask);
  const ring = createAuditRing(config.ringSize);

  const destinations: AuditDestination[] = config.sinks.map((sink) => {
    const events = {
      onRecords: (result: AuditRecordResult, n: number) =>
        metrics?.auditRecords.inc({ sink: sink.name, result }, n),
      onError: (err: Error, what: string) =>
        logger?.warn({ sink: sink.name, err: err.message }, `audit sink: ${what} failed`),
    };
    switch (sink.driver) {
      case 'stdout':
        return createLineDestination({
          ...events,
          name: sink.name,
          format: sink.format,
          destination: 1,
        });
      case 'file':
        return createLineDestination({
          ...events,
          name: sink.name,
          format: sink.format,
          destination: sink.path,
          maxBytes: sink.maxBytes,
          maxFiles: sink.maxFiles,
        });
      case 'http':
        return createHttpDestination({ ...events, config: sink, version });
    }
  });
  const httpSinks = destinations.filter((d): d is HttpAuditDestination => d.driver === 'http');
  const fileSink = config.sinks.find(
    (s): s is Extract<typeof s, { driver: 'file' }> =>
      s.driver === 'file' && s.format === 'mandate',
  );

  /** No sink and no ring: records go nowhere, so not even masking is spent on them. */
  const off = destinations.length === 0 && config.ringSize === 0;
  let queue: AuditRecord[] = [];
  let scheduled = false;
  let closed = false;
  let metricsTimer: NodeJS.Timeout | undefined;

  /** answer_after_write: decisions wait for their record's commit (written and fsynced by every sink). */
  const holdAnswers = config.durability === 'answer_after_write' && !off;
  /** The commit the records queued since the last drain will be part of. */
  let nextCommit: Commit | undefined;
  /** Commits whose records are written, waiting for one sync of every sink. */
  let toSync: Commit[] = [];
  let syncing = false;
  /** The last write() queued its record (committed() has something to wait for). */
  let lastQueued = false;
  /** A record of the current drain could not be rendered: its commit must not report it written. */
  let drainFailed = false;

  /**
   * Group commit: one sync of every sink covers every drain that completed before it started, so
   * concurrent decisions share an fsync; drains finishing meanwhile share the next one.
   */
  const syncCommits = async () => {
    syncing = true;
    while (toSync.length > 0) {
      const batch = toSync;
      toSync = [];
      try {
        await Promise.all(destinations.map((d) => d.sync()));
        for (const c of batch) c.resolve();
      } catch (err) {
        for (const c of batch) c.reject(err as Error);
      }
    }
    syncing = false;
  };

  const commitDrained = () => {
    const c = nextCommit;
    const failed = drainFailed;
    drainFailed = false;
    if (c === undefined) return;
    nextCommit = undefined;
    if (failed) {
      c.reject(new Error('an audit record could not be rendered'));
      return;
    }
    toSync.push(c);
    if (!syncing) void syncCommits();
  };

  const countAll = (result: AuditRecordResult, n: number) => {
    for (const d of destinations) metrics?.auditRecords.inc({ sink: d.name, result }, n);
  };

  /**
   * With no mask rules, a record the precheck clears is already its masked self. Serialising to
   * find out costs no more than the structural scrub, and a repeated record's line is nearly free
   * (record-template.ts); a mandate-format sink writes that very line.
   */
  const precheck = config.mask.length === 0;
  const templates = new RecordTemplates();
  const recordJson = createRecordJson();

  /**
   * The masked record, and its mandate-format JSON when already rendered. Serialising first lets
   * the usual, clean record skip the structural scrub: with no mask rules, a line the precheck
   * clears is exactly what masking would produce. A record JSON refuses as it is (a cycle, which
   * masking cuts) is masked first, as before.
   */
  const render = (
    record: AuditRecord,
  ): { masked: AuditRecord; json?: string; kept?: AuditRecord; ascii?: boolean } => {
    if (!precheck) return { masked: mask(record) };
    const templated = templates.lineOf(record);
    if (templated !== undefined) {
      if (!templated.mayHoldCredential) {
        const kept = templated.first === record ? record : compactRecord(templated.first, record);
        return { masked: record, json: templated.json, kept, ascii: templated.ascii };
      }
      const masked = mask(record);
      return masked === record ? { masked, json: templated.json } : { masked };
    }
    let json: string;
    try {
      json = recordJson(record);
    } catch {
      return { masked: mask(record) };
    }
    if (!mayHoldCredential(json)) return { masked: record, json };
    const masked = mask(record);
    return masked === record ? { masked, json } : { masked };
  };

  // Masking and serialising cost microseconds; doing them in a later macrotask, batched, keeps them
  // out of the decision's latency and leaves one scheduled callback however many records arrive.
  const drain = () => {
    scheduled = false;
    if (queue.length === 0) return;
    const batch = queue;
    queue = [];
    for (const record of batch) {
      try {
        const { masked, json, kept, ascii } = render(record);
        ring.push(kept ?? masked);
        let mandateLine = json === undefined ? undefined : `${json}\n`;
        // Known only for a line written from a template; a full render is not scanned for it.
        const mandateAscii = json !== undefined && ascii === true;
        let opaLine: string | undefined;
        for (const d of destinations) {
          if (d.format === 'opa') {
            d.add(masked, (opaLine ??= `${JSON.stringify(toOpaEvent(masked, labels))}\n`), false);
          } else {
            d.add(masked, (mandateLine ??= `${recordJson(masked)}\n`), mandateAscii);
          }
        }
      } catch (err) {
        // A record that cannot be rendered (a value JSON cannot hold) is counted, never thrown.
        countAll('dropped', 1);
        drainFailed = true;
        logger?.warn({ err: (err as Error).message }, 'audit record could not be rendered');
      }
    }
    for (const d of destinations) d.commit();
    commitDrained();
  };

  const flush = async () => {
    drain();
    await Promise.all(destinations.map((d) => d.flush()));
  };

  const updateGauges = () => {
    if (!metrics) return;
    for (const d of httpSinks) {
      const s = d.stats();
      metrics.auditSpoolBytes.set({ sink: d.name }, s.spoolBytes);
      metrics.auditOldestUndeliveredSeconds.set({ sink: d.name }, s.oldestUndeliveredSeconds);
    }
  };

  /** Whether a record written now is queued; counts it dropped when not. */
  const accepts = (): boolean => {
    if (closed || queue.length >= config.maxQueue) {
      lastQueued = false;
      countAll('dropped', 1);
      return false;
    }
    return true;
  };
  const enqueue = (record: AuditRecord) => {
    lastQueued = true;
    queue.push(record);
    if (!scheduled) {
      scheduled = true;
      setImmediate(drain);
    }
  };
  const decisionRecords = createDecisionRecordMaker();

  return {
    ring,
    labels,
    write(record) {
      if (off || !accepts()) return;
      enqueue(record);
    },
    writeDecision(facts) {
      // Built only when it will be kept; its time is the decision's, taken now.
      if (off || !accepts()) return;
      enqueue(decisionRecords.recordOf(facts));
    },
    admits() {
      for (const d of destinations) if (!d.admits()) return false;
      return true;
    },
    committed() {
      if (!holdAnswers) return undefined;
      // A record refused (closed log, full queue) has no commit to wait for: it will never be on disk.
      if (!lastQueued) return Promise.reject(new Error('the audit record was not queued'));
      return (nextCommit ??= createCommit()).promise;
    },
    async start() {
      await Promise.all(destinations.map((d) => d.start()));
      if (metrics && httpSinks.length > 0) {
        updateGauges();
        metricsTimer = setInterval(updateGauges, METRICS_INTERVAL_MS);
        metricsTimer.unref();
      }
    },
    flush,
    async close() {
      if (closed) return;
      closed = true;
      drain();
      const deadline = Date.now() + config.shutdownFlushMs;
      await Promise.all(destinations.map((d) => d.close(deadline)));
      if (metricsTimer) clearInterval(metricsTimer);
      updateGauges();
      for (const d of httpSinks) {
        const s = d.stats();
        if (s.spoolRecords > 0) {
          logger?.warn(
            { sink: d.name, records: s.spoolRecords, bytes: s.spoolBytes },
            'audit records left in the spool for the next start',
          );
        }
      }
    },
    status() {
      if (destinations.length === 0) return { state: 'OK', message: 'audit is off (no sinks)' };
      const sinks: Record<string, ComponentStatus> = {};
      let worst: ComponentStatus = { state: 'OK' };
      const rank = { OK: 0, WARN: 1, NOT_READY: 2, ERROR: 3 } as const;
      for (const d of destinations) {
        const s = d.status();
        sinks[d.name] = s;
        if (rank[s.state] > rank[worst.state])
          worst = { state: s.state, message: `${d.name}: ${s.message ?? s.state}` };
      }
      return { ...worst, detail: { sinks } };
    },
    async query(q, source = 'auto') {
      if (source === 'file' || (source === 'auto' && fileSink !== undefined)) {
        const answer = source === 'file' ? undefined : ring.query(q);
        if (answer && (answer.complete || q.after !== undefined)) {
          return { source: 'ring', ringId: ring.id, ...answer };
        }
        if (!fileSink) {
          throw new AuditSourceError('no file sink in the mandate format is configured');
        }
        if (q.after !== undefined)
          throw new AuditSourceError('after is a ring cursor; use since with the file');
        // Records still queued or buffered must be on disk before the file can answer for them.
        await flush();
        const files = rotatedFiles(fileSink.path, fileSink.maxFiles);
        const found = await scanAuditFiles(files, q);
        return { source: 'file', records: found.records, more: found.more, complete: true };
      }
      const answer = ring.query(q);
      return { source: 'ring', ringId: ring.id, ...answer };
    },
  };
}
