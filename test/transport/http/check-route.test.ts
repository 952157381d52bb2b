// POST /v1/check through fastify's inject(): the status codes of the Check API (200 allow and deny, 400, 413, 415, 404) over the real pipeline.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpApp, type HttpAppFixture } from '../../helpers/http-app.js';

let fixture: HttpAppFixture;
beforeAll(async () => {
  fixture = await startHttpApp({ bodyLimitBytes: 4096, maxNestingDepth: 4 });
});
afterAll(async () => {
  await fixture?.close();
});

const check = (payload: unknown, headers: Record<string, string> = {}) =>
  fixture.app.inject({
    method: 'POST',
    url: '/v1/check',
    headers: { 'content-type': 'application/json', ...headers },
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });

const comment = { action: 'tickets.comment', tenant: 'acme_inc' };

describe('POST /v1/check', () => {
  it('200 with allow: true and the subject for a token the policy allows', async () => {
    const token = await fixture.token({ claims: { scope: 'tickets.write' } });
    const res = await check(comment, { authorization: `Bearer ${token}` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      allow: true,
      reasons: [],
      subject: { sub: 'user-1', tenant: 'acme_inc' },
    });
  });

  it('200 with allow: false and the reason for a denial (missing scope, missing token)', async () => {
    const token = await fixture.token({ claims: { scope: 'contacts.read' } });
    const denied = await check(comment, { authorization: `Bearer ${token}` });
    expect(denied.statusCode).toBe(200);
    expect(denied.json()).toMatchObject({
      allow: false,
      reasons: [{ code: 'insufficient_scope' }],
    });
    const anonymous = await check(comment);
    expect(anonymous.statusCode).toBe(200);
    expect(anonymous.json()).toMatchObject({ allow: false, reasons: [{ code: 'token_missing' }] });
  });

  it('400 for a body the schema refuses, a token given twice, or nesting deeper than the limit', async () => {
    const before = fixture.records.length;
    expect((await check({ tenant: 'acme_inc' })).statusCode).toBe(400);
    expect((await check({ action: 123 })).statusCode).toBe(400);
    expect((await check({ ...comment, extra: true })).statusCode).toBe(400);
    expect((await check('{"action":')).statusCode).toBe(400);
    const token = await fixture.token();
    const twice = await check({ ...comment, token }, { authorization: `Bearer ${token}` });
    expect(twice.statusCode).toBe(400);
    expect(twice.json()).toMatchObject({ error: 'invalid_request', message: /^token:/ });
    const deep = await check({ ...comment, context: { a: { b: { c: { d: { e: 1 } } } } } });
    expect(deep.statusCode).toBe(400);
    expect(deep.json()).toMatchObject({ error: 'invalid_request', message: /context/ });
    // Refused before the pipeline: no decision was made, none audited.
    expect(fixture.records.length).toBe(before);
  });

  it('415 for a body that is not JSON, text/plain included', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded']) {
      const res = await check('action=tickets.comment', { 'content-type': type });
      expect(res.statusCode, type).toBe(415);
    }
  });

  it('413 for a body over the listener limit', async () => {
    const res = await check({ ...comment, context: { pad: 'x'.repeat(5000) } });
    expect(res.statusCode).toBe(413);
  });

  it('404 with a JSON body for a route that does not exist', async () => {
    const res = await fixture.app.inject({ method: 'POST', url: '/v1/chek' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: 'not_found', message: 'no route for POST /v1/chek' });
  });
});

describe('Envoy HTTP ext_authz on the same app', () => {
  it('401 without a token, 403 for a token the policy denies', async () => {
    const at = (headers: Record<string, string> = {}) =>
      fixture.app.inject({ method: 'GET', url: '/envoy/authz/v1/tickets/T-1', headers });
    expect((await at()).statusCode).toBe(401);
    const reader = await fixture.token({ claims: { scope: 'nothing.useful' } });
    expect((await at({ authorization: `Bearer ${reader}` })).statusCode).toBe(403);
  });
});
