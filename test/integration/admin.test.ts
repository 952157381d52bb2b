// The admin listener: every route needs an admin bearer token; status reports readiness and revisions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startSidecar, type Sidecar } from '../helpers/sidecar.js';

let sidecar: Sidecar;
beforeAll(async () => {
  sidecar = await startSidecar();
});
afterAll(async () => {
  await sidecar?.stop();
});

describe('admin listener', () => {
  it.each([
    ['no credentials', undefined],
    ['a wrong token', 'Bearer not-the-admin-token-0123456789abcdef0123'],
    ['a near miss', `Bearer ${ADMIN_TOKEN.slice(0, -1)}x`],
    ['another scheme', `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}`],
  ])('refuses %s with 401 and WWW-Authenticate', async (_name, authorization) => {
    const res = await fetch(`${sidecar.adminUrl}/v1/status`, {
      headers: authorization ? { authorization } : {},
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await res.json()).toMatchObject({ error: 'unauthorized' });
  });

  it('refuses unknown routes before revealing they do not exist', async () => {
    expect((await fetch(`${sidecar.adminUrl}/v1/nope`)).status).toBe(401);
  });

  it('reports status, readiness and policy revisions to an admin', async () => {
    const res = await fetch(`${sidecar.adminUrl}/v1/status`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      ready: true,
      policies: { base: expect.any(String), tenants: { acme_inc: expect.any(String) } },
      principal: expect.stringMatching(/^token:[0-9a-f]{8}$/),
    });
    expect(JSON.stringify(body)).not.toContain(ADMIN_TOKEN);
  });
});
