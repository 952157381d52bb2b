// The stream guard: a watched stream ends, with one record, when a revocation matching its token is enforced, and only then.
import { describe, expect, it } from 'vitest';
import { createDecisionRecordMaker } from '../../src/audit/decision-record.js';
import type { DecisionAuditRecord } from '../../src/audit/record.js';
import type { AuditSink } from '../../src/audit/sink.js';
import type { Decision } from '../../src/core/decision.js';
import type { AuthzRequest } from '../../src/core/request.js';
import { createStreamGuard } from '../../src/core/stream-guard.js';
import { createLifetimeRules } from '../../src/revocation/lifetime.js';
import { createRevocationIndex } from '../../src/revocation/revocation-index.js';
import type { RevocationEntry } from '../../src/revocation/types.js';

const lifetime = createLifetimeRules({ defaultSeconds: 3600, toleranceSeconds: 30 });
const NOW_S = Math.floor(Date.now() / 1000);

function setup() {
  const index = createRevocationIndex({ grantClaim: 'grant_id', lifetime });
  const maker = createDecisionRecordMaker();
  const records: DecisionAuditRecord[] = [];
  const audit: AuditSink = {
    write() {},
    writeDecision: (facts) => records.push(maker.recordOf(facts)),
    flush: async () => {},
    close: async () => {},
  };
  const errors: unknown[] = [];
  const guard = createStreamGuard({
    revocations: index,
    audit,
    onError: (err) => errors.push(err),
  });
  return { index, records, errors, guard };
}

/** A stream's request and its allow, for a token of `sub` in `tenant`. */
function stream(sub: string, tenant = 'acme', jti = `jti-${sub}`) {
  const payload = { sub, tenant, jti, iat: NOW_S - 60, exp: NOW_S + 600 };
  const token = `eyJhbGciOiJFUzI1NiJ9.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.c2ln`;
  const request: AuthzRequest = { token, action: 'mcp.stream', transport: 'mcp' };
  const decision: Decision = {
    allow: true,
    decisionId: `d-${sub}`,
    reasons: [],
    subject: { sub, tenant, scopes: [], act: [] },
    latencyUs: 1,
  };
  return { request, decision };
}

let seq = 0;
function entry(over: Partial<RevocationEntry> & Pick<RevocationEntry, 'kind'>): RevocationEntry {
  return {
    id: `rv_${++seq}`,
    reason: 'test',
    createdBy: 'token:00000000',
    createdAtMs: Date.now(),
    ...over,
  };
}

describe('stream guard', () => {
  it('ends a watched stream the moment a matching revocation is enforced, with a record naming it', () => {
    const { index, records, guard } = setup();
    const ended: string[] = [];
    for (const sub of ['u1', 'u2']) {
      const { request, decision } = stream(sub);
      guard.watch(request, decision, () => ended.push(sub));
    }
    index.add(entry({ kind: 'subject', tenant: 'other', value: 'u1', issuedBeforeMs: Date.now() }));
    expect(ended).toEqual([]);
    const e = entry({ kind: 'subject', tenant: 'acme', value: 'u1', issuedBeforeMs: Date.now() });
    index.add(e);
    // Synchronously: no event can be passed on between the add and the end.
    expect(ended).toEqual(['u1']);
    expect(guard.size()).toBe(1);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      allow: false,
      action: 'mcp.stream',
      transport: 'mcp',
      sub: 'u1',
      tenant: 'acme',
      jti: 'jti-u1',
      revocation: { id: e.id, kind: 'subject' },
      reasons: [{ code: 'revoked' }],
    });
    // Ended once: another matching entry (or a resync bringing one in) changes nothing more.
    index.replaceAll([...index.entries(), entry({ kind: 'token', value: 'jti-u1' })]);
    expect(ended).toEqual(['u1']);
  });

  it('ends a stream at once when its token was revoked before it was watched', () => {
    const { index, guard } = setup();
    index.add(entry({ kind: 'tenant', tenant: 'acme', issuedBeforeMs: Date.now() }));
    const { request, decision } = stream('u1');
    let ended = false;
    guard.watch(request, decision, () => (ended = true));
    expect(ended).toBe(true);
    expect(guard.size()).toBe(0);
  });

  it('forgets a stream that ended by itself, and watches nothing it cannot match', () => {
    const { index, guard } = setup();
    let ended = 0;
    const { request, decision } = stream('u1');
    const stop = guard.watch(request, decision, () => ended++);
    stop();
    guard.watch({ ...request, token: 'opaque' }, decision, () => ended++);
    guard.watch(request, { ...decision, allow: false }, () => ended++);
    expect(guard.size()).toBe(0);
    index.add(entry({ kind: 'token', value: 'jti-u1' }));
    expect(ended).toBe(0);
  });

  it('a failing end is reported and the other streams still end', () => {
    const { index, errors, guard } = setup();
    const a = stream('u1', 'acme', 'jti-a');
    const b = stream('u2', 'acme', 'jti-b');
    guard.watch(a.request, a.decision, () => {
      throw new Error('a bug');
    });
    let bEnded = false;
    guard.watch(b.request, b.decision, () => (bEnded = true));
    index.add(entry({ kind: 'tenant', tenant: 'acme', issuedBeforeMs: Date.now() }));
    expect(bEnded).toBe(true);
    expect(errors).toHaveLength(1);
    guard.close();
  });
});
