// The on-behalf-of hop end to end: a user signs in to an agent at the real dev authorization server, service A's sidecar checks and exchanges, service B's sidecar checks the exchanged token.
import { createServer, type Server, type Socket } from 'node:net';
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startDevAuthorizationServer,
  type DevAuthorizationServer,
} from '../../src/dev-as/server.js';
import { AuthorizerClient, type ExchangeResponse } from '../../src/gen/mandate/v1/authorizer.js';
import {
  EXCHANGE_TEST_CLIENTS,
  exchangeYaml,
  postJson,
  startAsSidecar,
  type AsSidecar,
} from '../helpers/as-sidecar.js';
import { loginAsUser } from '../helpers/dev-as-login.js';
import { ADMIN_TOKEN } from '../helpers/sidecar.js';

const CRM = 'urn:mandate:crm-api';

let as: DevAuthorizationServer;
let crm: AsSidecar; // service A: guards crm-api, exchanges as crm-service
let billing: AsSidecar; // service B: guards billing-api
let userToken: string; // user_8421 → finance-bot, for crm-api

beforeAll(async () => {
  as = await startDevAuthorizationServer({
    port: 0,
    clients: EXCHANGE_TEST_CLIENTS,
  });
  crm = await startAsSidecar(as, {
    audience: 'crm-api',
    exchangeYaml: exchangeYaml(as, 'crm-service', 'crm-service-dev-secret'),
  });
  billing = await startAsSidecar(as, { audience: 'billing-api' });
  userToken = await login('finance-bot', 'contacts.read billing.view');
});

afterAll(async () => {
  await crm?.stop();
  await billing?.stop();
  await as?.stop();
});

function login(agent: string, scope: string, user = 'user_8421'): Promise<string> {
  const client = agent === 'pinned-bot' ? 'pinned-bot-dev-secret' : `${agent}-dev-secret`;
  return loginAsUser({
    asUrl: as.url,
    clientId: agent,
    clientSecret: client,
    user,
    scope,
    resource: CRM,
  });
}

function exchange(sidecar: AsSidecar, token: string, body: Record<string, unknown>) {
  return postJson(`${sidecar.httpUrl}/v1/exchange`, body, { authorization: `Bearer ${token}` });
}

function check(sidecar: AsSidecar, token: string, action: string) {
  return postJson(`${sidecar.httpUrl}/v1/check`, { action }, { authorization: `Bearer ${token}` });
}

describe('the full chain user → agent → service A → exchange → service B', () => {
  it('checks at A, exchanges for billing, and the exchanged token passes B with the chain in act', async () => {
    const atA = await check(crm, userToken, 'contacts.read');
    expect(atA.body).toMatchObject({
      allow: true,
      subject: { sub: 'user_8421', client_id: 'finance-bot', act: ['finance-bot'] },
    });

    const before = as.stats().tokenExchangeRequests;
    const exchanged = await exchange(crm, userToken, {
      audience: 'billing-api',
      scope: 'billing.view',
    });
    expect(exchanged.status).toBe(200);
    expect(exchanged.headers.get('cache-control')).toBe('no-store');
    expect(exchanged.body).toMatchObject({
      issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      token_type: 'Bearer',
      scope: 'billing.view',
    });
    expect(exchanged.body['expires_in']).toBeGreaterThan(500);
    expect(as.stats().tokenExchangeRequests).toBe(before + 1);
    const newToken = exchanged.body['access_token'] as string;
    expect(decodeJwt(newToken)).toMatchObject({
      sub: 'user_8421',
      aud: 'billing-api',
      client_id: 'crm-service',
      tenant: 'acme_inc',
      scope: 'billing.view',
      act: { sub: 'crm-service', act: { sub: 'finance-bot' } },
    });

    // The incoming token is for crm-api: billing refuses it. The exchanged one passes.
    expect((await check(billing, userToken, 'billing.view')).body).toMatchObject({
      allow: false,
      reasons: [{ code: 'audience_mismatch' }],
    });
    const atB = await check(billing, newToken, 'billing.view');
    expect(atB.body).toMatchObject({
      allow: true,
      subject: {
        sub: 'user_8421',
        client_id: 'crm-service',
        scopes: ['billing.view'],
        act: ['crm-service', 'finance-bot'],
      },
    });
    // Down-scoped: the exchanged token cannot do what the incoming one could at CRM.
    expect((await check(billing, newToken, 'contacts.read')).body).toMatchObject({ allow: false });

    const records = await crm.auditRecords();
    const record = records.find((r) => r['type'] === 'exchange' && r['outcome'] === 'issued');
    expect(record).toMatchObject({
      schema_version: 1,
      transport: 'http',
      tenant: 'acme_inc',
      sub: 'user_8421',
      client_id: 'finance-bot',
      act: ['finance-bot'],
      actor: 'crm-service',
      audience: 'billing-api',
      scopes_requested: ['billing.view'],
      scopes_granted: ['billing.view'],
      as_status: 200,
      cache: 'miss',
    });
    const gate = records.find(
      (r) => r['decision_id'] === record?.['decision_id'] && r['type'] === 'decision',
    );
    expect(gate).toMatchObject({
      action: 'token.exchange',
      allow: true,
      resource: { type: 'audience', id: 'billing-api' },
    });
    // Never a token in the audit trail.
    const raw = JSON.stringify(records);
    expect(raw).not.toContain(userToken);
    expect(raw).not.toContain(newToken);
    expect((await billing.auditRecords()).at(-1)).toMatchObject({
      act: ['crm-service', 'finance-bot'],
    });
  });
});

