// The whole pipeline over a real HTTP listener: real JWKS endpoint, real opa-built Wasm policies, real audit file.
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { exportSPKI } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestKey, encodeSegment, signToken, ISSUER } from '../helpers/tokens.js';
import { rawHttp } from '../helpers/raw-http.js';
import { postCheck, startSidecar, type Sidecar } from '../helpers/sidecar.js';

let sidecar: Sidecar;
const now = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  sidecar = await startSidecar();
});
afterAll(async () => {
  await sidecar?.stop();
});

async function check(body: Record<string, unknown>, token?: string) {
  return postCheck(sidecar, body, token ? { authorization: `Bearer ${token}` } : {});
}

function codesOf(body: Record<string, unknown>): string[] {
  return (body['reasons'] as { code: string }[]).map((r) => r.code);
}

describe('POST /v1/check', () => {
  it('allows an action granted by a mapped scope and returns the subject', async () => {
    const token = await sidecar.token({ claims: { scope: 'contacts.read tickets.write' } });
    const { status, body } = await check(
      { action: 'tickets.comment', resource: { type: 'ticket', id: 'T-1' }, tenant: 'acme_inc' },
      token,
    );
    expect(status).toBe(200);
    expect(body).toMatchObject({
      allow: true,
      reasons: [],
      subject: {
        sub: 'user-1',
        tenant: 'acme_inc',
        client_id: 'agent-1',
        scopes: ['contacts.read', 'tickets.write'],
        act: [],
      },
    });
    expect(body['decision_id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('accepts the token in the body as well as in the header', async () => {
    const token = await sidecar.token({ claims: { scope: 'contacts.read' } });
    const { body } = await check({ token, action: 'contacts.read' });
    expect(body['allow']).toBe(true);
  });

  it('denies an action no scope grants with insufficient_scope', async () => {
    const token = await sidecar.token({ claims: { scope: 'contacts.read' } });
    const { status, body } = await check({ action: 'contacts.update' }, token);
    expect(status).toBe(200);
    expect(body['allow']).toBe(false);
    expect(codesOf(body)).toEqual(['insufficient_scope']);
  });

  it('denies a request without a token with token_missing', async () => {
    const { body } = await check({ action: 'contacts.read' });
    expect(codesOf(body)).toEqual(['token_missing']);
  });

  describe('token failures', () => {
    const cases: [string, () => Promise<string>, string][] = [
      [
        'expired',
        () => sidecar.token({ claims: { exp: now() - 3600, iat: now() - 7200 } }),
        'token_expired',
      ],
      [
        'nbf in the future',
        () => sidecar.token({ claims: { nbf: now() + 3600 } }),
        'token_not_yet_valid',
      ],
      [
        'wrong iss',
        () => sidecar.token({ claims: { iss: 'https://evil.example' } }),
        'issuer_unknown',
      ],
      ['wrong aud', () => sidecar.token({ claims: { aud: 'billing-api' } }), 'audience_mismatch'],
      ['wrong typ', () => sidecar.token({ header: { typ: 'JWT' } }), 'token_type_invalid'],
      ['missing jti', () => sidecar.token({ claims: { jti: undefined } }), 'claim_missing'],
      [
        'alg none',
        async () =>
          `${encodeSegment({ alg: 'none', typ: 'at+jwt' })}.${encodeSegment({ iss: ISSUER, sub: 'x', exp: now() + 60 })}.`,
        'algorithm_not_allowed',
      ],
      [
        'HS256 signed with the public key',
        async () => {
          const header = encodeSegment({ alg: 'HS256', typ: 'at+jwt', kid: sidecar.key.kid });
          const payload = encodeSegment({
            iss: ISSUER,
            sub: 'x',
            aud: 'orders-api',
            exp: now() + 60,
            tenant: 'acme_inc',
          });
          const secret = await exportSPKI(sidecar.key.publicKey);
          const sig = createHmac('sha256', secret)
            .update(`${header}.${payload}`)
            .digest('base64url');
          return `${header}.${payload}.${sig}`;
        },
        'algorithm_not_allowed',
      ],
      ['unknown kid', () => sidecar.token({ header: { kid: 'no-such-key' } }), 'key_not_found'],
      [
        'tampered payload',
        async () => {
          const [h, , s] = (await sidecar.token()).split('.');
          return `${h}.${encodeSegment({ iss: ISSUER, sub: 'admin', aud: 'orders-api', exp: now() + 60 })}.${s}`;
        },
        'token_invalid_signature',
      ],
      [
        'bound to a DPoP key (cnf.jkt), with no proof mandate could check',
        () =>
          sidecar.token({
            claims: { cnf: { jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs' } },
          }),
        'token_binding_unverified',
      ],
      ['garbage', async () => 'not-a-jwt', 'token_malformed'],
      ['over max_token_bytes', async () => `${'a'.repeat(20_000)}.b.c`, 'token_malformed'],
    ];
    it.each(cases)('%s', async (_name, make, code) => {
      const token = await make();
      const { status, body } = await check({ token, action: 'contacts.read' });
      expect(status).toBe(200);
      expect(body['allow']).toBe(false);
      expect(codesOf(body)).toEqual([code]);
      expect(JSON.stringify(body)).not.toContain(token.slice(0, 40));
    });

    it('a 1 MB token is refused with 413 and the sidecar keeps serving', async () => {
      const { status, body } = await check({
        token: 'a'.repeat(1_048_576),
        action: 'contacts.read',
      });
      expect(status).toBe(413);
      expect(body['error']).toBe('payload_too_large');
      const ok = await check(
        { action: 'contacts.read' },
        await sidecar.token({ claims: { scope: 'contacts.read' } }),
      );
      expect(ok.body['allow']).toBe(true);
    });
  });

  it('denies a request naming another tenant with tenant_mismatch', async () => {
    const token = await sidecar.token({ claims: { scope: 'contacts.read' } });
    const { body } = await check({ action: 'contacts.read', tenant: 'globex' }, token);
    expect(codesOf(body)).toEqual(['tenant_mismatch']);
  });

  it('denies a user-delegated action to a client-credentials token with delegation_required', async () => {
    const token = await sidecar.token({
      claims: { sub: 'svc-sync', client_id: 'svc-sync', scope: 'contacts.write' },
    });
    const { body } = await check(
      { action: 'contacts.update', resource: { type: 'contact', id: 'c1' } },
      token,
    );
    expect(codesOf(body)).toEqual(['delegation_required']);
  });

  it('a tenant policy narrows what base allows', async () => {
    const viaAgent = await sidecar.token({
      claims: { scope: 'billing.view', client_id: 'agent-1' },
    });
    const denied = await check({ action: 'billing.view' }, viaAgent);
    expect(denied.body).toMatchObject({ allow: false, decided_by: 'tenant' });
    expect(codesOf(denied.body)).toEqual(['policy_denied']);

    const viaFinanceBot = await sidecar.token({
      claims: { scope: 'billing.view', client_id: 'finance-bot' },
    });
    expect((await check({ action: 'billing.view' }, viaFinanceBot)).body['allow']).toBe(true);
  });

  it('a tenant without a policy is decided by base alone', async () => {
    const token = await sidecar.token({ claims: { tenant: 'globex', scope: 'billing.view' } });
    const { body } = await check({ action: 'billing.view', tenant: 'globex' }, token);
    expect(body).toMatchObject({ allow: true, decided_by: 'base' });
  });

  it('refuses a token sent both in the body and the header', async () => {
    const token = await sidecar.token();
    const { status, body } = await check({ token, action: 'contacts.read' }, token);
    expect(status).toBe(400);
    expect(body['message']).toMatch(/^token:/);
  });

  it.each(['text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'text/json'])(
    'answers a %s body with 415 naming content-type',
    async (type) => {
      const res = await postCheck(sidecar, JSON.stringify({ action: 'contacts.read' }), {
        'content-type': type,
      });
      expect(res.status).toBe(415);
      expect(res.body).toEqual({
        error: 'invalid_request',
        message: 'content-type: must be application/json',
      });
    },
  );

  it('answers two Authorization headers with 400: the first would win, a server behind could read the other', async () => {
    const token = await sidecar.token({ claims: { scope: 'contacts.read' } });
    const body = JSON.stringify({ action: 'contacts.read' });
    const json = ['content-type', 'application/json'] as const;
    for (const second of [`Bearer ${token}`, 'Bearer other', 'Basic eDp5']) {
      const res = await rawHttp(
        sidecar.httpUrl,
        'POST',
        '/v1/check',
        [json, ['authorization', `Bearer ${token}`], ['Authorization', second]],
        body,
      );
      expect(res.status, second).toBe(400);
      expect(JSON.parse(res.text)).toMatchObject({
        error: 'invalid_request',
        message: expect.stringMatching(/^authorization:/),
      });
    }
    const one = await rawHttp(
      sidecar.httpUrl,
      'POST',
      '/v1/check',
      [json, ['authorization', `Bearer ${token}`]],
      body,
    );
    expect(JSON.parse(one.text)).toMatchObject({ allow: true });
  });

  it.each([
    ['malformed JSON', '{"action": "contacts.read",', 'body: is not valid JSON'],
    ['missing action', { resource: { type: 'contact' } }, 'action: is required'],
    ['action of the wrong type', { action: 42 }, 'action: must be string'],
    [
      'resource without a type',
      { action: 'a', resource: { id: 'x' } },
      'resource.type: is required',
    ],
    ['context of the wrong type', { action: 'a', context: 'x' }, 'context: must be object'],
    ['an unknown field', { action: 'a', actions: ['b'] }, 'actions: is not a known field'],
    ['an empty body', '', 'body'],
  ])('answers %s with 400 naming the field, and keeps serving', async (_name, body, message) => {
    const res = await postCheck(sidecar, body);
    expect(res.status).toBe(400);
    expect(res.body['error']).toBe('invalid_request');
    expect(String(res.body['message'])).toContain(message);
    const ok = await check(
      { action: 'contacts.read' },
      await sidecar.token({ claims: { scope: 'contacts.read' } }),
    );
    expect(ok.body['allow']).toBe(true);
  });

  it('answers 1,000 parallel checks, each correctly', async () => {
    const reader = await sidecar.token({ claims: { scope: 'contacts.read' } });
    const writer = await sidecar.token({ claims: { scope: 'contacts.write' } });
    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => {
        const expectAllow = i % 3 !== 0;
        const token = i % 2 === 0 ? reader : writer;
        const action = expectAllow
          ? i % 2 === 0
            ? 'contacts.read'
            : 'contacts.update'
          : 'billing.export';
        return check({ action, context: { i } }, token).then((r) => ({ r, expectAllow }));
      }),
    );
    for (const { r, expectAllow } of results) {
      expect(r.status).toBe(200);
      expect(r.body['allow']).toBe(expectAllow);
    }
    expect(new Set(results.map(({ r }) => r.body['decision_id'])).size).toBe(1000);
  });
});

describe('audit', () => {
  it('writes exactly one record per decision, allow or deny, and never the raw token', async () => {
    const token = await sidecar.token({
      claims: { scope: 'contacts.read', jti: `jti-${randomUUID()}` },
    });
    const requestId = `req-${randomUUID()}`;
    const allowed = await postCheck(
      sidecar,
      { action: 'contacts.read', resource: { type: 'contact', id: 'c9' } },
      { authorization: `Bearer ${token}`, 'x-request-id': requestId },
    );
    const denied = await check({ action: 'contacts.delete' }, token);
    const records = await sidecar.auditRecords();
    const byId = (id: unknown) => records.filter((r) => r['decision_id'] === id);
    expect(byId(allowed.body['decision_id'])).toHaveLength(1);
    expect(byId(denied.body['decision_id'])).toHaveLength(1);
    const record = byId(allowed.body['decision_id'])[0] as Record<string, unknown>;
    expect(record).toMatchObject({
      type: 'decision',
      schema_version: 1,
      transport: 'http',
      allow: true,
      action: 'contacts.read',
      resource: { type: 'contact', id: 'c9' },
      tenant: 'acme_inc',
      sub: 'user-1',
      client_id: 'agent-1',
      scopes: ['contacts.read'],
      iss: ISSUER,
      request_id: requestId,
      decided_by: 'base',
    });
    expect(record['jti']).toMatch(/^jti-/);
    expect(record['token_hash']).toMatch(/^[0-9a-f]{16}$/);
    expect(record['policy']).toMatchObject({
      base: expect.any(String),
      tenant: expect.any(String),
    });
    expect(typeof record['latency_us']).toBe('number');
    expect(byId(denied.body['decision_id'])[0]).toMatchObject({
      allow: false,
      reasons: [{ code: 'insufficient_scope' }],
    });

    const decisionIds = new Set(records.map((r) => r['decision_id']));
    expect(decisionIds.size).toBe(records.length);
    const output = await sidecar.rawOutput();
    expect(output).not.toContain(token);
    expect(output).not.toContain(token.split('.')[2]);
  });
});

describe('decision cache', () => {
  it('answers a repeated question without the policy, says so in the audit, and counts it', async () => {
    const token = await sidecar.token({ claims: { scope: 'tickets.write' } });
    const body = {
      action: 'tickets.comment',
      resource: { type: 'ticket', id: `T-${randomUUID()}` },
    };
    const first = await check(body, token);
    const second = await check(body, token);
    const other = await check({ ...body, resource: { type: 'ticket', id: 'T-other' } }, token);
    expect([first, second, other].map((r) => r.body['allow'])).toEqual([true, true, true]);
    const records = await sidecar.auditRecords();
    const recordOf = (r: typeof first) =>
      records.find((x) => x['decision_id'] === r.body['decision_id']) as Record<string, unknown>;
    expect(recordOf(first)).not.toHaveProperty('policy_cached');
    expect(typeof recordOf(first)['eval_ns']).toBe('number');
    expect(recordOf(second)).toMatchObject({ policy_cached: true, allow: true });
    expect(recordOf(second)).not.toHaveProperty('eval_ns');
    expect(recordOf(second)['policy']).toEqual(recordOf(first)['policy']);
    // Another resource is another question.
    expect(recordOf(other)).not.toHaveProperty('policy_cached');
    const metrics = await (await fetch(`${sidecar.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/mandate_policy_cache_total\{result="hit"\} [1-9]\d*/);
    expect(metrics).toMatch(/mandate_policy_cache_total\{result="miss"\} [1-9]\d*/);
  });

  it('answers a cached allow as JSON, with the subject escaped as the serializer would', async () => {
    const sub = 'user "q" \\ \u2028 é';
    const token = await sidecar.token({
      claims: { sub, scope: 'tickets.write', act: { sub: 'agent-1', act: { sub: 'support-bot' } } },
    });
    const body = { action: 'tickets.comment', resource: { type: 'ticket', id: 'T-json' } };
    for (const expectCached of [false, true]) {
      const res = await fetch(`${sidecar.httpUrl}/v1/check`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
      const answer = (await res.json()) as Record<string, unknown>;
      expect(Object.keys(answer)).toEqual([
        'allow',
        'decision_id',
        'reasons',
        'decided_by',
        'subject',
      ]);
      expect(answer).toEqual({
        allow: true,
        decision_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        reasons: [],
        decided_by: 'base',
        subject: {
          sub,
          tenant: 'acme_inc',
          client_id: 'agent-1',
          scopes: ['tickets.write'],
          act: ['agent-1', 'support-bot'],
        },
      });
      const records = await sidecar.auditRecords();
      const record = records.find((r) => r['decision_id'] === answer['decision_id']);
      expect(record?.['policy_cached'] === true).toBe(expectCached);
    }
  });

  it('writes every cached decision in full: its own id, time, request id and peer, credentials masked', async () => {
    const token = await sidecar.token({ claims: { scope: 'tickets.write' } });
    const body = {
      action: 'tickets.comment',
      resource: { type: 'ticket', id: `T-${randomUUID()}` },
    };
    const requestIds = ['req-1', 'req-2', 'Bearer opaque-s3cr3t', 'quote " and \\ and é', ''];
    const answers: Awaited<ReturnType<typeof postCheck>>[] = [];
    for (const id of requestIds) {
      answers.push(
        await postCheck(sidecar, body, { authorization: `Bearer ${token}`, 'x-request-id': id }),
      );
    }
    await sidecar.auditRecords(); // flushes
    const raw = await sidecar.rawOutput();
    expect(raw).not.toContain('opaque-s3cr3t');
    const lines = raw.split('\n').filter((l) => l.startsWith('{"type":"decision"'));
    const lineOf = (answer: (typeof answers)[number]) => {
      const found = lines.filter((l) =>
        l.includes(`"decision_id":"${answer.body['decision_id'] as string}"`),
      );
      expect(found).toHaveLength(1);
      return found[0] as string;
    };
    const PER_DECISION = ['decision_id', 'time', 'latency_us', 'eval_ns', 'request_id', 'peer'];
    // Masking lists what it replaced (`masked`), only in the record it touched.
    const rest = (record: Record<string, unknown>) =>
      Object.fromEntries(
        Object.entries(record).filter(([k]) => !PER_DECISION.includes(k) && k !== 'masked'),
      );
    const cached = answers.slice(1).map((a) => JSON.parse(lineOf(a)) as Record<string, unknown>);
    expect(cached.map((r) => r['request_id'])).toEqual([
      'req-2',
      '[credential]',
      'quote " and \\ and é',
      '',
    ]);
    for (const [i, r] of cached.entries()) {
      // Well-formed, no member twice, and alike but for the per-decision members.
      expect(JSON.stringify(r)).toBe(lineOf(answers[i + 1] as (typeof answers)[number]));
      expect(r).toMatchObject({ policy_cached: true, allow: true });
      expect(r['decision_id']).toBe(answers[i + 1]?.body['decision_id']);
      expect(r['peer']).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(rest(r)).toEqual(rest(cached[0] as Record<string, unknown>));
    }
    expect(new Set(cached.map((r) => r['time'])).size).toBe(cached.length);
  });

  it('still denies a cached question once the answer would differ: another tenant, another action', async () => {
    const token = await sidecar.token({ claims: { scope: 'tickets.write' } });
    expect((await check({ action: 'tickets.comment' }, token)).body['allow']).toBe(true);
    expect((await check({ action: 'tickets.comment' }, token)).body['allow']).toBe(true);
    const mismatch = await check({ action: 'tickets.comment', tenant: 'globex' }, token);
    expect(codesOf(mismatch.body)).toEqual(['tenant_mismatch']);
    const scope = await check({ action: 'contacts.read' }, token);
    expect(codesOf(scope.body)).toEqual(['insufficient_scope']);
  });
});

describe('one token, questions in turn', () => {
  it('answers and records each question as asked, whichever one the token asked before', async () => {
    const token = await sidecar.token({ claims: { scope: 'tickets.write' } });
    const questions = [
      { action: 'tickets.comment', resource: { type: 'ticket', id: 'T-1' } },
      { action: 'tickets.comment', resource: { type: 'ticket', id: 'T-2' } },
      { action: 'tickets.comment', resource: { type: 'note', id: 'T-2' } },
      { action: 'tickets.comment', resource: { type: 'note' } },
      { action: 'tickets.comment' },
      { action: 'contacts.read', resource: { type: 'ticket', id: 'T-1' } },
    ];
    const allowed = [true, true, true, true, true, false];
    const asked: { decisionId: unknown; question: (typeof questions)[number]; allow: boolean }[] =
      [];
    // Each question twice in a row (a cached repeat), then all again in another order.
    const order = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 1, 0, 5, 2, 4, 3, 0, 5, 1];
    for (const i of order) {
      const question = questions[i] as (typeof questions)[number];
      const { body } = await check(question, token);
      expect(body['allow'], `question ${i}`).toBe(allowed[i]);
      asked.push({ decisionId: body['decision_id'], question, allow: allowed[i] as boolean });
    }
    const records = await sidecar.auditRecords();
    for (const { decisionId, question, allow } of asked) {
      const record = records.find((r) => r['decision_id'] === decisionId);
      expect(record, JSON.stringify(question)).toMatchObject({ action: question.action, allow });
      expect(record?.['resource']).toEqual(question.resource);
      const input = record?.['input'] as Record<string, unknown>;
      expect(input['action']).toBe(question.action);
      expect(input['resource']).toEqual(question.resource);
    }
  });
});

describe('audit of refused tokens', () => {
  it('records the reason and a fingerprint of the refused token, not the token', async () => {
    const forged = `${encodeSegment({ alg: 'none' })}.${encodeSegment({ iss: ISSUER, sub: 'mallory' })}.`;
    const { body } = await check({ token: forged, action: 'contacts.read' });
    const record = (await sidecar.auditRecords()).find(
      (r) => r['decision_id'] === body['decision_id'],
    );
    expect(record).toMatchObject({
      allow: false,
      reasons: [{ code: 'algorithm_not_allowed' }],
      iss: ISSUER,
      token_hash: createHash('sha256').update(forged).digest('hex').slice(0, 16),
    });
    expect(record).not.toHaveProperty('sub');
    expect(await sidecar.rawOutput()).not.toContain(forged);
  });
});

describe('operations', () => {
  it('/health, /ready and /metrics answer', async () => {
    expect((await fetch(`${sidecar.httpUrl}/health`)).status).toBe(200);
    const ready = await fetch(`${sidecar.httpUrl}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: 'ready',
      components: { keys: { state: 'OK' }, policies: { state: 'OK' } },
    });
    const metrics = await (await fetch(`${sidecar.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(
      /mandate_decisions_total\{result="allow",reason="none",transport="http"\} \d+/,
    );
    expect(metrics).toMatch(
      /mandate_decisions_total\{result="deny",reason="insufficient_scope",transport="http"\} \d+/,
    );
    expect(metrics).toMatch(/mandate_token_cache_total\{result="hit"\} \d+/);
    expect(metrics).toContain('mandate_decision_duration_seconds_bucket');
    expect(metrics).toContain('mandate_policy_eval_duration_seconds_bucket{le=');
    expect(metrics).toMatch(
      /mandate_policy_revision_info\{unit="tenants\/acme_inc",revision="[0-9a-f]+"\} 1/,
    );
    expect(metrics).toMatch(/mandate_jwks_fetches_total\{issuer="[^"]+",result="ok"\} \d+/);
  });
});

describe('keys', () => {
  it('rotates: a new kid is fetched on demand while the old key keeps working', async () => {
    const next = await createTestKey('RS256');
    sidecar.jwks.setKeys([sidecar.key.jwk, next.jwk]);
    const fresh = await signToken(next, { claims: { tenant: 'acme_inc', scope: 'contacts.read' } });
    expect((await check({ action: 'contacts.read' }, fresh)).body['allow']).toBe(true);
    const old = await sidecar.token({ claims: { scope: 'contacts.read' } });
    expect((await check({ action: 'contacts.read' }, old)).body['allow']).toBe(true);
  });

  it('keeps verifying with cached keys while the JWKS endpoint is down', async () => {
    sidecar.jwks.setFailure(503);
    try {
      const token = await sidecar.token({ claims: { scope: 'contacts.read' } });
      expect((await check({ action: 'contacts.read' }, token)).body['allow']).toBe(true);
      const unknown = await sidecar.token({ header: { kid: 'rotated-away' } });
      expect(codesOf((await check({ action: 'contacts.read' }, unknown)).body)).toEqual([
        'key_not_found',
      ]);
    } finally {
      sidecar.jwks.setFailure(undefined);
    }
  });
});

describe('a sidecar whose JWKS endpoint was never reachable', () => {
  it('denies with jwks_unavailable and reports not ready', async () => {
    const cold = await startSidecar({ jwksFailure: 500 });
    try {
      const token = await cold.token({ claims: { scope: 'contacts.read' } });
      const { body } = await postCheck(cold, { token, action: 'contacts.read' });
      expect(codesOf(body)).toEqual(['jwks_unavailable']);
      const ready = await fetch(`${cold.httpUrl}/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({
        status: 'not_ready',
        components: { keys: { state: 'NOT_READY' } },
      });
    } finally {
      await cold.stop();
    }
  });
});
