// recordJson: byte-for-byte JSON.stringify, also when callers' strings read like its markers, and for records of every shape.
import { describe, expect, it } from 'vitest';
import { createRecordJson } from '../../src/audit/record-json.js';
import type { AuditRecord } from '../../src/audit/record.js';

const deepFreeze = <T extends object>(value: T): T => {
  for (const child of Object.values(value)) {
    if (typeof child === 'object' && child !== null) deepFreeze(child);
  }
  return Object.freeze(value);
};

function record(overrides: { resourceId?: string; claim?: string; subjectSub?: string } = {}) {
  const claims = deepFreeze({
    iss: 'https://as.example',
    sub: 'user-1',
    note: overrides.claim ?? 'plain',
    act: { sub: 'agent-1' },
  });
  const subject = deepFreeze({
    sub: overrides.subjectSub ?? 'user-1',
    scopes: ['a', 'b'],
    act: ['agent-1'],
  });
  return {
    type: 'decision',
    decision_id: 'd-1',
    allow: true,
    reasons: [],
    resource: { type: 'ticket', id: overrides.resourceId ?? 'T-1' },
    absent: undefined,
    input: {
      action: 'tickets.comment',
      resource: { type: 'ticket', id: overrides.resourceId ?? 'T-1' },
      context: {},
      subject,
      claims,
      transport: 'http',
    },
  } as unknown as AuditRecord;
}

const recordJson = createRecordJson();

describe('recordJson', () => {
  it('equals JSON.stringify, and a second record of the same token too', () => {
    const first = record();
    expect(recordJson(first)).toBe(JSON.stringify(first));
    expect(recordJson(first)).toBe(JSON.stringify(first));
  });

  it('is not fooled by caller strings that read like its markers', () => {
    for (const sneaky of ['\u0000subject', '\u0000claims', '"\u0000claims"', '\\u0000subject']) {
      for (const r of [
        record({ resourceId: sneaky }),
        record({ claim: sneaky }),
        record({ subjectSub: sneaky }),
      ]) {
        expect(recordJson(r)).toBe(JSON.stringify(r));
      }
    }
  });

  it('leaves the record as it found it', () => {
    const r = record();
    const input = (r as unknown as { input: Record<string, unknown> }).input;
    const { subject, claims } = input;
    recordJson(r);
    expect(input['subject']).toBe(subject);
    expect(input['claims']).toBe(claims);
  });

  it('never writes to the record, so a frozen one renders the same', () => {
    const r = deepFreeze(record());
    expect(recordJson(r)).toBe(JSON.stringify(r));
  });

  it('falls back to JSON.stringify for any other shape', () => {
    const unfrozen = record();
    const input = (unfrozen as unknown as { input: Record<string, unknown> }).input;
    input['claims'] = { sub: 'user-1' };
    expect(recordJson(unfrozen)).toBe(JSON.stringify(unfrozen));

    const masked = { ...record(), masked: ['/input/context/x'] } as unknown as AuditRecord;
    expect(recordJson(masked)).toBe(JSON.stringify(masked));

    const noInput = { type: 'decision', allow: false } as unknown as AuditRecord;
    expect(recordJson(noInput)).toBe(JSON.stringify(noInput));
  });
});