describe('deciding before exchanging', () => {
  it('denies a widening exchange with 403 and reasons, sending nothing to the AS', async () => {
    const before = as.stats().tokenExchangeRequests;
    const res = await exchange(crm, userToken, {
      audience: 'billing-api',
      scope: 'billing.view billing.admin',
    });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({
      error: 'access_denied',
      reasons: [
        { code: 'insufficient_scope', message: expect.stringContaining('not held: billing.admin') },
      ],
    });
    expect(typeof res.body['decision_id']).toBe('string');
    expect(res.headers.get('www-authenticate')).toContain('insufficient_scope');
    expect(as.stats().tokenExchangeRequests).toBe(before);
  });

  it('applies the tenant rule: agents reach billing only with billing.view', async () => {
    const before = as.stats().tokenExchangeRequests;
    const res = await exchange(crm, userToken, { audience: 'billing-api', scope: 'contacts.read' });
    expect(res.status).toBe(403);
    expect(res.body['reasons']).toEqual([
      {
        code: 'policy_denied',
        message: 'in acme_inc agents may only reach billing-api with the scope(s) billing.view',
      },
    ]);
    expect(as.stats().tokenExchangeRequests).toBe(before);
  });

  it('honours may_act: a token pinned to another actor is not exchanged by crm-service', async () => {
    // globex keeps no actor list, so may_act is the only rule in the way.
    const pinned = await login('pinned-bot', 'contacts.read', 'user_globex');
    const before = as.stats().tokenExchangeRequests;
    const res = await exchange(crm, pinned, { audience: 'crm-api', scope: 'contacts.read' });
    expect(res.status).toBe(403);
    expect(res.body['reasons']).toEqual([
      {
        code: 'policy_denied',
        message: "the subject token's may_act does not allow 'crm-service' to act for its subject",
      },
    ]);
    expect(as.stats().tokenExchangeRequests).toBe(before);
  });

  it('answers 401 without a subject token, and 400 for a malformed body', async () => {
    const none = await postJson(`${crm.httpUrl}/v1/exchange`, { audience: 'billing-api' });
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({
      error: 'access_denied',
      reasons: [{ code: 'token_missing' }],
    });
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    const bad = await postJson(
      `${crm.httpUrl}/v1/exchange`,
      { scope: 'x' },
      { authorization: `Bearer ${userToken}` },
    );
    expect(bad).toMatchObject({
      status: 400,
      body: { error: 'invalid_request', message: 'audience: is required' },
    });
  });

  it('passes the AS refusal on with its error code (unknown audience → invalid_target)', async () => {
    const res = await exchange(crm, userToken, { audience: 'nowhere-api', scope: 'contacts.read' });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({
      error: 'exchange_rejected',
      as_error: 'invalid_target',
      as_status: 400,
    });
    const record = (await crm.auditRecords()).filter((r) => r['type'] === 'exchange').at(-1);
    expect(record).toMatchObject({
      outcome: 'as_rejected',
      as_error: 'invalid_target',
      audience: 'nowhere-api',
    });
  });

  it('the AS never widens either: a scope the audience does not define is invalid_scope', async () => {
    // globex has no tenant policy and no actor list, so only the AS stands in the way here.
    const globex = await login('agent-1', 'contacts.read billing.view', 'user_globex');
    const res = await exchange(crm, globex, { audience: 'billing-api', scope: 'contacts.read' });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ error: 'exchange_rejected', as_error: 'invalid_scope' });
  });
});

