// The development authorization server on its own: RFC 9068 tokens, PKCE, introspection, revocation, and the token-exchange grant's rules.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  jwtVerify,
  type JSONWebKeySet,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CLIENTS, TOKEN_EXCHANGE_GRANT } from '../../src/dev-as/options.js';
import {
  startDevAuthorizationServer,
  type DevAuthorizationServer,
} from '../../src/dev-as/server.js';
import { loginAsUser } from '../helpers/dev-as-login.js';

const ACCESS = 'urn:ietf:params:oauth:token-type:access_token';
const CRM = 'urn:mandate:crm-api';

let as: DevAuthorizationServer;

beforeAll(async () => {
  as = await startDevAuthorizationServer({
    port: 0,
    clients: [
      ...DEMO_CLIENTS,
      {
        clientId: 'short-bot',
        secret: 'short-bot-dev-secret',
        grantTypes: ['authorization_code'],
        redirectUris: ['http://127.0.0.1:8400/callback'],
        agent: true,
        mayAct: 'billing-service',
      },
    ],
  });
});

afterAll(async () => {
  await as?.stop();
});

function basic(clientId: string): string {
  return `Basic ${Buffer.from(`${clientId}:${clientId}-dev-secret`).toString('base64')}`;
}

async function tokenRequest(clientId: string, form: Record<string, string>) {
  const res = await fetch(as.tokenEndpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basic(clientId),
    },
    body: new URLSearchParams(form),
  });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

function exchangeForm(subject: string, extra: Record<string, string>): Record<string, string> {
  return {
    grant_type: TOKEN_EXCHANGE_GRANT,
    subject_token: subject,
    subject_token_type: ACCESS,
    ...extra,
  };
}

function userToken(scope = 'contacts.read billing.view', client = 'finance-bot'): Promise<string> {
  return loginAsUser({
    asUrl: as.url,
    clientId: client,
    clientSecret: `${client}-dev-secret`,
    user: 'user_8421',
    scope,
    resource: CRM,
  });
}

describe('tokens', () => {
  it('publishes metadata and keys, and issues RFC 9068 JWT access tokens with the tenant', async () => {
    const meta = (await (
      await fetch(`${as.url}/.well-known/openid-configuration`)
    ).json()) as Record<string, unknown>;
    expect(meta).toMatchObject({
      issuer: as.issuer,
      token_endpoint: as.tokenEndpoint,
      introspection_endpoint: `${as.url}/token/introspection`,
      revocation_endpoint: `${as.url}/token/revocation`,
      code_challenge_methods_supported: ['S256'],
    });
    expect(meta['grant_types_supported']).toEqual(
      expect.arrayContaining(['client_credentials', 'authorization_code', TOKEN_EXCHANGE_GRANT]),
    );
    const jwks = (await (await fetch(as.jwksUri)).json()) as JSONWebKeySet;
    expect(JSON.stringify(jwks)).not.toMatch(/"d":/);

    const token = await as.clientCredentials('crm-service', CRM, 'contacts.read');
    expect(decodeProtectedHeader(token)).toMatchObject({ typ: 'at+jwt', alg: 'ES256' });
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), {
      issuer: as.issuer,
      audience: 'crm-api',
    });
    expect(payload).toMatchObject({
      sub: 'crm-service',
      client_id: 'crm-service',
      tenant: 'acme_inc',
      scope: 'contacts.read',
    });
    for (const claim of ['iss', 'exp', 'aud', 'sub', 'client_id', 'iat', 'jti'])
      expect(payload).toHaveProperty(claim);
  });

  it('requires PKCE for the authorization code flow', async () => {
    const url = new URL('/auth', as.url);
    url.search = new URLSearchParams({
      client_id: 'finance-bot',
      response_type: 'code',
      redirect_uri: 'http://127.0.0.1:8400/callback',
      scope: 'contacts.read',
      resource: CRM,
    }).toString();
    const res = await fetch(url, { redirect: 'manual' });
    const location = new URL(res.headers.get('location') ?? '', as.url);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('error_description')).toMatch(/PKCE/);
  });

  it('a user token granted to an agent names the agent in act', async () => {
    expect(decodeJwt(await userToken())).toMatchObject({
      sub: 'user_8421',
      client_id: 'finance-bot',
      aud: 'crm-api',
      tenant: 'acme_inc',
      act: { sub: 'finance-bot' },
    });
  });

  it('introspects JWT access tokens, and revocation makes them inactive', async () => {
    const token = await as.clientCredentials('crm-service', CRM, 'contacts.read');
    const introspect = async () => {
      const res = await fetch(`${as.url}/token/introspection`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: basic('crm-service'),
        },
        body: new URLSearchParams({ token }),
      });
      return (await res.json()) as Record<string, unknown>;
    };
    expect(await introspect()).toMatchObject({
      active: true,
      client_id: 'crm-service',
      tenant: 'acme_inc',
      aud: 'crm-api',
    });
    const revoked = await fetch(`${as.url}/token/revocation`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic('crm-service'),
      },
      body: new URLSearchParams({ token }),
    });
    expect(revoked.status).toBe(200);
    expect(await introspect()).toEqual({ active: false });
    // A forged token carrying a real jti is not found: lookups verify the signature first.
    const [header, payload] = token.split('.');
    expect((await introspectValue(`${header}.${payload}.AAAA`))['active']).toBe(false);
  });
});

