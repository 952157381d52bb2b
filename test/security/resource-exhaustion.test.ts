// Requests built to exhaust the sidecar (deep nesting on every transport, Envoy metadata included, huge bodies, many headers and keys, huge tokens) get clear refusals, and it stays up.
import { Metadata, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/errors.js';
import { Struct } from '../../src/gen/google/protobuf/struct.js';
import { CheckResponse as EnvoyCheckResponse } from '../../src/gen/envoy/service/auth/v3/external_auth.js';
import { CheckResponse } from '../../src/gen/mandate/v1/authorizer.js';
import { envoyCheck, envoyClient, envoyHttp } from '../helpers/envoy.js';
import { deepStructBytes, field, rawUnary } from '../helpers/grpc-raw.js';
import { postCheck, startSidecar, type Sidecar } from '../helpers/sidecar.js';
import { COMPAT_YAML } from '../integration/envoy-config.js';

const CHECK = '/mandate.v1.Authorizer/Check';

/** `{"a":{"a":...1}}` as text, `depth` objects deep, without building the value. */
function deepJson(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

function deepArrayJson(depth: number): string {
  return `${'['.repeat(depth)}1${']'.repeat(depth)}`;
}

let sidecar: Sidecar;
let token: string;

beforeAll(async () => {
  sidecar = await startSidecar({ yaml: COMPAT_YAML });
  token = await sidecar.token({ claims: { scope: 'contacts.read' } });
});
afterAll(async () => {
  await sidecar?.stop();
});

const bearer = () => ({ authorization: `Bearer ${token}` });

async function stillServing(): Promise<void> {
  const res = await postCheck(sidecar, { action: 'contacts.read' }, bearer());
  expect(res.body['allow']).toBe(true);
}

async function expectNoStackOverflow(): Promise<void> {
  const output = await sidecar.rawOutput();
  expect(output).not.toContain('Maximum call stack');
  expect(output).not.toContain('RangeError');
}

describe('deep nesting', () => {
  it('JSON.parse itself takes a 10 000-deep document (so the bound is applied after parsing)', () => {
    expect(() => JSON.parse(deepJson(10_000)) as unknown).not.toThrow();
  });

  it('POST /v1/check: 400 naming context or resource.attributes, 10 000 levels deep', async () => {
    for (const [body, name] of [
      [`{"action":"contacts.read","context":${deepJson(10_000)}}`, 'context'],
      [
        `{"action":"contacts.read","resource":{"type":"contact","attributes":${deepJson(10_000)}}}`,
        'resource.attributes',
      ],
      [`{"action":"contacts.read","context":{"list":${deepArrayJson(10_000)}}}`, 'context'],
    ] as const) {
      const res = await postCheck(sidecar, body, bearer());
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        error: 'invalid_request',
        message: `${name}: nests deeper than 64 levels`,
      });
    }
    await expectNoStackOverflow();
    await stillServing();
  });

  it('POST /v1/check: 64 levels are decided, 65 are refused', async () => {
    const inner = (depth: number) => `{"action":"contacts.read","context":${deepJson(depth)}}`;
    const ok = await postCheck(sidecar, inner(64), bearer());
    expect(ok.status).toBe(200);
    expect(ok.body['allow']).toBe(true);
    const refused = await postCheck(sidecar, inner(65), bearer());
    expect(refused.status).toBe(400);
  });

  it('gRPC Check: INVALID_ARGUMENT naming the field, never INTERNAL', async () => {
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    const action = field(2, 'contacts.read');
    for (const [message, name] of [
      [Buffer.concat([action, field(5, deepStructBytes(10_000))]), 'context'],
      [
        Buffer.concat([
          action,
          field(3, Buffer.concat([field(1, 'contact'), field(3, deepStructBytes(10_000))])),
        ]),
        'resource.attributes',
      ],
    ] as const) {
      const res = await rawUnary(sidecar.grpcTarget, CHECK, message, metadata);
      expect(res.ok).toBe(false);
      if (res.ok) return;
      expect(res.error.code).toBe(status.INVALID_ARGUMENT);
      // The decoder takes 32 Struct levels at most, below the configured 64.
      expect(res.error.details).toBe(`${name}: nests deeper than 32 levels`);
    }
    await expectNoStackOverflow();
  });

  it('gRPC Check: a Struct as deep as the decoder takes is decided', async () => {
    expect(Struct.unwrap(Struct.decode(deepStructBytes(3)))).toEqual({ a: { a: { a: 1 } } });
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    const message = Buffer.concat([field(2, 'contacts.read'), field(5, deepStructBytes(32))]);
    const res = await rawUnary(sidecar.grpcTarget, CHECK, message, metadata);
    expect(res.ok).toBe(true);
    if (!res.ok) return;
    expect(CheckResponse.decode(res.bytes).allow).toBe(true);
  });

  it('gRPC Check: bytes that are not a CheckRequest are INVALID_ARGUMENT', async () => {
    const res = await rawUnary(sidecar.grpcTarget, CHECK, Buffer.from([0x2a, 0xff, 0xff, 0x01]));
    expect(res.ok).toBe(false);
    if (!res.ok) expect(res.error.code).toBe(status.INVALID_ARGUMENT);
  });

  it('Envoy gRPC ext_authz: a 10 000-deep JSON body is a 400 request_invalid denial', async () => {
    const client = envoyClient(sidecar.grpcTarget);
    try {
      const res = await envoyCheck(client, {
        method: 'POST',
        path: '/payments',
        headers: { ...bearer(), 'content-type': 'application/json' },
        body: deepJson(10_000),
      });
      expect(res.deniedResponse?.status?.code).toBe(400);
      expect(JSON.parse(res.deniedResponse?.body ?? '{}')).toMatchObject({
        reasons: [{ code: 'request_invalid', message: 'body: nests deeper than 64 levels' }],
      });
    } finally {
      client.close();
    }
    await expectNoStackOverflow();
  });

  it('Envoy gRPC ext_authz: metadata Structs nested past the decoder are a 400 request_invalid denial, not an RPC error', async () => {
    const ENVOY_CHECK = '/envoy.service.auth.v3.Authorization/Check';
    /** CheckRequest.attributes.metadata_context.filter_metadata["ns"], a Struct `depth` deep. */
    const withMetadata = (depth: number) =>
      field(
        1,
        field(11, field(1, Buffer.concat([field(1, 'ns'), field(2, deepStructBytes(depth))]))),
      );
    for (const depth of [33, 10_000]) {
      const res = await rawUnary(sidecar.grpcTarget, ENVOY_CHECK, withMetadata(depth));
      // An RPC error is an ext_authz failure to Envoy, let through under failure_mode_allow.
      expect(res.ok, res.ok ? '' : res.error.details).toBe(true);
      if (!res.ok) return;
      const answer = EnvoyCheckResponse.decode(res.bytes);
      expect(answer.status?.code).toBe(status.PERMISSION_DENIED);
      expect(answer.deniedResponse?.status?.code).toBe(400);
      expect(JSON.parse(answer.deniedResponse?.body ?? '{}')).toMatchObject({
        reasons: [
          {
            code: 'request_invalid',
            message: expect.stringMatching(/^request: not a decodable CheckRequest \(.+\)$/),
          },
        ],
      });
    }
    // As deep as the decoder takes: decided as usual (no token here, so a 401).
    const decoded = await rawUnary(sidecar.grpcTarget, ENVOY_CHECK, withMetadata(32));
    expect(decoded.ok).toBe(true);
    if (decoded.ok) {
      expect(EnvoyCheckResponse.decode(decoded.bytes).deniedResponse?.status?.code).toBe(401);
    }
    // Bytes that are no CheckRequest at all are the same clean denial.
    const garbage = await rawUnary(sidecar.grpcTarget, ENVOY_CHECK, Buffer.from([0x0a, 0xff]));
    expect(garbage.ok).toBe(true);
    if (garbage.ok) {
      expect(EnvoyCheckResponse.decode(garbage.bytes).deniedResponse?.status?.code).toBe(400);
    }
    await expectNoStackOverflow();
    await stillServing();
  });

  it('Envoy HTTP ext_authz: a 10 000-deep JSON body is a 400 request_invalid denial', async () => {
    const res = await envoyHttp(sidecar.httpUrl, {
      method: 'POST',
      path: '/payments',
      headers: { ...bearer(), 'content-type': 'application/json' },
      body: deepJson(10_000),
    });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toMatchObject({
      reasons: [{ code: 'request_invalid', message: 'body: nests deeper than 64 levels' }],
    });
    const record = (await sidecar.auditRecords()).at(-1);
    expect(record).toMatchObject({ allow: false, reasons: [{ code: 'request_invalid' }] });
    await expectNoStackOverflow();
    await stillServing();
  });

  it('limits.max_nesting_depth is configurable and validated naming the key', async () => {
    expect(() =>
      parseConfig(
        `issuers: [{ issuer: "https://i", secret: "x", audiences: [a] }]\nlimits: { max_nesting_depth: 0 }`,
      ),
    ).toThrow(ConfigError);
    try {
      parseConfig(`dev: { enabled: true }\nlimits: { max_nesting_depth: "deep" }`);
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).toContain('limits.max_nesting_depth');
    }
    const shallow = await startSidecar({ yaml: 'limits: { max_nesting_depth: 3 }' });
    try {
      const t = await shallow.token({ claims: { scope: 'contacts.read' } });
      const at = (depth: number) =>
        postCheck(shallow, `{"action":"contacts.read","context":${deepJson(depth)}}`, {
          authorization: `Bearer ${t}`,
        });
      expect((await at(3)).body['allow']).toBe(true);
      expect((await at(4)).body).toEqual({
        error: 'invalid_request',
        message: 'context: nests deeper than 3 levels',
      });
    } finally {
      await shallow.stop();
    }
  });
});

