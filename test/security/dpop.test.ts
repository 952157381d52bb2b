// DPoP (RFC 9449) against a real sidecar: hostile authorities, htu by component, every proof defect, scheme rules, challenges, admin JWTs.
import { randomUUID } from 'node:crypto';
import { Metadata, credentials, type ServiceError } from '@grpc/grpc-js';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  AuthorizationClient,
  CheckResponse,
} from '../../src/gen/envoy/service/auth/v3/external_auth.js';
import { CheckRequest } from '../../src/gen/envoy/service/auth/v3/external_auth.js';
import {
  AuthorizerClient,
  CheckRequest as MandateCheckRequest,
  type CheckResponse as MandateCheckResponse,
} from '../../src/gen/mandate/v1/authorizer.js';
import { athOf, createDpopClient, type DpopClient } from '../helpers/dpop.js';
import {
  startDevAuthorizationServer,
  type DevAuthorizationServer,
} from '../../src/dev-as/server.js';
import { exchangeYaml } from '../helpers/as-sidecar.js';
import { checkRequest, envoyCheck, envoyClient, envoyHttp, headerMap } from '../helpers/envoy.js';
import { startJwksServer, type JwksServer } from '../helpers/jwks-server.js';
import { postCheck, startSidecar, type Sidecar } from '../helpers/sidecar.js';
import { createTestKey, encodeSegment, signToken, type TestKey } from '../helpers/tokens.js';
import { ROUTES_YAML } from '../integration/envoy-config.js';

const ADMIN_ISSUER = 'https://admin-idp.example';
const ADMIN_AUDIENCE = 'mandate-admin';
const HOST = 'api.example.com';
const PATH = '/v1/contacts/c_7';
const URL_OF = `https://${HOST}${PATH}`;

let sidecar: Sidecar;
let grpc: AuthorizationClient;
let adminKey: TestKey;
let adminJwks: JwksServer;
let client: DpopClient;
let other: DpopClient;

beforeAll(async () => {
  adminKey = await createTestKey('ES256');
  adminJwks = await startJwksServer([adminKey.jwk]);
  sidecar = await startSidecar({
    yaml: ROUTES_YAML,
    adminYaml: `jwt: { issuer: "${ADMIN_ISSUER}", jwks_uri: "${adminJwks.url}", audiences: ["${ADMIN_AUDIENCE}"], algorithms: ["ES256"], jwks_refetch_per_minute: 600 }`,
  });
  grpc = envoyClient(sidecar.grpcTarget);
  client = await createDpopClient();
  other = await createDpopClient();
});
afterAll(async () => {
  grpc?.close();
  await sidecar?.stop();
  await adminJwks?.close();
});

/** A token bound to the client's key (or to nothing, with `bound: false`). */
function tokenFor(bound: DpopClient | false = client): Promise<string> {
  return sidecar.token({
    claims: { scope: 'contacts.write', ...(bound ? { cnf: { jkt: bound.jkt } } : {}) },
  });
}

interface Outcome {
  readonly status: number;
  readonly code: string | undefined;
  readonly message: string | undefined;
  readonly challenge: string | null;
}

interface Call {
  readonly token: string;
  readonly proof?: string;
  /** Default `DPoP`. */
  readonly scheme?: 'DPoP' | 'Bearer';
  readonly method?: string;
  readonly path?: string;
  /** HTTP: x-forwarded-host; gRPC: the host attribute. */
  readonly host?: string;
  readonly urlScheme?: string;
}

function reasonOf(body: string): { code?: string; message?: string } {
  return (
    (JSON.parse(body || '{}') as { reasons?: { code: string; message: string }[] }).reasons?.[0] ??
    {}
  );
}

/** Through Envoy HTTP ext_authz, the origin in x-forwarded-host / x-forwarded-proto. */
async function overHttp(call: Call, extra: Record<string, string> = {}): Promise<Outcome> {
  const res = await envoyHttp(sidecar.httpUrl, {
    method: call.method ?? 'PATCH',
    path: `${call.path ?? PATH}?x=1`,
    headers: {
      authorization: `${call.scheme ?? 'DPoP'} ${call.token}`,
      'x-forwarded-host': call.host ?? HOST,
      'x-forwarded-proto': call.urlScheme ?? 'https',
      ...(call.proof !== undefined ? { dpop: call.proof } : {}),
      ...extra,
    },
  });
  const reason = res.status === 200 ? {} : reasonOf(res.text);
  return {
    status: res.status,
    code: reason.code,
    message: reason.message,
    challenge: res.headers.get('www-authenticate'),
  };
}

