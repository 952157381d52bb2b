// An issuer for fault tests whose JWKS endpoint just works, so a test can break something else.
import { startJwksServer } from '../helpers/jwks-server.js';
import { AUDIENCE, ISSUER, createTestKey, signToken } from '../helpers/tokens.js';

export interface FaultKeys {
  /** The issuer as a YAML flow mapping, for `issuers: [...]`. */
  readonly issuerYaml: string;
  /** A token of `tenant` that the default policies allow `tickets.comment` for. */
  token(tenant: string): Promise<string>;
  close(): Promise<void>;
}

export async function createJwksServerFor(): Promise<FaultKeys> {
  const key = await createTestKey('ES256', 'fault-k1');
  const server = await startJwksServer([key.jwk]);
  return {
    issuerYaml: `{ issuer: "${ISSUER}", jwks_uri: "${server.url}", audiences: ["${AUDIENCE}"], algorithms: [ES256] }`,
    token: (tenant) => signToken(key, { claims: { tenant, scope: 'contacts.read tickets.write' } }),
    close: () => server.close(),
  };
}
