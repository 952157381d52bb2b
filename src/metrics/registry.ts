// Prometheus instruments for the whole sidecar, built once by the composition root and passed down.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { BoundCounter, BoundHistogram } from './bound.js';

export interface Metrics {
  readonly registry: Registry;
  // Recorded on every decision: bound instruments (see bound.ts), not prom-client's.
  readonly decisions: BoundCounter<'result' | 'reason' | 'transport'>;
  readonly decisionLatency: BoundHistogram<'transport'>;
  readonly tokenCache: BoundCounter<'result'>;
  readonly policyEvalLatency: BoundHistogram<'layer'>;
  readonly policyCache: BoundCounter<'result'>;
  readonly jwksFetches: Counter<'issuer' | 'result'>;
  readonly policyRevision: Gauge<'unit' | 'revision'>;
  readonly policyLoads: Counter<'origin' | 'result'>;
  readonly policyLoadFailing: Gauge<'unit'>;
  readonly policyUnits: Gauge<'state'>;
  readonly policyModules: Gauge;
  readonly policyBundlePolls: Counter<'unit' | 'result'>;
  readonly policyBundleLastActivation: Gauge<'unit'>;
  readonly auditRecords: Counter<'sink' | 'result'>;
  readonly auditSpoolBytes: Gauge<'sink'>;
  readonly auditOldestUndeliveredSeconds: Gauge<'sink'>;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false)
    collectDefaultMetrics({ register: registry, prefix: 'mandate_' });
  const registers = [registry];
  return {
    registry,
    decisions: new BoundCounter({
      name: 'mandate_decisions_total',
      help: 'Decisions by result (allow/deny), first reason code and transport.',
      labelNames: ['result', 'reason', 'transport'],
      registers,
    }),
    decisionLatency: new BoundHistogram({
      name: 'mandate_decision_duration_seconds',
      help: 'Time spent in decide(), seconds.',
      labelNames: ['transport'],
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5],
      registers,
    }),
    tokenCache: new BoundCounter({
      name: 'mandate_token_cache_total',
      help: 'Verified-token cache look-ups by result (hit/miss).',
      labelNames: ['result'],
      registers,
    }),
    jwksFetches: new Counter({
      name: 'mandate_jwks_fetches_total',
      help: 'JWKS fetches by issuer and result (ok/error).',
      labelNames: ['issuer', 'result'],
      registers,
    }),
    policyEvalLatency: new BoundHistogram({
      name: 'mandate_policy_eval_duration_seconds',
      help: 'Wasm policy evaluation time per layer (base/tenant), seconds.',
      labelNames: ['layer'],
      buckets: [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005, 0.025],
      registers,
    }),
    policyCache: new BoundCounter({
      name: 'mandate_policy_cache_total',
      help: 'Policy decision cache look-ups by result (hit: Wasm skipped; miss: evaluated; bypass: not cacheable).',
      labelNames: ['result'],
      registers,
    }),
    policyRevision: new Gauge({
      name: 'mandate_policy_revision_info',
      help: 'Loaded policy revision per unit (base or tenant); value is always 1.',
      labelNames: ['unit', 'revision'],
      registers,
    }),
    policyLoads: new Counter({
      name: 'mandate_policy_loads_total',
      help: 'Policy unit loads (start, hot reload, bundle activation) by origin (dir/bundle) and result (ok/error).',
      labelNames: ['origin', 'result'],
      registers,
    }),
    policyLoadFailing: new Gauge({
      name: 'mandate_policy_load_failing',
      help: 'Set to 1 for a unit (base or tenants/<id>) whose latest load failed; removed once one succeeds.',
      labelNames: ['unit'],
      registers,
    }),
    policyUnits: new Gauge({
      name: 'mandate_policy_units',
      help: 'Policy units by state: active (serving), failed (denied: never loaded), removed (denied: directory removed).',
      labelNames: ['state'],
      registers,
    }),
    policyModules: new Gauge({
      name: 'mandate_policy_wasm_modules',
      help: 'Live Wasm module instances serving policy units (tenants are packed several to a module).',
      registers,
    }),
    policyBundlePolls: new Counter({
      name: 'mandate_policy_bundle_polls_total',
      help: 'Bundle server polls by unit and result (activated/not_modified/error).',
      labelNames: ['unit', 'result'],
      registers,
    }),
    policyBundleLastActivation: new Gauge({
      name: 'mandate_policy_bundle_last_activation_timestamp_seconds',
      help: 'When the active bundle of a unit was activated, seconds since the epoch.',
      labelNames: ['unit'],
      registers,
    }),
    auditRecords: new Counter({
      name: 'mandate_audit_records_total',
      help: 'Audit records by sink and result (written: accepted by the sink or its spool; delivered: acknowledged by the collector; dropped).',
      labelNames: ['sink', 'result'],
      registers,
    }),
    auditSpoolBytes: new Gauge({
      name: 'mandate_audit_spool_bytes',
      help: 'Undelivered audit bytes in an http sink spool (on disk plus not yet written).',
      labelNames: ['sink'],
      registers,
    }),
    auditOldestUndeliveredSeconds: new Gauge({
      name: 'mandate_audit_oldest_undelivered_seconds',
      help: 'Age of the oldest audit record an http sink has not delivered yet; 0 when none.',
      labelNames: ['sink'],
      registers,
    }),
  };
}