function outcomeOf(res: CheckResponse): Outcome {
  if (res.status?.code === 0) {
    return { status: 200, code: undefined, message: undefined, challenge: null };
  }
  const reason = reasonOf(res.deniedResponse?.body ?? '');
  return {
    status: res.deniedResponse?.status?.code ?? 0,
    code: reason.code,
    message: reason.message,
    challenge: headerMap(res.deniedResponse?.headers)['www-authenticate'] ?? null,
  };
}

/** Through Envoy gRPC ext_authz, the origin in the request attributes. */
async function overGrpc(call: Call): Promise<Outcome> {
  const res = await envoyCheck(grpc, {
    method: call.method ?? 'PATCH',
    path: `${call.path ?? PATH}?x=1`,
    host: call.host ?? HOST,
    scheme: call.urlScheme ?? 'https',
    headers: {
      authorization: `${call.scheme ?? 'DPoP'} ${call.token}`,
      ...(call.proof !== undefined ? { dpop: call.proof } : {}),
    },
  });
  return outcomeOf(res);
}

const transports = [
  ['Envoy HTTP', overHttp],
  ['Envoy gRPC', overGrpc],
] as const;

/** The challenge for a proof that does not prove this request (RFC 9449 §7.1). */
const PROOF_CHALLENGE =
  /^DPoP error="invalid_dpop_proof", error_description="[^"]+", algs="[A-Za-z0-9 ]*ES256[A-Za-z0-9 ]*"$/;
