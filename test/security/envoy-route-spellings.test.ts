// Envoy ext_authz, gRPC and HTTP: a path that an upstream stripping ;parameters or ignoring case reads as a literal route never maps to the capture beside it.
import { status as grpcStatus } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthorizationClient } from '../../src/gen/envoy/service/auth/v3/external_auth.js';
import { envoyCheck, envoyClient } from '../helpers/envoy.js';
import { rawHttp } from '../helpers/raw-http.js';
import { startSidecar, type Sidecar } from '../helpers/sidecar.js';

const ROUTES = (extra = '') => `
envoy:
${extra}  routes:
    - { method: GET, path: /v1/contacts/export, action: contacts.export }
    - { method: GET, path: "/v1/contacts/{id}", action: contacts.read, resource: { type: contact, id: "{id}" } }
`;

type Transport = 'grpc' | 'http';

interface Answer {
  readonly status: number;
  readonly code: string | undefined;
}

function reasonOf(body: string): string | undefined {
  try {
    return (JSON.parse(body) as { reasons?: { code: string }[] }).reasons?.[0]?.code;
  } catch {
    return undefined;
  }
}

/** What Envoy would answer the client for GET `path`, asked over `transport`. */
async function ask(
  sidecar: Sidecar,
  client: AuthorizationClient,
  transport: Transport,
  path: string,
  token: string,
): Promise<Answer> {
  if (transport === 'http') {
    const res = await rawHttp(sidecar.httpUrl, 'GET', `/envoy/authz${path}`, [
      ['authorization', `Bearer ${token}`],
    ]);
    return { status: res.status, code: reasonOf(res.text) };
  }
  const res = await envoyCheck(client, {
    method: 'GET',
    path,
    headers: { authorization: `Bearer ${token}` },
  });
  if (res.status?.code === grpcStatus.OK) return { status: 200, code: undefined };
  const body = res.deniedResponse?.body ?? '';
  return { status: res.deniedResponse?.status?.code ?? 0, code: reasonOf(body) };
}

// Each reached contacts.read on contact `export;x` (or `EXPORT`) with a reader's token, while a
// servlet container (;parameters stripped) or IIS (case ignored) serves /v1/contacts/export.
const RESPELLED = [
  '/v1/contacts/export;x',
  '/v1/contacts/export;jsessionid=0123',
  '/v1/contacts/export%3Bx',
  '/v1/contacts/EXPORT',
  '/v1/contacts/Export',
  '/v1/contacts/%45xport',
  '/v1/contacts/EXPORT;x',
];

describe.each(['grpc', 'http'] as const)('envoy %s: respelled literals', (transport) => {
  let sidecar: Sidecar;
  let client: AuthorizationClient;
  let reader: string;
  beforeAll(async () => {
    sidecar = await startSidecar({ yaml: ROUTES() });
    client = envoyClient(sidecar.grpcTarget);
    reader = await sidecar.token({ claims: { scope: 'contacts.read' } });
  });
  afterAll(async () => {
    client?.close();
    await sidecar?.stop();
  });

  it.each(RESPELLED)('%s is denied route_unmapped', async (path) => {
    expect(await ask(sidecar, client, transport, path, reader)).toEqual({
      status: 403,
      code: 'route_unmapped',
    });
  });

  it('still decides the literal as the literal, and other ids, with ; too, as the capture', async () => {
    const literal = await ask(sidecar, client, transport, '/v1/contacts/export', reader);
    expect(literal).toEqual({ status: 403, code: 'insufficient_scope' });
    const other = await ask(sidecar, client, transport, '/v1/contacts/Exporter', reader);
    expect(other.status).toBe(200);
    // Under the default path_parameters: reject, any ; is unmapped, not only next to a literal.
    const parameter = await ask(sidecar, client, transport, '/v1/contacts/c_1;v=2', reader);
    expect(parameter).toEqual({ status: 403, code: 'route_unmapped' });
  });
});

describe('envoy path_parameters: allow', () => {
  let sidecar: Sidecar;
  let client: AuthorizationClient;
  let reader: string;
  beforeAll(async () => {
    sidecar = await startSidecar({ yaml: ROUTES('  path_parameters: allow\n') });
    client = envoyClient(sidecar.grpcTarget);
    reader = await sidecar.token({ claims: { scope: 'contacts.read' } });
  });
  afterAll(async () => {
    client?.close();
    await sidecar?.stop();
  });

  it.each(['grpc', 'http'] as const)(
    '%s: ; is an ordinary character in an id, never beside a literal it spells',
    async (transport) => {
      const id = await ask(sidecar, client, transport, '/v1/contacts/c_1;v=2', reader);
      expect(id.status).toBe(200);
      for (const path of RESPELLED) {
        expect(await ask(sidecar, client, transport, path, reader), path).toEqual({
          status: 403,
          code: 'route_unmapped',
        });
      }
    },
  );
});
