// Token exchange under attack against the real dev authorization server: revoked, foreign, expired and forged subject tokens, scope escalation, actor mismatches, secrets kept out of answers, audit and logs.
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startDevAuthorizationServer,
  type DevAuthorizationServer,
} from '../../src/dev-as/server.js';
import {
  EXCHANGE_TEST_CLIENTS,
  exchangeYaml,
  postJson,
  startAsSidecar,
  type AsSidecar,
} from '../helpers/as-sidecar.js';
import { loginAsUser } from '../helpers/dev-as-login.js';
import { ADMIN_TOKEN } from '../helpers/sidecar.js';
import { createTestKey, signToken } from '../helpers/tokens.js';

const CRM = 'urn:mandate:crm-api';
const SECRET = 'crm-service-dev-secret';
const WRONG_SECRET = 'not-the-crm-service-secret-4242';

let as: DevAuthorizationServer;
let crm: AsSidecar;
/** The same service with a client secret the AS does not accept. */
let misconfigured: AsSidecar;

beforeAll(async () => {
  as = await startDevAuthorizationServer({
    port: 0,
    clients: EXCHANGE_TEST_CLIENTS,
  });
  crm = await startAsSidecar(as, {
    audience: 'crm-api',
    exchangeYaml: exchangeYaml(as, 'crm-service', SECRET),
  });
  misconfigured = await startAsSidecar(as, {
    audience: 'crm-api',
    exchangeYaml: exchangeYaml(as, 'crm-service', WRONG_SECRET),
  });
});
afterAll(async () => {
  await crm?.stop();
  await misconfigured?.stop();
  await as?.stop();
});

function login(scope: string, user = 'user_8421', agent = 'finance-bot'): Promise<string> {
  return loginAsUser({
    asUrl: as.url,
    clientId: agent,
    clientSecret: `${agent}-dev-secret`,
    user,
    scope,
    resource: CRM,
  });
}

function exchange(sidecar: AsSidecar, token: string, body: Record<string, unknown>) {
  return postJson(`${sidecar.httpUrl}/v1/exchange`, body, { authorization: `Bearer ${token}` });
}

const BILLING = { audience: 'billing-api', scope: 'billing.view' };

/** Runs `fn` and returns how many token-exchange requests reached the AS meanwhile. */
async function asCalls(fn: () => Promise<unknown>): Promise<number> {
  const before = as.stats().tokenExchangeRequests;
  await fn();
  return as.stats().tokenExchangeRequests - before;
}

function codes(body: Record<string, unknown>): string[] {
  return ((body['reasons'] as { code: string }[] | undefined) ?? []).map((r) => r.code);
}

describe('subject tokens', () => {
  it('a revoked subject token is refused (401 revoked) and the AS is not asked', async () => {
    const token = await login('contacts.read billing.view');
    const revoke = await postJson(
      `${crm.adminUrl}/v1/revocations`,
      { kind: 'token', jti: decodeJwt(token).jti, reason: 'stolen' },
      { authorization: `Bearer ${ADMIN_TOKEN}` },
    );
    expect(revoke.status).toBe(201);
    let res: Awaited<ReturnType<typeof exchange>> | undefined;
    expect(await asCalls(async () => (res = await exchange(crm, token, BILLING)))).toBe(0);
    expect(res?.status).toBe(401);
    expect(codes(res!.body)).toEqual(['revoked']);
  });

  it('a token for another audience is refused (audience_mismatch) and the AS is not asked', async () => {
    const forBilling = await loginAsUser({
      asUrl: as.url,
      clientId: 'finance-bot',
      clientSecret: 'finance-bot-dev-secret',
      user: 'user_8421',
      scope: 'billing.view',
      resource: 'urn:mandate:billing-api',
    });
    let res: Awaited<ReturnType<typeof exchange>> | undefined;
    expect(await asCalls(async () => (res = await exchange(crm, forBilling, BILLING)))).toBe(0);
    expect(res?.status).toBe(401);
    expect(codes(res!.body)).toEqual(['audience_mismatch']);
  });

  it('a subject token signed by another key under the AS issuer is refused', async () => {
    const user = decodeJwt(await login('billing.view'));
    const forged = await signToken(await createTestKey('ES256'), {
      claims: { ...user, scope: 'billing.view billing.admin' },
    });
    let res: Awaited<ReturnType<typeof exchange>> | undefined;
    expect(await asCalls(async () => (res = await exchange(crm, forged, BILLING)))).toBe(0);
    expect(res?.status).toBe(401);
  });

  it('a subject token that is not canonical base64url is refused', async () => {
    const token = await login('contacts.read billing.view');
    const [h, p, s] = token.split('.') as [string, string, string];
    const res = await exchange(crm, `${h}.${p}.${s}=`, BILLING);
    expect(res.status).toBe(401);
    expect(codes(res.body)).toEqual(['token_malformed']);
  });
});

