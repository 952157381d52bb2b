// The audit log: enqueues on the decision path, then off it masks each record once and fans it out to the ring and every sink.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AuditConfig } from '../config/types.js';
import type { ComponentStatus } from '../lib/lifecycle.js';
import type { Metrics } from '../metrics/registry.js';
import {
  createAuditDestinations,
  destinationsStatus,
  updateSpoolGauges,
  warnLeftInSpool,
  type AuditLogger,
} from './audit-destinations.js';
import { createDecisionRecordMaker } from './decision-record.js';
import type { AuditRecordResult } from './destination.js';
import { createGroupCommit } from './group-commit.js';
import type { HttpAuditDestination } from './http-destination.js';
import { createLogQuery, type AuditQueryAnswer, type AuditQuerySource } from './log-query.js';
import type { AuditQuery } from './query.js';
import { createRecordFanOut } from './record-fanout.js';
import type { AuditRecord } from './record.js';
import { createAuditRing, type AuditRing } from './ring.js';
import type { AuditSink } from './sink.js';

export { AuditSourceError, type AuditQueryAnswer, type AuditQuerySource } from './log-query.js';

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

export interface AuditLogDeps {
  readonly config: AuditConfig;
  readonly metrics?: Metrics;
  /** Operational warnings (never record content, never credentials). */
  readonly logger?: AuditLogger;
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
  const ring = createAuditRing(config.ringSize);
  const destinations = createAuditDestinations(config, version, metrics, logger);
  const httpSinks = destinations.filter((d): d is HttpAuditDestination => d.driver === 'http');
  const fanOut = createRecordFanOut({ mask: config.mask, ring, destinations, labels });
  const commits = createGroupCommit(destinations);

  /** No sink and no ring: records go nowhere, so not even masking is spent on them. */
  const off = destinations.length === 0 && config.ringSize === 0;
  let queue: AuditRecord[] = [];
  let scheduled = false;
  let closed = false;
  let metricsTimer: NodeJS.Timeout | undefined;

  /** answer_after_write: decisions wait for their record's commit (written and fsynced by every sink). */
  const holdAnswers = config.durability === 'answer_after_write' && !off;
  /** The last write() queued its record (committed() has something to wait for). */
  let lastQueued = false;

  const countAll = (result: AuditRecordResult, n: number) => {
    for (const d of destinations) metrics?.auditRecords.inc({ sink: d.name, result }, n);
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
        fanOut(record);
      } catch (err) {
        // A record that cannot be rendered (a value JSON cannot hold) is counted, never thrown.
        countAll('dropped', 1);
        commits.failDrain();
        logger?.warn({ err: (err as Error).message }, 'audit record could not be rendered');
      }
    }
    for (const d of destinations) d.commit();
    commits.drained();
  };

  const flush = async () => {
    drain();
    await Promise.all(destinations.map((d) => d.flush()));
  };
  const updateGauges = () => updateSpoolGauges(httpSinks, metrics);

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
      return commits.next();
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
      warnLeftInSpool(httpSinks, logger);
    },
    status: () => destinationsStatus(destinations),
    query: createLogQuery(config, ring, flush),
  };
}