describe('size', () => {
  it('a /v1/check body over http.body_limit_bytes is 413', async () => {
    const big = JSON.stringify({ action: 'contacts.read', context: { pad: 'x'.repeat(70_000) } });
    const res = await postCheck(sidecar, big, bearer());
    expect(res.status).toBe(413);
  });

  it('an Envoy HTTP ext_authz request over envoy.http_body_limit_bytes is 413', async () => {
    const res = await envoyHttp(sidecar.httpUrl, {
      method: 'POST',
      path: '/payments',
      headers: { ...bearer(), 'content-type': 'application/json' },
      body: JSON.stringify({ pad: 'x'.repeat(1_100_000) }),
    });
    expect(res.status).toBe(413);
  });

  it('a token over token.max_token_bytes is token_malformed, before parsing', async () => {
    const huge = `${'a'.repeat(20_000)}.${'b'.repeat(20_000)}.${'c'.repeat(100)}`;
    // In the body: as a header it would pass Node's 16 KiB header limit first (431).
    const res = await postCheck(sidecar, { action: 'contacts.read', token: huge });
    expect(res.body['reasons']).toEqual([expect.objectContaining({ code: 'token_malformed' })]);
  });

  it('a context with 2 000 keys and a 2 000-item list is decided (no cache key is built past its cap)', async () => {
    const context: Record<string, unknown> = {};
    for (let i = 0; i < 2000; i++) context[`k${i}`] = i;
    context['list'] = Array.from({ length: 2000 }, (_, i) => i);
    const started = Date.now();
    const res = await postCheck(sidecar, { action: 'contacts.read', context }, bearer());
    expect(res.body['allow']).toBe(true);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("an Envoy HTTP ext_authz call with 300 headers is answered; headers past Node's limit are 431", async () => {
    const many: Record<string, string> = { ...bearer() };
    for (let i = 0; i < 300; i++) many[`x-h-${i}`] = 'v';
    const ok = await envoyHttp(sidecar.httpUrl, { method: 'GET', path: '/people', headers: many });
    expect([200, 403]).toContain(ok.status);
    const huge: Record<string, string> = { ...bearer() };
    for (let i = 0; i < 100; i++) huge[`x-big-${i}`] = 'v'.repeat(500);
    const refused = await envoyHttp(sidecar.httpUrl, {
      method: 'GET',
      path: '/people',
      headers: huge,
    });
    expect(refused.status).toBe(431);
    await stillServing();
  });

  it('a gRPC message over the 1 MiB receive limit is refused, and the server stays up', async () => {
    const message = Buffer.concat([field(2, 'contacts.read'), field(1, 'x'.repeat(2_000_000))]);
    const res = await rawUnary(sidecar.grpcTarget, CHECK, message);
    expect(res.ok).toBe(false);
    if (!res.ok) expect(res.error.code).toBe(status.RESOURCE_EXHAUSTED);
    await stillServing();
  });
});

describe('the decision pipeline on its own', () => {
  it('denies a too-deep request with request_invalid and audits it without the document', async () => {
    const context = JSON.parse(deepJson(10_000)) as Record<string, unknown>;
    const decision = await sidecar.server.core.decider.decide({
      token,
      action: 'contacts.read',
      context,
      transport: 'cli',
    });
    expect(decision.allow).toBe(false);
    expect(decision.reasons).toEqual([
      { code: 'request_invalid', message: 'context: nests deeper than 64 levels' },
    ]);
    const record = (await sidecar.auditRecords()).find(
      (r) => r['decision_id'] === decision.decisionId,
    );
    expect(record?.['input']).toEqual({ action: 'contacts.read', transport: 'cli' });
    await expectNoStackOverflow();
  });
});