describe('scope escalation', () => {
  it('asking for a scope the subject does not hold is 403 insufficient_scope, the AS not asked', async () => {
    const token = await login('contacts.read billing.view');
    let res: Awaited<ReturnType<typeof exchange>> | undefined;
    const calls = await asCalls(
      async () =>
        (res = await exchange(crm, token, {
          audience: 'billing-api',
          scope: 'billing.view billing.admin',
        })),
    );
    expect(calls).toBe(0);
    expect(res?.status).toBe(403);
    expect(codes(res!.body)).toEqual(['insufficient_scope']);
  });

  it.each([
    ['a tab between scopes', 'billing.view\tbilling.admin'],
    ['a wildcard', 'billing.*'],
    ['a scope differing in case', 'BILLING.ADMIN'],
  ])('%s never widens what is exchanged', async (_name, scope) => {
    const token = await login('contacts.read billing.view');
    const res = await exchange(crm, token, { audience: 'billing-api', scope });
    expect(res.status).not.toBe(200);
  });

  it('asking in another tenant is refused (tenant_mismatch)', async () => {
    const token = await login('contacts.read billing.view');
    const res = await exchange(crm, token, { ...BILLING, tenant: 'globex' });
    expect(res.status).toBe(403);
    expect(codes(res.body)).toEqual(['tenant_mismatch']);
  });
});

describe('actors', () => {
  it('a caller cannot bring its own actor_token or client credentials (400, unknown fields)', async () => {
    const token = await login('contacts.read billing.view');
    for (const extra of [
      { actor_token: token },
      { actor_token_type: 'urn:ietf:params:oauth:token-type:access_token' },
      { client_id: 'billing-service' },
      { client_secret: 'billing-service-dev-secret' },
    ]) {
      const res = await exchange(crm, token, { ...BILLING, ...extra });
      expect(res.status).toBe(400);
      expect(res.body['error']).toBe('invalid_request');
    }
  });

  it('a subject token whose may_act names another actor is refused before the AS', async () => {
    const pinned = await login('contacts.read', 'user_globex', 'pinned-bot');
    let res: Awaited<ReturnType<typeof exchange>> | undefined;
    const calls = await asCalls(
      async () =>
        (res = await exchange(crm, pinned, { audience: 'crm-api', scope: 'contacts.read' })),
    );
    expect(calls).toBe(0);
    expect(res?.status).toBe(403);
    expect(codes(res!.body)).toEqual(['policy_denied']);
  });

  it('an actor the AS does not authenticate (wrong client secret) gets no token, and the secret is never echoed or logged', async () => {
    const token = await login('contacts.read billing.view');
    const res = await exchange(misconfigured, token, BILLING);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.body['access_token']).toBeUndefined();
    const everything = [
      JSON.stringify(res.body),
      JSON.stringify(await misconfigured.auditRecords()),
      misconfigured.logText(),
    ].join('\n');
    expect(everything).not.toContain(WRONG_SECRET);
    expect(everything).not.toContain(token);
  });
});

describe('secrets', () => {
  it('neither the client secret nor the subject or issued tokens reach audit or logs', async () => {
    const token = await login('contacts.read billing.view');
    const res = await exchange(crm, token, BILLING);
    expect(res.status).toBe(200);
    const issued = res.body['access_token'] as string;
    expect(JSON.stringify(res.body)).not.toContain(SECRET);
    const output = `${JSON.stringify(await crm.auditRecords())}\n${crm.logText()}`;
    expect(output).not.toContain(SECRET);
    expect(output).not.toContain(token.split('.')[2]);
    expect(output).not.toContain(issued.split('.')[2]);
  });
});