describe('the exchange cache', () => {
  it('serves an identical exchange from the cache (hit), a different scope set from the AS (miss)', async () => {
    const token = await login('finance-bot', 'contacts.read billing.view');
    const before = as.stats().tokenExchangeRequests;
    const first = await exchange(crm, token, { audience: 'crm-api', scope: 'contacts.read' });
    const second = await exchange(crm, token, { audience: 'crm-api', scope: 'contacts.read' });
    expect(first.headers.get('x-mandate-exchange-cache')).toBe('miss');
    expect(second.headers.get('x-mandate-exchange-cache')).toBe('hit');
    expect(second.body['access_token']).toBe(first.body['access_token']);
    expect(second.body['expires_in']).toBeLessThanOrEqual(first.body['expires_in'] as number);
    expect(as.stats().tokenExchangeRequests).toBe(before + 1);

    const other = await exchange(crm, token, {
      audience: 'crm-api',
      scope: 'billing.view contacts.read',
    });
    expect(other.headers.get('x-mandate-exchange-cache')).toBe('miss');
    expect(as.stats().tokenExchangeRequests).toBe(before + 2);
    // A hit answers with the decision that allowed the exchange it reuses: no new decision, no AS call.
    const exchanges = (await crm.auditRecords()).filter((r) => r['type'] === 'exchange');
    const [miss, hit] = exchanges.slice(-3);
    expect(hit).toMatchObject({
      cache: 'hit',
      decision_id: miss?.['decision_id'],
      outcome: 'issued',
    });
    expect(hit).not.toHaveProperty('as_status');
    expect(second.body['decision_id']).toBe(first.body['decision_id']);
  });

  it('a revoked subject token gets no cached exchange: it is denied and its exchanges dropped', async () => {
    const token = await login('finance-bot', 'contacts.read');
    expect(
      (await exchange(crm, token, { audience: 'crm-api', scope: 'contacts.read' })).status,
    ).toBe(200);
    const cache = crm.server.core.exchanger?.cache;
    const sizeBefore = cache?.size() ?? 0;
    const revoke = await postJson(
      `${crm.adminUrl}/v1/revocations`,
      { kind: 'token', jti: decodeJwt(token).jti, reason: 'test' },
      { authorization: `Bearer ${ADMIN_TOKEN}` },
    );
    expect(revoke.status).toBe(201);
    const again = await exchange(crm, token, { audience: 'crm-api', scope: 'contacts.read' });
    expect(again.status).toBe(401);
    expect(again.body['reasons']).toMatchObject([{ code: 'revoked' }]);
    expect(cache?.size()).toBe(sizeBefore - 1);
  });

  it('a policy reload empties it: no exchange outlives the policy that allowed it', async () => {
    const token = await login('finance-bot', 'contacts.read');
    const body = { audience: 'crm-api', scope: 'contacts.read' };
    await exchange(crm, token, body);
    expect((await exchange(crm, token, body)).headers.get('x-mandate-exchange-cache')).toBe('hit');
    await crm.server.core.policy.reloadFromDir({ base: true });
    expect(crm.server.core.exchanger?.cache.size()).toBe(0);
    expect((await exchange(crm, token, body)).headers.get('x-mandate-exchange-cache')).toBe('miss');
  });

  it('200 concurrent identical exchanges make exactly one call to the AS', async () => {
    const token = await login('finance-bot', 'contacts.read billing.view');
    const before = as.stats().tokenExchangeRequests;
    const answers = await Promise.all(
      Array.from({ length: 200 }, () =>
        exchange(crm, token, { audience: 'billing-api', scope: 'billing.view' }),
      ),
    );
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(new Set(answers.map((a) => a.body['access_token'])).size).toBe(1);
    expect(as.stats().tokenExchangeRequests).toBe(before + 1);
    const kinds = answers.map((a) => a.headers.get('x-mandate-exchange-cache'));
    expect(kinds.filter((k) => k === 'miss')).toHaveLength(1);
  });
});

