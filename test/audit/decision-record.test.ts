// The decision record maker: records from the pipeline's facts, shape keys only for repeats of a cached outcome, and no record built when audit keeps nothing.
import { describe, expect, it } from 'vitest';
import { createAuditLog } from '../../src/audit/audit-log.js';
import { createDecisionRecordMaker, type DecisionFacts } from '../../src/audit/decision-record.js';
import { RECORD_SHAPE, type DecisionAuditRecord } from '../../src/audit/record.js';
import type { AuditConfig } from '../../src/config/types.js';

const ALLOWED = Object.freeze([]);
const REFUSED = Object.freeze([Object.freeze({ code: 'audit_unavailable', message: 'no' })]);

function facts(
  outcome: object & DecisionFacts['learned']['outcome'],
  over: Partial<DecisionFacts['decided']> = {},
): DecisionFacts {
  return {
    asked: { transport: 'http', action: 'tickets.read', resource: { type: 'ticket', id: 'T-1' } },
    decided: {
      decisionId: 'd-1',
      allow: true,
      reasons: ALLOWED,
      decidedBy: 'base',
      latencyUs: 12.4,
      ...over,
    },
    learned: {
      subject: { sub: 'user_1', tenant: 'acme', scopes: ['a'], act: [] },
      outcome,
      issuer: 'https://issuer.test',
      tokenHash: 'abcd',
      input: { action: 'tickets.read' },
    },
  };
}

const shapeOf = (r: DecisionAuditRecord) => r[RECORD_SHAPE];

describe('decision records', () => {
  it('writes what was asked, decided and learned', () => {
    const record = createDecisionRecordMaker().recordOf(
      facts({ base: { revision: 'r1', evalNs: 1500.4 } }),
    );
    expect(record).toMatchObject({
      type: 'decision',
      decision_id: 'd-1',
      allow: true,
      transport: 'http',
      action: 'tickets.read',
      resource: { type: 'ticket', id: 'T-1' },
      tenant: 'acme',
      sub: 'user_1',
      iss: 'https://issuer.test',
      token_hash: 'abcd',
      decided_by: 'base',
      policy: { base: 'r1' },
      latency_us: 12,
      eval_ns: 1500,
      input: { action: 'tickets.read' },
    });
    expect(shapeOf(record)).toBeUndefined();
  });

  it('gives repeats of one cached outcome one shape key per reasons array and dry-run', () => {
    const maker = createDecisionRecordMaker();
    const outcome = Object.freeze({ base: { revision: 'r1', evalNs: 1 }, cached: true as const });
    const other = Object.freeze({ base: { revision: 'r1', evalNs: 1 }, cached: true as const });
    const a = shapeOf(maker.recordOf(facts(outcome)));
    expect(a).toBeDefined();
    expect(shapeOf(maker.recordOf(facts(outcome, { decisionId: 'd-2' })))).toBe(a);
    const dry = shapeOf(maker.recordOf(facts(outcome, { dryRun: true })));
    const refused = shapeOf(maker.recordOf(facts(outcome, { allow: false, reasons: REFUSED })));
    const elsewhere = shapeOf(maker.recordOf(facts(other)));
    expect(new Set([a, dry, refused, elsewhere]).size).toBe(4);
    expect(shapeOf(maker.recordOf(facts(outcome, { allow: false, reasons: REFUSED })))).toBe(
      refused,
    );
  });

  it('builds no record when the audit log keeps nothing', () => {
    const config: AuditConfig = {
      sinks: [],
      mask: [],
      ringSize: 0,
      labels: {},
      maxQueue: 10,
      shutdownFlushMs: 0,
      durability: 'best_effort',
    };
    const log = createAuditLog({ config, version: 'test' });
    let read = 0;
    const watched = facts({ base: { revision: 'r1', evalNs: 1 } });
    log.writeDecision({
      get asked() {
        read++;
        return watched.asked;
      },
      get decided() {
        read++;
        return watched.decided;
      },
      get learned() {
        read++;
        return watched.learned;
      },
    });
    expect(read).toBe(0);
  });
});
