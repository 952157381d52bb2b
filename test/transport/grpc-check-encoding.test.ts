// The pre-encoded gRPC allow: byte for byte what ts-proto writes for the same answer, and only for a cached token's plain allow.
import { describe, expect, it } from 'vitest';
import type { Decision, Subject } from '../../src/core/decision.js';
import { createRandomUuid } from '../../src/lib/uuid.js';
import { CheckResponse } from '../../src/gen/mandate/v1/authorizer.js';
import {
  encodedAllowOf,
  EncodedCheckResponse,
  serializeCheckResponse,
} from '../../src/transport/grpc/check-encoding.js';
import { toCheckResponse } from '../../src/transport/grpc/check.js';

const randomUuid = createRandomUuid();

function frozenSubject(subject: Subject): Subject {
  Object.freeze(subject.scopes);
  Object.freeze(subject.act);
  return Object.freeze(subject);
}

function allow(subject: Subject, decidedBy?: Decision['decidedBy']): Decision {
  return { allow: true, decisionId: randomUuid(), reasons: [], subject, decidedBy, latencyUs: 1 };
}

const subjects: Subject[] = [
  { sub: 'user_8421', tenant: 'acme_inc', clientId: 'agent-1', scopes: ['a', 'b'], act: [] },
  { sub: 'ünïcødé 用户', tenant: 'acme', clientId: 'bot', scopes: [], act: ['agent-2', 'agent-1'] },
  { scopes: ['only.scopes'], act: [] },
  {
    sub: 'x'.repeat(300),
    tenant: 't',
    scopes: Array.from({ length: 40 }, (_, i) => `s${i}`),
    act: [],
  },
];

describe('encodedAllowOf', () => {
  it('writes exactly the bytes ts-proto writes for the same allow, for every subject and layer', () => {
    for (const s of subjects) {
      const subject = frozenSubject({ ...s, scopes: [...s.scopes], act: [...s.act] });
      for (const decidedBy of ['base', 'tenant', undefined] as const) {
        for (let i = 0; i < 3; i++) {
          const decision = allow(subject, decidedBy);
          const encoded = encodedAllowOf(decision);
          expect(encoded).toBeInstanceOf(EncodedCheckResponse);
          const expected = Buffer.from(CheckResponse.encode(toCheckResponse(decision)).finish());
          expect(serializeCheckResponse(encoded as EncodedCheckResponse)).toEqual(expected);
          expect(CheckResponse.decode(encoded!.bytes).decisionId).toBe(decision.decisionId);
        }
      }
    }
  });

  it('leaves every other answer to ts-proto: denials, subjects not frozen, ids not 36 ASCII characters', () => {
    const subject = frozenSubject({ sub: 'u', tenant: 't', scopes: ['a'], act: [] });
    const deny: Decision = {
      ...allow(subject, 'base'),
      allow: false,
      reasons: [{ code: 'insufficient_scope', message: 'no' }],
    };
    expect(encodedAllowOf(deny)).toBeUndefined();
    expect(encodedAllowOf(allow({ sub: 'u', scopes: [], act: [] }, 'base'))).toBeUndefined();
    expect(encodedAllowOf({ ...allow(subject, 'base'), subject: undefined })).toBeUndefined();
    expect(encodedAllowOf({ ...allow(subject, 'base'), decisionId: 'short' })).toBeUndefined();
    const nonAscii = `${'é'.repeat(36)}`;
    expect(encodedAllowOf({ ...allow(subject, 'base'), decisionId: nonAscii })).toBeUndefined();
    // ...which the serializer still encodes.
    const plain = toCheckResponse(deny);
    expect(CheckResponse.decode(serializeCheckResponse(plain))).toMatchObject({
      allow: false,
      reasons: [{ code: 'insufficient_scope', message: 'no' }],
    });
  });
});
