// The audit log's destinations: one per `sinks` entry, their combined status, and the spool gauges of the http ones.
import type { AuditConfig } from '../config/types.js';
import type { ComponentStatus } from '../lib/lifecycle.js';
import type { Metrics } from '../metrics/registry.js';
import type { AuditDestination, AuditRecordResult } from './destination.js';
import { createHttpDestination, type HttpAuditDestination } from './http-destination.js';
import { createLineDestination } from './line-destination.js';

/** Operational warnings (never record content, never credentials). */
export interface AuditLogger {
  warn(obj: object, msg: string): void;
}

/** One destination per `sinks` entry, counting its records and reporting its failures. */
export function createAuditDestinations(
  config: AuditConfig,
  version: string,
  metrics?: Metrics,
  logger?: AuditLogger,
): AuditDestination[] {
  return config.sinks.map((sink) => {
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
}

/** The worst destination's state, with every destination's status in `detail.sinks`. */
export function destinationsStatus(destinations: readonly AuditDestination[]): ComponentStatus {
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
}

/** Sets each http destination's spool gauges. */
export function updateSpoolGauges(
  httpSinks: readonly HttpAuditDestination[],
  metrics?: Metrics,
): void {
  if (!metrics) return;
  for (const d of httpSinks) {
    const s = d.stats();
    metrics.auditSpoolBytes.set({ sink: d.name }, s.spoolBytes);
    metrics.auditOldestUndeliveredSeconds.set({ sink: d.name }, s.oldestUndeliveredSeconds);
  }
}

/** Warns about records an http destination leaves in its spool at close. */
export function warnLeftInSpool(
  httpSinks: readonly HttpAuditDestination[],
  logger?: AuditLogger,
): void {
  for (const d of httpSinks) {
    const s = d.stats();
    if (s.spoolRecords > 0) {
      logger?.warn(
        { sink: d.name, records: s.spoolRecords, bytes: s.spoolBytes },
        'audit records left in the spool for the next start',
      );
    }
  }
}