/** The challenge for a token not bound to the proof's key, under the DPoP scheme. */
const BINDING_CHALLENGE = /^DPoP error="invalid_token", error_description="[^"]+", algs="[^"]+"$/;

function expectProofRefused(outcome: Outcome, message?: RegExp): void {
  expect(outcome.status).toBe(401);
  expect(outcome.code).toBe('token_binding_unverified');
  expect(outcome.challenge).toMatch(PROOF_CHALLENGE);
  if (message) expect(outcome.message).toMatch(message);
}

/**
 * What `scheme://host + path` reads as once re-parsed: the URL a proof had to name to pass when
 * the expected URL was built by concatenation. Undefined when it does not parse at all.
 */
function concatenated(host: string, path = PATH): string | undefined {
  try {
    const url = new URL(`https://${host}${path}`);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return undefined;
  }
}

describe.each(transports)('%s: the request authority', (_name, send) => {
  it('accepts a good proof (the baseline every refusal below differs from by one thing)', async () => {
    const token = await tokenFor();
    const outcome = await send({ token, proof: await client.proof(token, 'PATCH', URL_OF) });
    expect(outcome).toMatchObject({ status: 200 });
  });

  // Each host smuggles a character that is not allowed in an RFC 3986 authority; the proof names
  // the URL the concatenation `scheme://host/path` would have turned into.
  it.each([
    ['/', 'evil.example/api.example.com'],
    ['?', 'evil.example/v1/contacts/c_8?'],
    ['#', 'evil.example/v1/contacts/c_8#'],
    ['@', 'api.example.com@evil.example'],
    ['space', 'evil.example /v1'],
    ['tab', 'evil.exa\tmple'],
    ['backslash', 'evil.example\\'],
    ['percent', 'evil%2eexample'],
    ['a second port', 'evil.example:443:443'],
    ['a non-numeric port', 'evil.example:https'],
    ['an unbracketed IPv6 address', '::1'],
    ['a bracketed non-address', '[evil.example]'],
    ['an empty host', ''],
  ])('refuses a host with %s, whatever URL the proof names', async (_what, host) => {
    const token = await tokenFor();
    const htu = concatenated(host) ?? URL_OF;
    const outcome = await send({ token, host, proof: await client.proof(token, 'PATCH', htu) });
    expect(outcome.status).toBe(401);
    expect(outcome.code).toBe('token_binding_unverified');
  });

  it.each([
    ['an explicit port', 'api.example.com:8443', 'https://api.example.com:8443/v1/contacts/c_7'],
    ['the default port on the request', 'api.example.com:443', URL_OF],
    ['the default port in the proof', HOST, 'https://api.example.com:443/v1/contacts/c_7'],
    ['upper-case host and scheme', 'API.Example.COM', 'HTTPS://api.EXAMPLE.com/v1/contacts/c_7'],
    ['an IPv4 address', '192.0.2.10:8443', 'https://192.0.2.10:8443/v1/contacts/c_7'],
    ['an IPv6 address', '[2001:DB8::1]:8443', 'https://[2001:db8:0::1]:8443/v1/contacts/c_7'],
    ['a query and fragment in htu', HOST, `${URL_OF}?page=2#top`],
    ['percent-encoded unreserved characters', HOST, 'https://api.example.com/v1/contacts/c%5F7'],
  ])('accepts %s', async (_what, host, htu) => {
    const token = await tokenFor();
    const outcome = await send({ token, host, proof: await client.proof(token, 'PATCH', htu) });
    expect(outcome).toMatchObject({ status: 200 });
  });

  it.each([
    ['another port', 'https://api.example.com:8443/v1/contacts/c_7'],
    ['another scheme', 'http://api.example.com/v1/contacts/c_7'],
    ['another host', 'https://evil.example/v1/contacts/c_7'],
    ['another path', 'https://api.example.com/v1/contacts/c_8'],
    ['a path differing in case', 'https://api.example.com/V1/contacts/c_7'],
    ['userinfo', 'https://user@api.example.com/v1/contacts/c_7'],
    ['a relative URL', '/v1/contacts/c_7'],
    ['no authority', 'https:/v1/contacts/c_7'],
  ])('refuses a proof whose htu has %s', async (_what, htu) => {
    const token = await tokenFor();
    expectProofRefused(
      await send({ token, proof: await client.proof(token, 'PATCH', htu) }),
      /htu/,
    );
  });

  it('refuses a request scheme other than http and https', async () => {
    const token = await tokenFor();
    const htu = `ftp://${HOST}${PATH}`;
    const outcome = await send({
      token,
      urlScheme: 'ftp',
      proof: await client.proof(token, 'PATCH', htu),
    });
    expect(outcome.status).toBe(401);
    expect(outcome.code).toBe('token_binding_unverified');
  });

  it('takes http as the request scheme when it says so', async () => {
    const token = await tokenFor();
    const htu = `http://${HOST}${PATH}`;
    const outcome = await send({
      token,
      urlScheme: 'http',
      proof: await client.proof(token, 'PATCH', htu),
    });
    expect(outcome).toMatchObject({ status: 200 });
  });
});

describe.each(transports)('%s: the proof', (_name, send) => {
  it('refuses a replayed jti', async () => {
    const token = await tokenFor();
    const jti = randomUUID();
    expect(
      await send({ token, proof: await client.proof(token, 'PATCH', URL_OF, { jti }) }),
    ).toMatchObject({ status: 200 });
    expectProofRefused(
      await send({ token, proof: await client.proof(token, 'PATCH', URL_OF, { jti }) }),
      /jti/,
    );
  });

  it('decides a method override for both methods with one proof: the second decision is no replay', async () => {
    const token = await sidecar.token({
      claims: { scope: 'files.post files.put', cnf: { jkt: client.jkt } },
    });
    const url = `https://${HOST}/v1/files/report`;
    const override = { 'x-http-method-override': 'PUT' };
    const proof = await client.proof(token, 'POST', url);
    const outcome =
      send === overHttp
        ? await overHttp({ token, proof, method: 'POST', path: '/v1/files/report' }, override)
        : outcomeOf(
            await envoyCheck(grpc, {
              method: 'POST',
              path: '/v1/files/report?x=1',
              host: HOST,
              scheme: 'https',
              headers: { authorization: `DPoP ${token}`, dpop: proof, ...override },
            }),
          );
    expect(outcome).toMatchObject({ status: 200 });
    // The proof is still good once: the same request sent again is a replay.
    const again =
      send === overHttp
        ? await overHttp({ token, proof, method: 'POST', path: '/v1/files/report' }, override)
        : outcomeOf(
            await envoyCheck(grpc, {
              method: 'POST',
              path: '/v1/files/report?x=1',
              host: HOST,
              scheme: 'https',
              headers: { authorization: `DPoP ${token}`, dpop: proof, ...override },
            }),
          );
    expectProofRefused(again, /jti/);
  });

  it('refuses a stale iat and one from the future', async () => {
    const token = await tokenFor();
    const now = Math.floor(Date.now() / 1000);
    for (const iat of [now - 600, now + 600]) {
      expectProofRefused(
        await send({ token, proof: await client.proof(token, 'PATCH', URL_OF, { iat }) }),
        /timestamps/,
      );
    }
  });

  it('refuses a proof for another access token (ath)', async () => {
    const token = await tokenFor();
    const ath = athOf(await tokenFor());
    expectProofRefused(
      await send({ token, proof: await client.proof(token, 'PATCH', URL_OF, { ath }) }),
      /ath/,
    );
  });

  it('refuses a proof for another method', async () => {
    const token = await tokenFor();
    expectProofRefused(
      await send({ token, proof: await client.proof(token, 'GET', URL_OF) }),
      /htm/,
    );
  });

  it('refuses a proof by a key the token is not bound to, as a key-binding failure', async () => {
    const token = await tokenFor();
    const outcome = await send({ token, proof: await other.proof(token, 'PATCH', URL_OF) });
    expect(outcome).toMatchObject({ status: 401, code: 'token_binding_unverified' });
    expect(outcome.challenge).toMatch(BINDING_CHALLENGE);
  });

  it('refuses an unsigned (alg none) proof and an HS256 one', async () => {
    const token = await tokenFor();
    const claims = {
      htm: 'PATCH',
      htu: URL_OF,
      jti: randomUUID(),
      ath: athOf(token),
      iat: Math.floor(Date.now() / 1000),
    };
    const none = `${encodeSegment({ alg: 'none', typ: 'dpop+jwt', jwk: client.jwk })}.${encodeSegment(claims)}.`;
    expectProofRefused(await send({ token, proof: none }), /algorithm/);
    const hs256 = await new SignJWT({ ...claims, jti: randomUUID() })
      .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: client.jwk })
      .sign(new TextEncoder().encode('a shared secret, which a proof must never use'));
    expectProofRefused(await send({ token, proof: hs256 }), /algorithm/);
  });

  it('refuses a proof that is not a JWS', async () => {
    const token = await tokenFor();
    expectProofRefused(await send({ token, proof: 'not-a-proof' }), /well-formed/);
  });
});