describe('gRPC mandate.v1.Authorizer/Exchange', () => {
  it('exchanges with the token in metadata and fails with PERMISSION_DENIED and trailers on a denial', async () => {
    const client = new AuthorizerClient(crm.grpcTarget, credentials.createInsecure());
    try {
      const metadata = new Metadata();
      metadata.set('authorization', `Bearer ${userToken}`);
      const ok = await new Promise<ExchangeResponse>((resolve, reject) =>
        client.exchange(
          {
            subjectToken: '',
            audience: 'billing-api',
            scope: 'billing.view',
            resource: '',
            tenant: '',
            requestId: 'g-1',
          },
          metadata,
          (err, res) => (err ? reject(err) : resolve(res)),
        ),
      );
      expect(ok).toMatchObject({ tokenType: 'Bearer', scope: 'billing.view' });
      expect(decodeJwt(ok.accessToken)).toMatchObject({ aud: 'billing-api' });

      const err = await new Promise<ServiceError>((resolve) =>
        client.exchange(
          {
            subjectToken: userToken,
            audience: 'billing-api',
            scope: 'billing.admin',
            resource: '',
            tenant: '',
            requestId: '',
          },
          (e) => resolve(e as ServiceError),
        ),
      );
      expect(err.code).toBe(status.PERMISSION_DENIED);
      expect(err.metadata.get('mandate-error')).toEqual(['access_denied']);
      expect(err.metadata.get('mandate-reason-codes')).toEqual(['insufficient_scope']);

      const invalid = await new Promise<ServiceError>((resolve) =>
        client.exchange(
          {
            subjectToken: userToken,
            audience: '',
            scope: '',
            resource: '',
            tenant: '',
            requestId: '',
          },
          (e) => resolve(e as ServiceError),
        ),
      );
      expect(invalid.code).toBe(status.INVALID_ARGUMENT);
      expect(invalid.details).toBe('audience is required');
    } finally {
      client.close();
    }
  });
});

describe('when the authorization server is down or slow', () => {
  let closedPort: number;
  let silent: Server;
  let silentPort: number;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    // A port nothing listens on (bound, then released), and a server that accepts and never answers.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    closedPort = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    silent = createServer((socket) => {
      sockets.push(socket);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    silentPort = (silent.address() as { port: number }).port;
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
  });

  it('answers 503 as_unavailable with a clear message, quickly, and checks are unaffected', async () => {
    const sidecar = await startAsSidecar(as, {
      audience: 'crm-api',
      exchangeYaml: `  token_endpoint: "http://127.0.0.1:${closedPort}/token"
  client_id: crm-service
  client_secret: crm-service-dev-secret
  retries: 1
  retry_backoff_ms: 10`,
    });
    try {
      const started = Date.now();
      const res = await exchange(sidecar, userToken, {
        audience: 'billing-api',
        scope: 'billing.view',
      });
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ error: 'as_unavailable' });
      expect(res.body['message']).toMatch(/could not be reached \(ECONNREFUSED\)/);
      expect(Date.now() - started).toBeLessThan(5000);
      expect((await check(sidecar, userToken, 'contacts.read')).body).toMatchObject({
        allow: true,
      });
      const ready = await fetch(`${sidecar.httpUrl}/ready`);
      expect(ready.status).toBe(200);
      expect(
        ((await ready.json()) as { components: Record<string, { state: string }> }).components[
          'exchange'
        ]?.state,
      ).toBe('WARN');
    } finally {
      await sidecar.stop();
    }
  });

  it('gives up on a silent AS after the bounded timeout and retries (504), while checks answer at once', async () => {
    const sidecar = await startAsSidecar(as, {
      audience: 'crm-api',
      exchangeYaml: `  token_endpoint: "http://127.0.0.1:${silentPort}/token"
  client_id: crm-service
  client_secret: crm-service-dev-secret
  actor: { mode: none }
  timeout_ms: 300
  retries: 1
  retry_backoff_ms: 10`,
    });
    try {
      const started = Date.now();
      const pending = exchange(sidecar, userToken, {
        audience: 'billing-api',
        scope: 'billing.view',
      });
      // While the exchange waits on the AS, a check is answered: nothing blocks on the AS.
      const checkStarted = Date.now();
      expect((await check(sidecar, userToken, 'contacts.read')).body).toMatchObject({
        allow: true,
      });
      expect(Date.now() - checkStarted).toBeLessThan(250);
      const res = await pending;
      const elapsed = Date.now() - started;
      expect(res.status).toBe(504);
      expect(res.body).toMatchObject({ error: 'as_timeout' });
      expect(elapsed).toBeGreaterThanOrEqual(550);
      expect(elapsed).toBeLessThan(5000);
    } finally {
      await sidecar.stop();
    }
  });
});

describe('without an exchange section', () => {
  it('POST /v1/exchange answers 501 not_configured', async () => {
    const res = await exchange(billing, userToken, { audience: 'crm-api' });
    expect(res).toMatchObject({ status: 501, body: { error: 'not_configured' } });
  });
});
