// Renders a (masked) audit record as an OPA decision-log event, so tools that ingest OPA's logs ingest mandate's.
import { randomUUID } from 'node:crypto';
import type { AuditRecord } from './record.js';

/** The OPA decision-log event (EventV1) fields mandate fills, plus its own under `mandate`. */
export interface OpaDecisionEvent {
  readonly labels: Readonly<Record<string, string>>;
  readonly decision_id: string;
  readonly bundles?: Readonly<Record<string, { readonly revision: string }>>;
  readonly path: string;
  readonly input?: unknown;
  readonly result?: unknown;
  readonly erased?: readonly string[];
  readonly masked?: readonly string[];
  readonly requested_by?: string;
  /** RFC 3339 with up to nanosecond digits, as OPA writes it. */
  readonly timestamp: string;
  readonly metrics?: Readonly<Record<string, number>>;
  /** mandate's attribution and record fields (type, tenant, sub, client_id, act, scopes, ...). */
  readonly mandate: Readonly<Record<string, unknown>>;
}

/** The OPA `path` for the layer that decided: the Rego entrypoint that produced the result. */
function pathOf(record: Record<string, unknown>): string {
  if (record['type'] !== 'decision') return `mandate/${String(record['type'])}`;
  switch (record['decided_by']) {
    case 'base':
      return 'mandate/base/decision';
    case 'tenant':
      return 'mandate/tenant/decision';
    case 'compat':
      return 'mandate/compat';
    default:
      // Denied before any policy ran (token, tenant guard): the pipeline itself decided.
      return 'mandate/check';
  }
}

/**
 * An event's id. Decisions use their `decision_id`; other records (exchange, admin) use their own
 * id (`exchange_id`, ...) so a collector deduplicating on `decision_id` never merges an exchange
 * into the decision that gated it.
 */
function idOf(record: Record<string, unknown>): string {
  const type = String(record['type']);
  const candidates =
    type === 'decision'
      ? [record['decision_id']]
      : [record[`${type}_id`], record['event_id'], record['id']];
  for (const c of candidates) if (typeof c === 'string' && c.length > 0) return c;
  return randomUUID();
}

/** The OPA `bundles` map: one entry per policy unit that ran, named as in the metrics. */
function bundlesOf(
  record: Record<string, unknown>,
): Record<string, { revision: string }> | undefined {
  const policy = record['policy'] as Record<string, unknown> | undefined;
  if (policy === undefined || policy === null || typeof policy !== 'object') return undefined;
  const bundles: Record<string, { revision: string }> = {};
  for (const [unit, revision] of Object.entries(policy)) {
    if (typeof revision !== 'string') continue;
    const name =
      unit === 'tenant' && typeof record['tenant'] === 'string'
        ? `tenants/${record['tenant']}`
        : unit;
    bundles[name] = { revision };
  }
  return Object.keys(bundles).length > 0 ? bundles : undefined;
}

const OWN_FIELDS = new Set(['decision_id', 'time', 'input', 'erased', 'masked', 'peer', 'eval_ns']);

/** Renders one record; `labels` are the sidecar's (`id`, `service`, `version`, extras). */
export function toOpaEvent(
  record: AuditRecord,
  labels: Readonly<Record<string, string>>,
): OpaDecisionEvent {
  const r = record as unknown as Record<string, unknown>;
  const mandate: Record<string, unknown> = {};
  for (const key of Object.keys(r)) {
    if (!OWN_FIELDS.has(key)) mandate[key] = r[key];
  }
  if (r['type'] !== 'decision' && typeof r['decision_id'] === 'string') {
    mandate['decision_id'] = r['decision_id'];
  }
  const bundles = bundlesOf(r);
  const metrics: Record<string, number> = {};
  if (typeof r['eval_ns'] === 'number') metrics['timer_rego_query_eval_ns'] = r['eval_ns'];
  if (typeof r['latency_us'] === 'number') {
    metrics['timer_server_handler_ns'] = Math.round(r['latency_us'] * 1000);
  }
  const result =
    r['type'] === 'decision'
      ? {
          allow: r['allow'],
          reasons: r['reasons'],
          ...(r['decided_by'] !== undefined ? { decided_by: r['decided_by'] } : {}),
        }
      : undefined;
  return {
    labels,
    decision_id: idOf(r),
    ...(bundles ? { bundles } : {}),
    path: pathOf(r),
    ...(r['input'] !== undefined ? { input: r['input'] } : {}),
    ...(result ? { result } : {}),
    ...(Array.isArray(r['erased']) ? { erased: r['erased'] as string[] } : {}),
    ...(Array.isArray(r['masked']) ? { masked: r['masked'] as string[] } : {}),
    ...(typeof r['peer'] === 'string' ? { requested_by: r['peer'] } : {}),
    timestamp: typeof r['time'] === 'string' ? r['time'] : new Date().toISOString(),
    ...(Object.keys(metrics).length > 0 ? { metrics } : {}),
    mandate,
  };
}
