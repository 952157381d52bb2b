// OPA decision-log rendering: the EventV1 fields OPA documents, filled from mandate's record.
import { describe, expect, it } from 'vitest';
import { createRecordClock } from '../../src/audit/clock.js';
import { toOpaEvent } from '../../src/audit/opa-event.js';
import type { AuditRecord } from '../../src/audit/record.js';

const LABELS = { id: 'sidecar-1', service: 'crm-api', version: '0.1.0' };

describe('OPA decision-log event', () => {
  it('carries labels, decision_id, bundles, path, input, result, timestamp, metrics, requested_by and attribution', () => {
    const record = {
      type: 'decision',
      schema_version: 1,
      decision_id: 'd-1',
      time: '2026-11-28T09:20:10.123456789Z',
      transport: 'http',
      allow: false,
      reasons: [{ code: 'policy_denied', message: 'no' }],
      action: 'billing.view',
      tenant: 'acme_inc',
      sub: 'user_8421',
      client_id: 'agent-1',
      act: ['agent-1'],
      scopes: ['billing.view'],
      decided_by: 'tenant',
      policy: { base: 'b1', tenant: 't1' },
      latency_us: 57,
      eval_ns: 12_345,
      peer: '127.0.0.1:5000',
      input: { action: 'billing.view' },
      erased: ['/input/resource/attributes/ssn'],
    } as unknown as AuditRecord;
    const event = toOpaEvent(record, LABELS);
    expect(event).toEqual({
      labels: LABELS,
      decision_id: 'd-1',
      bundles: { base: { revision: 'b1' }, 'tenants/acme_inc': { revision: 't1' } },
      path: 'mandate/tenant/decision',
      input: { action: 'billing.view' },
      result: {
        allow: false,
        reasons: [{ code: 'policy_denied', message: 'no' }],
        decided_by: 'tenant',
      },
      erased: ['/input/resource/attributes/ssn'],
      requested_by: '127.0.0.1:5000',
      timestamp: '2026-11-28T09:20:10.123456789Z',
      metrics: { timer_rego_query_eval_ns: 12_345, timer_server_handler_ns: 57_000 },
      mandate: expect.objectContaining({
        type: 'decision',
        schema_version: 1,
        tenant: 'acme_inc',
        sub: 'user_8421',
        client_id: 'agent-1',
        act: ['agent-1'],
        scopes: ['billing.view'],
        action: 'billing.view',
      }),
    });
    expect(event.mandate).not.toHaveProperty('input');
  });

  it('names a denial made before policy mandate/check and keeps non-decision records apart by their own id', () => {
    const refused = toOpaEvent(
      {
        type: 'decision',
        schema_version: 1,
        decision_id: 'd-2',
        time: 't',
        transport: 'grpc',
        allow: false,
        reasons: [{ code: 'token_expired', message: 'expired' }],
        action: 'x',
        latency_us: 1,
      } as AuditRecord,
      LABELS,
    );
    expect(refused.path).toBe('mandate/check');
    expect(refused).not.toHaveProperty('bundles');

    const exchange = toOpaEvent(
      {
        type: 'exchange',
        schema_version: 1,
        exchange_id: 'x-1',
        decision_id: 'd-2',
        time: 't',
        latency_us: 1,
      } as unknown as AuditRecord,
      LABELS,
    );
    expect(exchange.decision_id).toBe('x-1');
    expect(exchange.path).toBe('mandate/exchange');
    expect(exchange.mandate['decision_id']).toBe('d-2');
  });

  it('stamps RFC 3339 times with nanosecond digits that order within a millisecond', () => {
    const { rfc3339NanoNow } = createRecordClock();
    const a = rfc3339NanoNow();
    const b = rfc3339NanoNow();
    expect(a).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/);
    expect(b > a).toBe(true);
    expect(Math.abs(Date.parse(a) - Date.now())).toBeLessThan(2000);
    // Many in a row: every one well formed and none earlier than the one before (digits in order).
    let last = b;
    for (let i = 0; i < 20_000; i++) {
      const next = rfc3339NanoNow();
      expect(next).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/);
      expect(next >= last).toBe(true);
      last = next;
    }
    expect(Math.abs(Date.parse(last) - Date.now())).toBeLessThan(2000);
  });
});
