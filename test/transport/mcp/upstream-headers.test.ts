// What the upstream receives: chosen headers, mandate's token for it and its identity headers, never the client's credentials.
import { describe, expect, it } from 'vitest';
import type { Decision } from '../../../src/core/decision.js';
import { upstreamHeadersOf } from '../../../src/transport/mcp/upstream.js';

const decision: Decision = {
  allow: true,
  decisionId: 'd-1',
  reasons: [],
  subject: {
    sub: 'user_8421',
    tenant: 'acme_inc',
    clientId: 'agent-1',
    scopes: ['a'],
    act: ['agent-1'],
  },
  latencyUs: 1,
};

const incoming = {
  'content-type': 'application/json',
  authorization: 'Bearer the-clients-token',
  dpop: 'a-proof',
  cookie: 'c=1',
  'x-mandate-subject': 'forged',
};

describe('upstreamHeadersOf', () => {
  it('sends the identity headers and no credential of the client by default', () => {
    const headers = upstreamHeadersOf(incoming, decision, { sendIdentityHeaders: true });
    expect(headers).toEqual({
      'content-type': 'application/json',
      'x-mandate-decision-id': 'd-1',
      'x-mandate-subject': 'user_8421',
      'x-mandate-tenant': 'acme_inc',
      'x-mandate-client': 'agent-1',
      'x-mandate-scopes': 'a',
      'x-mandate-act': 'agent-1',
    });
  });

  it("sends mandate's token for the upstream, in place of the client's", () => {
    const headers = upstreamHeadersOf(incoming, decision, {
      sendIdentityHeaders: true,
      token: 'exchanged',
    });
    expect(headers['authorization']).toBe('Bearer exchanged');
    expect(headers['dpop']).toBeUndefined();
  });

  it('leaves the identity headers out when they are switched off, a forged one included', () => {
    const headers = upstreamHeadersOf(incoming, decision, {
      sendIdentityHeaders: false,
      token: 'exchanged',
    });
    expect(headers).toEqual({
      'content-type': 'application/json',
      authorization: 'Bearer exchanged',
    });
  });
});
