// The whole pipeline over a real gRPC listener: same decisions, reasons and audit as HTTP.
import { Metadata, credentials, status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuthorizerClient,
  CheckRequest,
  type CheckResponse,
  type DeepPartial,
} from '../../src/gen/mandate/v1/authorizer.js';
import { startSidecar, type Sidecar } from '../helpers/sidecar.js';

let sidecar: Sidecar;
let client: AuthorizerClient;

beforeAll(async () => {
  sidecar = await startSidecar();
  client = new AuthorizerClient(sidecar.grpcTarget, credentials.createInsecure());
});
afterAll(async () => {
  client?.close();
  await sidecar?.stop();
});

function check(
  request: DeepPartial<CheckRequest>,
  metadata = new Metadata(),
): Promise<CheckResponse> {
  return new Promise((resolve, reject) =>
    client.check(
      CheckRequest.fromPartial(request),
      metadata,
      (err: ServiceError | null, res?: CheckResponse) => (err || !res ? reject(err) : resolve(res)),
    ),
  );
}

describe('mandate.v1.Authorizer/Check', () => {
  it('allows with the token in metadata and returns the subject', async () => {
    const metadata = new Metadata();
    metadata.set(
      'authorization',
      `Bearer ${await sidecar.token({ claims: { scope: 'tickets.write' } })}`,
    );
    const res = await check(
      {
        action: 'tickets.update',
        resource: { type: 'ticket', id: 'T-2', attributes: { priority: 'high' } },
      },
      metadata,
    );
    expect(res).toMatchObject({
      allow: true,
      reasons: [],
      decidedBy: 'base',
      subject: {
        sub: 'user-1',
        tenant: 'acme_inc',
        clientId: 'agent-1',
        scopes: ['tickets.write'],
      },
    });
  });

  it('denies with the same reason codes as HTTP', async () => {
    const token = await sidecar.token({ claims: { scope: 'billing.view' } });
    expect((await check({ token, action: 'billing.view' })).reasons).toEqual([
      expect.objectContaining({ code: 'policy_denied' }),
    ]);
    expect(
      (await check({ token, action: 'contacts.read', tenant: 'globex' })).reasons[0]?.code,
    ).toBe('tenant_mismatch');
    expect((await check({ token: 'x.y.z', action: 'contacts.read' })).reasons[0]?.code).toBe(
      'token_malformed',
    );
    expect((await check({ action: 'contacts.read' })).reasons[0]?.code).toBe('token_missing');
  });

  it('passes context and resource attributes to policy and writes one audit record per decision', async () => {
    const token = await sidecar.token({ claims: { scope: 'contacts.read' } });
    const res = await check({
      token,
      action: 'contacts.read',
      context: { ip: '10.0.0.1', nested: { ok: true } },
      requestId: 'grpc-req-1',
    });
    expect(res.allow).toBe(true);
    const records = (await sidecar.auditRecords()).filter(
      (r) => r['decision_id'] === res.decisionId,
    );
    expect(records).toEqual([
      expect.objectContaining({ transport: 'grpc', request_id: 'grpc-req-1', allow: true }),
    ]);
    expect(await sidecar.rawOutput()).not.toContain(token);
  });

  it('rejects a missing action with INVALID_ARGUMENT and keeps serving', async () => {
    const err = await check({ token: 't' }).then(
      () => undefined,
      (e: ServiceError) => e,
    );
    expect(err?.code).toBe(status.INVALID_ARGUMENT);
    expect(err?.details).toContain('action');
    const token = await sidecar.token({ claims: { scope: 'contacts.read' } });
    expect((await check({ token, action: 'contacts.read' })).allow).toBe(true);
  });

  it('answers 1,000 parallel checks, each correctly', async () => {
    const token = await sidecar.token({ claims: { scope: 'contacts.read' } });
    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        check({ token, action: i % 2 === 0 ? 'contacts.read' : 'contacts.delete' }).then((r) => ({
          r,
          i,
        })),
      ),
    );
    for (const { r, i } of results) expect(r.allow).toBe(i % 2 === 0);
  });
});