describe.each(transports)('%s: the authentication scheme', (_name, send) => {
  it('refuses the DPoP scheme with no proof, for a token bound or not', async () => {
    expectProofRefused(await send({ token: await tokenFor() }), /missing/);
    const plain = await send({ token: await tokenFor(false) });
    expect(plain).toMatchObject({ status: 401, code: 'token_binding_unverified' });
    expect(plain.challenge).toMatch(BINDING_CHALLENGE);
  });

  it('refuses the DPoP scheme for a token without cnf.jkt, even with a good proof', async () => {
    const token = await tokenFor(false);
    const outcome = await send({ token, proof: await client.proof(token, 'PATCH', URL_OF) });
    expect(outcome).toMatchObject({ status: 401, code: 'token_binding_unverified' });
    expect(outcome.message).toMatch(/not DPoP-bound/);
    expect(outcome.challenge).toMatch(BINDING_CHALLENGE);
  });

  it('refuses a bound token under the Bearer scheme with a Bearer challenge, proof or not', async () => {
    const token = await tokenFor();
    for (const proof of [undefined, await client.proof(token, 'PATCH', URL_OF)]) {
      const outcome = await send({ token, scheme: 'Bearer', ...(proof ? { proof } : {}) });
      expect(outcome).toMatchObject({ status: 401, code: 'token_binding_unverified' });
      expect(outcome.challenge).toMatch(
        /^Bearer error="invalid_token", error_description="[^"]+"$/,
      );
    }
  });

  it('still takes an unbound token under the Bearer scheme, and answers its failures with Bearer', async () => {
    const token = await tokenFor(false);
    expect(await send({ token, scheme: 'Bearer' })).toMatchObject({ status: 200 });
    const expired = await sidecar.token({ claims: { scope: 'contacts.write', exp: 1 } });
    const outcome = await send({ token: expired, scheme: 'Bearer' });
    expect(outcome).toMatchObject({ status: 401, code: 'token_expired' });
    expect(outcome.challenge).toMatch(/^Bearer error="invalid_token"/);
  });

  it('answers a token failure under the DPoP scheme with a DPoP challenge', async () => {
    const expired = await sidecar.token({
      claims: { scope: 'contacts.write', exp: 1, cnf: { jkt: client.jkt } },
    });
    const outcome = await send({
      token: expired,
      proof: await client.proof(expired, 'PATCH', URL_OF),
    });
    expect(outcome).toMatchObject({ status: 401, code: 'token_expired' });
    expect(outcome.challenge).toMatch(BINDING_CHALLENGE);
  });
});

