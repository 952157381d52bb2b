// The OPA-Envoy documentation's policies shipped in examples/envoy/opa-envoy-docs/, run unchanged in compatibility mode over gRPC and HTTP.
import { resolve } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthorizationClient } from '../../src/gen/envoy/service/auth/v3/external_auth.js';
import { envoyCheck, envoyClient, envoyHttp, headerMap } from '../helpers/envoy.js';
import { startSidecar, type Sidecar } from '../helpers/sidecar.js';

const DOCS = resolve(import.meta.dirname, '../../examples/envoy/opa-envoy-docs');

/** A sidecar over one example folder; mandate's own token travels in x-access-token when asked. */
function exampleSuite(example: string, extraYaml = '') {
  const state: { sidecar?: Sidecar; client?: AuthorizationClient } = {};
  beforeAll(async () => {
    state.sidecar = await startSidecar({
      yaml: `envoy:\n  compat: { enabled: true, dir: "${DOCS}/${example}"${extraYaml} }\n`,
    });
    state.client = envoyClient(state.sidecar.grpcTarget);
  });
  afterAll(async () => {
    state.client?.close();
    await state.sidecar?.stop();
  });
  /** Both transports' answers for the same request: [gRPC allowed?, HTTP status]. */
  return async (method: string, path: string, body?: string) => {
    const { sidecar, client } = state;
    if (!sidecar || !client) throw new Error('sidecar not started');
    const headers = {
      authorization: `Bearer ${await sidecar.token()}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    };
    const req = { method, path, headers, ...(body !== undefined ? { body } : {}) };
    const grpc = await envoyCheck(client, req);
    const http = await envoyHttp(sidecar.httpUrl, req);
    return [grpc.status?.code === 0, http.status] as const;
  };
}

describe('parsed_path example', () => {
  const send = exampleSuite('parsed-path');
  it('allows /people and nothing else', async () => {
    expect(await send('GET', '/people')).toEqual([true, 200]);
    expect(await send('GET', '/people?lang=en')).toEqual([true, 200]);
    expect(await send('GET', '/people/1')).toEqual([false, 403]);
    expect(await send('GET', '/peop%6ce')).toEqual([true, 200]);
  });
});

describe('parsed_query example', () => {
  const send = exampleSuite('parsed-query');
  it('allows /people?lang=en&id=1&id=2 only', async () => {
    expect(await send('GET', '/people?lang=en&id=1&id=2')).toEqual([true, 200]);
    expect(await send('GET', '/people?id=1&lang=en&id=2')).toEqual([true, 200]);
    expect(await send('GET', '/people?lang=en&id=1')).toEqual([false, 403]);
    expect(await send('GET', '/people?lang=en&id=1&id=2;x')).toEqual([false, 400]);
  });
});

describe('parsed_body example', () => {
  const send = exampleSuite('parsed-body');
  it('allows a JSON body naming Charlie Opa', async () => {
    expect(await send('POST', '/people', '{"firstname":"Charlie","lastname":"Opa"}')).toEqual([
      true,
      200,
    ]);
    expect(await send('POST', '/people', '{"firstname":"Charlie","lastname":"Brown"}')).toEqual([
      false,
      403,
    ]);
  });
});

// The JWT examples verify an HS256 token from the Authorization header themselves, so mandate's
// own token goes in another header. They need the io.jwt builtins; without them the unit refuses
// to load, and these tests are skipped.
describe('JWT examples (io.jwt.decode_verify)', () => {
  const hs256 = (role: string, sub: string, key = 'secret') => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ role, sub: Buffer.from(sub).toString('base64url'), nbf: now - 60 })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setExpirationTime(now + 600)
      .sign(new TextEncoder().encode(key));
  };
  let sidecars: Record<string, Sidecar | undefined> = {};
  let loadError: string | undefined;
  beforeAll(async () => {
    try {
      for (const [name, entrypoint] of [
        ['quick-start', 'envoy/authz/allow'],
        ['primer', 'envoy/authz/allow'],
        ['additional-controls', 'envoy/authz/result'],
      ] as const) {
        sidecars[name] = await startSidecar({
          yaml: `envoy:\n  token_headers: [x-access-token]\n  compat: { enabled: true, dir: "${DOCS}/${name}", entrypoint: ${entrypoint} }\n`,
        });
      }
    } catch (err) {
      loadError = String(err);
    }
  });
  afterAll(async () => {
    for (const s of Object.values(sidecars)) await s?.stop();
    sidecars = {};
  });

  async function call(name: string, method: string, path: string, jwt: string, body?: string) {
    const sidecar = sidecars[name];
    if (!sidecar) throw new Error(`no sidecar for ${name}`);
    const client = envoyClient(sidecar.grpcTarget);
    try {
      return await envoyCheck(client, {
        method,
        path,
        headers: {
          'x-access-token': `Bearer ${await sidecar.token()}`,
          authorization: `Bearer ${jwt}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body } : {}),
      });
    } finally {
      client.close();
    }
  }

  it('quick start and primer: guests read /people, admins add people', async (ctx) => {
    if (loadError?.includes('io.jwt')) ctx.skip();
    expect(loadError).toBeUndefined();
    const guest = await hs256('guest', 'alice');
    const admin = await hs256('admin', 'bob');
    for (const name of ['quick-start', 'primer']) {
      expect((await call(name, 'GET', '/people/1', guest)).status?.code).toBe(0);
      expect(
        (await call(name, 'POST', '/people', guest, '{"firstname":"Charlie"}')).status?.code,
      ).toBe(7);
      expect(
        (await call(name, 'POST', '/people', admin, '{"firstname":"Charlie"}')).status?.code,
      ).toBe(0);
      // An admin may not add themselves.
      expect((await call(name, 'POST', '/people', admin, '{"firstname":"Bob"}')).status?.code).toBe(
        7,
      );
    }
  });

  it('additional controls: headers, query parameters and metadata on allow; status and body on deny', async (ctx) => {
    if (loadError?.includes('io.jwt')) ctx.skip();
    expect(loadError).toBeUndefined();
    const allowed = await call(
      'additional-controls',
      'GET',
      '/people/1',
      await hs256('guest', 'alice'),
    );
    expect(allowed.status?.code).toBe(0);
    expect(headerMap(allowed.okResponse?.headers)).toMatchObject({
      'x-ext-auth-allow': 'yes',
      'x-validated-by': 'security-checkpoint',
    });
    expect(allowed.okResponse?.headersToRemove).toEqual(
      expect.arrayContaining(['one-auth-header', 'another-auth-header']),
    );
    expect(headerMap(allowed.okResponse?.responseHeadersToAdd)).toEqual({ 'x-foo': 'bar' });
    expect(allowed.okResponse?.queryParametersToSet).toEqual(
      expect.arrayContaining([
        { key: 'user-role', value: 'guest' },
        { key: 'tags', value: 'main-flow' },
        { key: 'tags', value: 'auth-enabled' },
      ]),
    );
    expect(allowed.dynamicMetadata).toMatchObject({ foo: 'bar' });
    const forbidden = await call(
      'additional-controls',
      'DELETE',
      '/people/1',
      await hs256('guest', 'alice'),
    );
    expect(forbidden.deniedResponse?.status?.code).toBe(403);
    expect(forbidden.deniedResponse?.body).toBe('Unauthorized Request');
    // Signed with another secret: decode_verify says invalid.
    const forged = await hs256('admin', 'mallory', 'not-the-secret');
    const unauthenticated = await call('additional-controls', 'GET', '/people/1', forged);
    expect(unauthenticated.deniedResponse?.status?.code).toBe(401);
    expect(unauthenticated.deniedResponse?.body).toBe('Authentication Failed');
  });
});