async function introspectValue(token: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${as.url}/token/introspection`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basic('crm-service'),
    },
    body: new URLSearchParams({ token }),
  });
  return (await res.json()) as Record<string, unknown>;
}

describe('the token-exchange grant', () => {
  it('narrows to the target audience, nests act with the actor token, and never outlives the subject', async () => {
    const subject = await userToken();
    const actor = await as.clientCredentials('crm-service');
    const res = await tokenRequest(
      'crm-service',
      exchangeForm(subject, {
        audience: 'billing-api',
        actor_token: actor,
        actor_token_type: ACCESS,
      }),
    );
    expect(res.status).toBe(200);
    // No scope asked: what the subject holds that billing understands.
    expect(res.body).toMatchObject({
      issued_token_type: ACCESS,
      token_type: 'Bearer',
      scope: 'billing.view',
    });
    const claims = decodeJwt(res.body['access_token'] as string);
    expect(claims).toMatchObject({
      sub: 'user_8421',
      aud: 'billing-api',
      client_id: 'crm-service',
      tenant: 'acme_inc',
      act: { sub: 'crm-service', act: { sub: 'finance-bot' } },
    });
    expect(claims.exp).toBeLessThanOrEqual(decodeJwt(subject).exp as number);

    // The exchanged token can be exchanged again: the chain grows, outermost first.
    const again = await tokenRequest(
      'billing-service',
      exchangeForm(res.body['access_token'] as string, { audience: 'billing-api' }),
    );
    expect(again.status).toBe(200);
    expect(decodeJwt(again.body['access_token'] as string)['act']).toEqual({
      sub: 'billing-service',
      act: { sub: 'crm-service', act: { sub: 'finance-bot' } },
    });
  });

  it('never widens: a scope the subject token lacks is invalid_scope', async () => {
    const subject = await userToken('contacts.read');
    const res = await tokenRequest(
      'crm-service',
      exchangeForm(subject, { audience: 'billing-api', scope: 'billing.view' }),
    );
    expect(res).toMatchObject({ status: 400, body: { error: 'invalid_scope' } });
    const none = await tokenRequest(
      'crm-service',
      exchangeForm(subject, { audience: 'billing-api' }),
    );
    expect(none).toMatchObject({ status: 400, body: { error: 'invalid_scope' } });
  });

  it('refuses unknown or several audiences, and bad token types', async () => {
    const subject = await as.clientCredentials('crm-service', CRM, 'contacts.read');
    expect(
      await tokenRequest('crm-service', exchangeForm(subject, { audience: 'nope' })),
    ).toMatchObject({ status: 400, body: { error: 'invalid_target' } });
    const both = new URLSearchParams(exchangeForm(subject, { audience: 'crm-api' }));
    both.append('audience', 'billing-api');
    const res = await fetch(as.tokenEndpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic('crm-service'),
      },
      body: both,
    });
    expect(((await res.json()) as { error: string }).error).toBe('invalid_target');
    expect(
      await tokenRequest('crm-service', {
        ...exchangeForm(subject, { audience: 'crm-api' }),
        subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
      }),
    ).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
  });

  it('refuses a revoked, forged or missing subject token', async () => {
    expect(
      await tokenRequest('crm-service', exchangeForm('not-a-token', { audience: 'crm-api' })),
    ).toMatchObject({
      status: 400,
      body: {
        error: 'invalid_request',
        error_description: 'subject_token is invalid, expired or revoked',
      },
    });
    const subject = await as.clientCredentials('billing-service', CRM, 'contacts.read');
    await fetch(`${as.url}/token/revocation`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic('billing-service'),
      },
      body: new URLSearchParams({ token: subject }),
    });
    expect(
      await tokenRequest('crm-service', exchangeForm(subject, { audience: 'crm-api' })),
    ).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
  });

  it("refuses an actor token that is not the authenticated client's own", async () => {
    const subject = await userToken();
    const someoneElse = await as.clientCredentials('billing-service');
    const res = await tokenRequest(
      'crm-service',
      exchangeForm(subject, {
        audience: 'billing-api',
        actor_token: someoneElse,
        actor_token_type: ACCESS,
      }),
    );
    expect(res).toMatchObject({
      status: 400,
      body: {
        error: 'invalid_request',
        error_description: 'actor_token was not issued to the authenticated client',
      },
    });
  });

  it('honours may_act: only the named party may exchange the token', async () => {
    const subject = await userToken('contacts.read billing.view', 'short-bot');
    expect(decodeJwt(subject)['may_act']).toEqual({ sub: 'billing-service' });
    const denied = await tokenRequest(
      'crm-service',
      exchangeForm(subject, { audience: 'billing-api' }),
    );
    expect(denied).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(denied.body['error_description']).toMatch(/may_act/);
    const allowed = await tokenRequest(
      'billing-service',
      exchangeForm(subject, { audience: 'billing-api' }),
    );
    expect(allowed.status).toBe(200);
  });

  it('is only open to clients registered for it', async () => {
    const subject = await userToken();
    const res = await fetch(as.tokenEndpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic('finance-bot'),
      },
      body: new URLSearchParams(exchangeForm(subject, { audience: 'billing-api' })),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(
      /invalid_request|unauthorized_client/,
    );
  });
});

describe('keys', () => {
  it('keeps generated keys in the state folder across restarts', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'dev-as-keys-'));
    const first = await startDevAuthorizationServer({ port: 0, stateDir, interactions: false });
    const kids = ((await (await fetch(first.jwksUri)).json()) as JSONWebKeySet).keys.map(
      (k) => k.kid,
    );
    await first.stop();
    const second = await startDevAuthorizationServer({ port: 0, stateDir, interactions: false });
    try {
      const again = ((await (await fetch(second.jwksUri)).json()) as JSONWebKeySet).keys.map(
        (k) => k.kid,
      );
      expect(again).toEqual(kids);
    } finally {
      await second.stop();
    }
  });
});
