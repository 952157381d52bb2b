// Envoy egress mode over Envoy's own protocols: the destination host names an audience, the outbound token is exchanged and `authorization` replaced.
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startDevAuthorizationServer,
  type DevAuthorizationServer,
} from '../../src/dev-as/server.js';
import { CheckRequest } from '../../src/gen/envoy/service/auth/v3/external_auth.js';
import { HeaderValueOption_HeaderAppendAction as AppendAction } from '../../src/gen/envoy/config/core/v3/base.js';
import { exchangeYaml, startAsSidecar, type AsSidecar } from '../helpers/as-sidecar.js';
import { loginAsUser } from '../helpers/dev-as-login.js';
import { checkRequest, envoyCheck, envoyClient, envoyHttp, headerMap } from '../helpers/envoy.js';

let as: DevAuthorizationServer;
let crm: AsSidecar;
let userToken: string;

beforeAll(async () => {
  as = await startDevAuthorizationServer({ port: 0 });
  crm = await startEgressSidecar();
  userToken = await loginAsUser({
    asUrl: as.url,
    clientId: 'finance-bot',
    clientSecret: 'finance-bot-dev-secret',
    user: 'user_8421',
    scope: 'contacts.read billing.view',
    resource: 'urn:mandate:crm-api',
  });
});

/** The CRM sidecar acting as crm-service, with egress routes to billing and (refused by the AS) ledger. */
function startEgressSidecar(yaml?: string): Promise<AsSidecar> {
  return startAsSidecar(as, {
    audience: 'crm-api',
    exchangeYaml: exchangeYaml(
      as,
      'crm-service',
      'crm-service-dev-secret',
      `  egress:
    billing.internal: { audience: billing-api, scope: billing.view }
    "ledger.internal:8443": { audience: nowhere-api }
`,
    ),
    ...(yaml !== undefined ? { yaml } : {}),
  });
}

afterAll(async () => {
  await crm?.stop();
  await as?.stop();
});

/** An outbound call as Envoy's egress listener would describe it, marked egress by its config. */
function egressCall(host: string, headers: Record<string, string>): CheckRequest {
  const request = checkRequest({ method: 'GET', path: '/invoices?month=11', host, headers });
  return CheckRequest.fromPartial({
    ...request,
    attributes: { ...request.attributes, contextExtensions: { mandate_mode: 'egress' } },
  });
}

describe('gRPC ext_authz in egress mode', () => {
  it('replaces authorization with a token exchanged for the host’s audience', async () => {
    const client = envoyClient(crm.grpcTarget);
    try {
      const res = await envoyCheck(
        client,
        egressCall('billing.internal', { authorization: `Bearer ${userToken}` }),
      );
      expect(res.status?.code).toBe(0);
      const set = res.okResponse?.headers ?? [];
      const auth = set.find((h) => h.header?.key === 'authorization');
      expect(auth?.appendAction).toBe(AppendAction.OVERWRITE_IF_EXISTS_OR_ADD);
      const token = auth?.header?.value.replace(/^Bearer /, '') ?? '';
      expect(token).not.toBe(userToken);
      expect(decodeJwt(token)).toMatchObject({
        aud: 'billing-api',
        scope: 'billing.view',
        act: { sub: 'crm-service', act: { sub: 'finance-bot' } },
      });
      // A second call for the same destination is served from the cache.
      const again = await envoyCheck(
        client,
        egressCall('billing.internal:443', { authorization: `Bearer ${userToken}` }),
      );
      expect(headerMap(again.okResponse?.headers)['authorization']).toBe(`Bearer ${token}`);
      expect(again.dynamicMetadata).toMatchObject({ exchange_cache: 'hit' });
    } finally {
      client.close();
    }
  });

  it('denies an unmapped destination, a missing token, and an AS refusal without passing the token on', async () => {
    const client = envoyClient(crm.grpcTarget);
    try {
      const unmapped = await envoyCheck(
        client,
        egressCall('evil.example', { authorization: `Bearer ${userToken}` }),
      );
      expect(unmapped.deniedResponse?.status?.code).toBe(403);
      expect(JSON.parse(unmapped.deniedResponse?.body ?? '{}')).toMatchObject({
        error: 'egress_unmapped',
      });

      const missing = await envoyCheck(client, egressCall('billing.internal', {}));
      expect(missing.status?.code).toBe(16);
      expect(missing.deniedResponse?.status?.code).toBe(401);

      const refused = await envoyCheck(
        client,
        egressCall('ledger.internal:8443', { authorization: `Bearer ${userToken}` }),
      );
      expect(refused.deniedResponse?.status?.code).toBe(403);
      expect(JSON.parse(refused.deniedResponse?.body ?? '{}')).toMatchObject({
        error: 'exchange_rejected',
        as_error: 'invalid_target',
      });
    } finally {
      client.close();
    }
  });

  it('leaves calls without the egress marker to the ingress check', async () => {
    const client = envoyClient(crm.grpcTarget);
    try {
      const ingress = await envoyCheck(
        client,
        checkRequest({
          method: 'GET',
          path: '/contacts',
          host: 'billing.internal',
          headers: { authorization: `Bearer ${userToken}` },
        }),
      );
      // The ingress adapter decides a check; it never swaps the token.
      expect(headerMap(ingress.okResponse?.headers)['authorization']).toBeUndefined();
    } finally {
      client.close();
    }
  });
});

describe('HTTP ext_authz in egress mode', () => {
  it('answers 200 with the exchanged authorization under its own prefix', async () => {
    const res = await envoyHttp(
      crm.httpUrl,
      {
        method: 'GET',
        path: '/invoices',
        headers: { authorization: `Bearer ${userToken}`, 'x-forwarded-host': 'billing.internal' },
      },
      '/envoy/egress',
    );
    expect(res.status).toBe(200);
    const token = (res.headers.get('authorization') ?? '').replace(/^Bearer /, '');
    expect(decodeJwt(token)).toMatchObject({ aud: 'billing-api' });
  });
});

describe('egress with envoy.token_headers', () => {
  it('reads the outbound token from the configured headers, as ingress does, and strips them', async () => {
    const sidecar = await startEgressSidecar(
      'envoy:\n  token_headers: [x-mandate-token, authorization]\n',
    );
    const client = envoyClient(sidecar.grpcTarget);
    try {
      const res = await envoyCheck(
        client,
        egressCall('billing.internal', { 'x-mandate-token': `Bearer ${userToken}` }),
      );
      expect(res.status?.code).toBe(0);
      const token = (headerMap(res.okResponse?.headers)['authorization'] ?? '').replace(
        /^Bearer /,
        '',
      );
      expect(decodeJwt(token)).toMatchObject({ aud: 'billing-api', scope: 'billing.view' });
      // The header the caller's token came in never reaches the destination.
      expect(res.okResponse?.headersToRemove).toContain('x-mandate-token');
    } finally {
      client.close();
      await sidecar.stop();
    }
  });
});
