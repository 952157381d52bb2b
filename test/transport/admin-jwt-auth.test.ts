// Admin JWTs against a real verifier and JWKS endpoint: scope, tenant, and no sender-constrained token taken as a bearer token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IssuerConfig } from '../../src/config/types.js';
import type { TokenVerifier } from '../../src/token/types.js';
import { createTokenVerifier } from '../../src/token/verifier.js';
import { createStaticAdminAuthenticator } from '../../src/transport/admin/auth.js';
import { createAdminAuthenticator } from '../../src/transport/admin/jwt-auth.js';
import { startJwksServer, type JwksServer } from '../helpers/jwks-server.js';
import {
  TOKEN_CONFIG,
  createTestKey,
  issuerConfig,
  remoteSource,
  signToken,
  type TestKey,
} from '../helpers/tokens.js';

let jwks: JwksServer;
let key: TestKey;
const verifiers: TokenVerifier[] = [];

beforeAll(async () => {
  key = await createTestKey('ES256');
  jwks = await startJwksServer([key.jwk]);
});
afterAll(async () => {
  await Promise.all(verifiers.map((v) => v.stop()));
  await jwks?.close();
});

async function authenticatorFor(overrides: Partial<IssuerConfig> = {}) {
  const verifier = createTokenVerifier({
    issuers: [issuerConfig(remoteSource(jwks.url), { requiredClaims: [], ...overrides })],
    token: TOKEN_CONFIG,
  });
  await verifier.start();
  verifiers.push(verifier);
  return createAdminAuthenticator(createStaticAdminAuthenticator(['static-admin-token']), {
    verifier,
    requiredScope: 'mandate.admin',
    tenantClaim: 'tenant',
  });
}

const adminJwt = (claims: Record<string, unknown> = {}) =>
  signToken(key, { claims: { scope: 'mandate.admin', tenant: undefined, ...claims } });

describe('admin JWTs', () => {
  it('take an unbound admin JWT with the scope', async () => {
    const auth = await authenticatorFor();
    expect(await auth.authenticate(await adminJwt())).toMatchObject({
      kind: 'jwt',
      id: 'jwt:user-1',
    });
  });

  it('refuse a DPoP-bound admin JWT: the admin API checks no proof, so it would be a bearer token', async () => {
    const auth = await authenticatorFor();
    const bound = await adminJwt({ cnf: { jkt: 'A'.repeat(43) } });
    expect(await auth.authenticate(bound)).toEqual({
      refused: 'token_bound',
      message: expect.stringMatching(/bound to a key \(cnf\)/),
    });
  });

  it('refuse an admin JWT bound to anything else with the same answer', async () => {
    const auth = await authenticatorFor();
    const mtls = await adminJwt({ cnf: { 'x5t#S256': 'B'.repeat(43) } });
    expect(await auth.authenticate(mtls)).toMatchObject({ refused: 'token_bound' });
  });

  it('take a bound admin JWT when the admin issuer says its proofs are checked in front', async () => {
    const auth = await authenticatorFor({ senderConstrained: 'accept' });
    const bound = await adminJwt({ cnf: { jkt: 'A'.repeat(43) } });
    expect(await auth.authenticate(bound)).toMatchObject({ kind: 'jwt' });
  });
});