describe('Envoy egress: the outbound token obeys the same DPoP rules', () => {
  const BILLING = 'billing.internal';
  const BILLING_URL = `https://${BILLING}/invoices`;
  let as: DevAuthorizationServer;
  let egress: Sidecar;
  let egressGrpc: AuthorizationClient;
  beforeAll(async () => {
    as = await startDevAuthorizationServer({ port: 0 });
    egress = await startSidecar({
      keysFrom: sidecar,
      yaml: `exchange:
${exchangeYaml(as, 'crm-service', 'crm-service-dev-secret', `  egress:\n    ${BILLING}: { audience: billing-api }\n`)}`,
    });
    egressGrpc = envoyClient(egress.grpcTarget);
  });
  afterAll(async () => {
    egressGrpc?.close();
    await egress?.stop();
    await as?.stop();
  });

  /** An outbound POST as Envoy's egress listener describes it (marked egress by its config). */
  async function outbound(headers: Record<string, string>): Promise<Outcome> {
    const request = checkRequest({
      method: 'POST',
      path: '/invoices?month=11',
      host: BILLING,
      scheme: 'https',
      headers,
    });
    return outcomeOf(
      await envoyCheck(
        egressGrpc,
        CheckRequest.fromPartial({
          ...request,
          attributes: { ...request.attributes, contextExtensions: { mandate_mode: 'egress' } },
        }),
      ),
    );
  }

  it('refuses the DPoP scheme for a token without cnf.jkt, with a DPoP challenge', async () => {
    const token = await tokenFor(false);
    const outcome = await outbound({
      authorization: `DPoP ${token}`,
      dpop: await client.proof(token, 'POST', BILLING_URL),
    });
    expect(outcome).toMatchObject({ status: 401, code: 'token_binding_unverified' });
    expect(outcome.challenge).toMatch(BINDING_CHALLENGE);
  });

  it('refuses a bound token without a proof, or with a proof for another method or a replayed one', async () => {
    const token = await tokenFor();
    expectProofRefused(await outbound({ authorization: `DPoP ${token}` }), /missing/);
    expectProofRefused(
      await outbound({
        authorization: `DPoP ${token}`,
        dpop: await client.proof(token, 'GET', BILLING_URL),
      }),
      /htm/,
    );
    const proof = await client.proof(token, 'POST', BILLING_URL);
    const first = await outbound({ authorization: `DPoP ${token}`, dpop: proof });
    expect(first.code).not.toBe('token_binding_unverified');
    expectProofRefused(await outbound({ authorization: `DPoP ${token}`, dpop: proof }), /jti/);
  });

  it('takes a bound token with a good proof past the binding check (the AS then answers)', async () => {
    const token = await tokenFor();
    const outcome = await outbound({
      authorization: `DPoP ${token}`,
      dpop: await client.proof(token, 'POST', BILLING_URL),
    });
    expect(outcome.status).not.toBe(401);
    expect(outcome.code).not.toBe('token_binding_unverified');
  });

  it('still holds: a bound token under the Bearer scheme is refused with a Bearer challenge', async () => {
    const token = await tokenFor();
    const outcome = await outbound({
      authorization: `Bearer ${token}`,
      dpop: await client.proof(token, 'POST', BILLING_URL),
    });
    expect(outcome).toMatchObject({ status: 401, code: 'token_binding_unverified' });
    expect(outcome.challenge).toMatch(/^Bearer error="invalid_token"/);
  });
});

