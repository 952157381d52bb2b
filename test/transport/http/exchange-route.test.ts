// POST /v1/exchange, /health and /ready through fastify's inject(): 501 without an exchanger, 400 before one is asked, readiness 200 then 503 while draining.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpApp, type HttpAppFixture } from '../../helpers/http-app.js';

let fixture: HttpAppFixture;
beforeAll(async () => {
  fixture = await startHttpApp();
});
afterAll(async () => {
  await fixture?.close();
});

describe('POST /v1/exchange without exchange configured', () => {
  it('501 naming the missing section, never cached', async () => {
    const res = await fixture.app.inject({
      method: 'POST',
      url: '/v1/exchange',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ audience: 'billing-api' }),
    });
    expect(res.statusCode).toBe(501);
    expect(res.json()).toMatchObject({ error: 'not_configured' });
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('400 for a body without an audience, 415 for a form body', async () => {
    const missing = await fixture.app.inject({
      method: 'POST',
      url: '/v1/exchange',
      headers: { 'content-type': 'application/json' },
      payload: '{}',
    });
    expect(missing.statusCode).toBe(400);
    const form = await fixture.app.inject({
      method: 'POST',
      url: '/v1/exchange',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'audience=billing-api',
    });
    expect(form.statusCode).toBe(415);
  });
});

describe('health and readiness', () => {
  it('/health 200; /ready 200 with every component, then 503 draining once shutdown begins', async () => {
    expect((await fixture.app.inject({ method: 'GET', url: '/health' })).json()).toEqual({
      status: 'ok',
    });
    const ready = await fixture.app.inject({ method: 'GET', url: '/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({
      status: 'ready',
      components: { keys: { state: 'OK' }, policies: { state: 'OK' }, revocations: {} },
    });
    const metrics = await fixture.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toContain('mandate_');
    fixture.readiness.drain();
    const draining = await fixture.app.inject({ method: 'GET', url: '/ready' });
    expect(draining.statusCode).toBe(503);
    expect(draining.json()).toMatchObject({ status: 'draining' });
  });
});