describe('more than one DPoP header', () => {
  it('Envoy HTTP: two DPoP header lines are refused', async () => {
    const token = await tokenFor();
    const headers = new Headers({
      authorization: `DPoP ${token}`,
      'x-forwarded-host': HOST,
      'x-forwarded-proto': 'https',
    });
    headers.append('dpop', await client.proof(token, 'PATCH', URL_OF));
    headers.append('dpop', await client.proof(token, 'PATCH', URL_OF));
    const res = await fetch(`${sidecar.httpUrl}/envoy/authz${PATH}`, { method: 'PATCH', headers });
    expect(res.status).toBe(401);
    expect(reasonOf(await res.text())).toMatchObject({
      code: 'token_binding_unverified',
      message: expect.stringMatching(/more than one/),
    });
    expect(res.headers.get('www-authenticate')).toMatch(PROOF_CHALLENGE);
  });

  it('Envoy gRPC: two dpop entries in header_map are refused', async () => {
    const token = await tokenFor();
    const base = checkRequest({
      method: 'PATCH',
      path: PATH,
      headers: { authorization: `DPoP ${token}` },
    });
    const http = base.attributes?.request?.http;
    if (!http) throw new Error('no http attributes');
    const withMap = CheckRequest.fromPartial({
      ...base,
      attributes: {
        ...base.attributes,
        request: {
          ...base.attributes?.request,
          http: {
            ...http,
            headerMap: {
              headers: [
                { key: 'dpop', value: await client.proof(token, 'PATCH', URL_OF) },
                { key: 'dpop', value: await client.proof(token, 'PATCH', URL_OF) },
              ],
            },
          },
        },
      },
    });
    const outcome = outcomeOf(await envoyCheck(grpc, withMap));
    expectProofRefused(outcome, /more than one/);
  });
});

describe('the Check API', () => {
  it('refuses the DPoP scheme over gRPC: it sees no request a proof could be checked against', async () => {
    const checker = new AuthorizerClient(sidecar.grpcTarget, credentials.createInsecure());
    try {
      for (const bound of [false, client] as const) {
        const metadata = new Metadata();
        metadata.set('authorization', `DPoP ${await tokenFor(bound)}`);
        const res = await new Promise<MandateCheckResponse>((resolve, reject) =>
          checker.check(
            MandateCheckRequest.fromPartial({ action: 'contacts.update' }),
            metadata,
            (err: ServiceError | null, answer?: MandateCheckResponse) =>
              err || !answer ? reject(err) : resolve(answer),
          ),
        );
        expect(res).toMatchObject({
          allow: false,
          reasons: [{ code: 'token_binding_unverified' }],
        });
      }
    } finally {
      checker.close();
    }
  });

  it('refuses the DPoP scheme over HTTP: it sees no request a proof could be checked against', async () => {
    for (const bound of [false, client] as const) {
      const token = await tokenFor(bound);
      const { status, body } = await postCheck(
        sidecar,
        { action: 'contacts.update' },
        {
          authorization: `DPoP ${token}`,
          dpop: await client.proof(token, 'POST', `${sidecar.httpUrl}/v1/check`),
        },
      );
      expect(status).toBe(200);
      expect(body).toMatchObject({
        allow: false,
        reasons: [
          {
            code: 'token_binding_unverified',
            message: bound ? expect.stringMatching(/cannot be checked here/) : expect.any(String),
          },
        ],
      });
    }
  });
});

describe('admin JWTs', () => {
  function adminJwt(claims: Record<string, unknown> = {}) {
    return signToken(adminKey, {
      claims: {
        iss: ADMIN_ISSUER,
        aud: ADMIN_AUDIENCE,
        sub: 'alice@ops',
        scope: 'mandate.admin',
        ...claims,
      },
    });
  }
  async function status(jwt: string) {
    const res = await fetch(`${sidecar.adminUrl}/v1/status`, {
      headers: { authorization: `Bearer ${jwt}` },
    });
    return {
      status: res.status,
      body: (await res.json()) as Record<string, unknown>,
      challenge: res.headers.get('www-authenticate'),
    };
  }

  it('accepts an unbound admin JWT', async () => {
    expect((await status(await adminJwt())).status).toBe(200);
  });

  it('refuses a DPoP-bound admin JWT: the admin API checks no proofs, so it would be a bearer token', async () => {
    const res = await status(await adminJwt({ cnf: { jkt: client.jkt } }));
    expect(res.status).toBe(401);
    expect(res.body['message']).toMatch(/bound to a key/);
    expect(res.challenge).toMatch(/^Bearer realm="mandate-admin", error="invalid_token"/);
  });

  it('refuses an admin JWT bound to anything else (mTLS)', async () => {
    const res = await status(
      await adminJwt({ cnf: { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' } }),
    );
    expect(res.status).toBe(401);
  });
});
