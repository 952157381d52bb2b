// No credential reaches any audit output: tokens as keys or values of context, attributes, bodies, queries and headers, through every sink and the query API.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, credentials, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuthorizerClient,
  CheckRequest,
  type CheckResponse,
  type DeepPartial,
} from '../../src/gen/mandate/v1/authorizer.js';
import { startCollector, type Collector } from '../helpers/collector.js';
import { envoyHttp } from '../helpers/envoy.js';
import { ADMIN_TOKEN, postCheck, startSidecar, type Sidecar } from '../helpers/sidecar.js';
import { createTestKey, signToken } from '../helpers/tokens.js';
import { COMPAT_YAML } from '../integration/envoy-config.js';

let collector: Collector;
let sidecar: Sidecar;
let grpc: AuthorizerClient;
let dir: string;
const since = new Date(Date.now() - 60_000).toISOString();

beforeAll(async () => {
  collector = await startCollector();
  dir = mkdtempSync(join(tmpdir(), 'mandate-leaks-'));
  sidecar = await startSidecar({
    yaml: COMPAT_YAML,
    audit: `{ sinks: [
      { driver: file, path: "${dir}/audit.jsonl" },
      { driver: file, name: opa-file, format: opa, path: "${dir}/opa.jsonl" },
      { driver: http, url: "${collector.url}", batch_max_delay_ms: 20, backoff_min_ms: 20, backoff_max_ms: 200,
        spool: { dir: "${dir}/spool" } } ],
      ring_size: 1000 }`,
  });
  grpc = new AuthorizerClient(sidecar.grpcTarget, credentials.createInsecure());
});

afterAll(async () => {
  grpc?.close();
  await sidecar?.stop();
  await collector?.close();
});

/** A second token, signed by the test issuer, that is only ever sent as data (never as the bearer). */
function secretToken(): Promise<string> {
  return sidecar.token({ claims: { sub: 'pasted-user', scope: 'everything' } });
}

/** Bearer header for a fresh token of the default subject. */
async function bearer(scope = 'contacts.read'): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await sidecar.token({ claims: { scope } })}` };
}

async function adminGet(path: string): Promise<string> {
  const res = await fetch(`${sidecar.adminUrl}${path}`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  expect(res.status).toBe(200);
  return res.text();
}

/**
 * Every output the decision reached, as text: the mandate file, the OPA file, the collector, the
 * query API from the ring and from the file. Each must hold the decision (so a missing record
 * cannot pass as a clean one).
 */
async function outputsOf(decisionId: string): Promise<Record<string, string>> {
  await sidecar.auditRecords(); // flushes every sink
  const deadline = Date.now() + 20_000;
  while (!collector.events.some((e) => e['decision_id'] === decisionId)) {
    if (Date.now() > deadline) throw new Error(`no collector event for ${decisionId}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const line = (path: string) =>
    readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l.includes(decisionId))
      .join('\n');
  const outputs = {
    'mandate file': line(`${dir}/audit.jsonl`),
    'opa file': line(`${dir}/opa.jsonl`),
    collector: JSON.stringify(collector.events.filter((e) => e['decision_id'] === decisionId)),
    'query api (ring)': await adminGet(`/v1/decisions?decision_id=${decisionId}&source=ring`),
    'query api (file)': await adminGet(
      `/v1/decisions?decision_id=${decisionId}&source=file&since=${since}`,
    ),
  };
  for (const [where, text] of Object.entries(outputs)) {
    expect(text, `${where} holds the decision`).toContain(decisionId);
  }
  return outputs;
}

/** Asserts none of `secrets` is in any output of the decision; returns the decision's mandate record. */
async function expectNowhere(
  decisionId: unknown,
  secrets: readonly string[],
): Promise<Record<string, unknown>> {
  expect(decisionId).toEqual(expect.any(String));
  const outputs = await outputsOf(decisionId as string);
  for (const [where, text] of Object.entries(outputs)) {
    for (const secret of secrets) {
      expect(text.includes(secret), `a credential in the ${where}`).toBe(false);
    }
  }
  return JSON.parse(outputs['mandate file'] as string) as Record<string, unknown>;
}

/** The token and its signature: either alone is a leak. */
const partsOf = (token: string) => [token, token.split('.')[2] as string];

function grpcCheck(request: DeepPartial<CheckRequest>, token: string): Promise<CheckResponse> {
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  return new Promise((resolve, reject) =>
    grpc.check(CheckRequest.fromPartial(request), metadata, (err: ServiceError | null, res) =>
      err || !res ? reject(err) : resolve(res),
    ),
  );
}

describe('a token used as an object key is masked in every sink and the query API', () => {
  it('a key of context', async () => {
    const pasted = await secretToken();
    const { body } = await postCheck(
      sidecar,
      { action: 'contacts.read', context: { [pasted]: 'x' } },
      await bearer(),
    );
    const record = await expectNowhere(body['decision_id'], partsOf(pasted));
    expect(record['input']).toMatchObject({ context: { '[credential]': 'x' } });
    expect(record['masked']).toEqual(['/input/context/[credential]']);
  });

  it('a key deep inside context, under arrays and objects', async () => {
    const pasted = await secretToken();
    let deep: unknown = { [pasted]: { leaf: 1 } };
    for (let i = 0; i < 20; i++) deep = i % 2 === 0 ? [deep] : { level: deep };
    const { body } = await postCheck(
      sidecar,
      { action: 'contacts.read', context: { deep } },
      await bearer(),
    );
    const record = await expectNowhere(body['decision_id'], partsOf(pasted));
    expect(JSON.stringify(record['masked'])).toContain('[credential]');
  });

  it('a key of resource attributes', async () => {
    const pasted = await secretToken();
    const { body } = await postCheck(
      sidecar,
      {
        action: 'contacts.read',
        resource: { type: 'contact', id: 'c1', attributes: { [pasted]: true, owner: 'u' } },
      },
      await bearer(),
    );
    const record = await expectNowhere(body['decision_id'], partsOf(pasted));
    expect(record['input']).toMatchObject({
      resource: { attributes: { '[credential]': true, owner: 'u' } },
    });
  });

  it('a Bearer credential as a key of context', async () => {
    const secret = `opaque-${Math.random().toString(36).slice(2)}-secret`;
    const { body } = await postCheck(
      sidecar,
      { action: 'contacts.read', context: { headers: { [`Bearer ${secret}`]: 1 } } },
      await bearer(),
    );
    await expectNowhere(body['decision_id'], [secret]);
  });

  it('a token inside a longer key, and two tokens as keys of one object', async () => {
    const [a, b] = [await secretToken(), await secretToken()];
    const { body } = await postCheck(
      sidecar,
      { action: 'contacts.read', context: { [`cb?t=${a}`]: 1, [b]: 2, [a]: 3 } },
      await bearer(),
    );
    const record = await expectNowhere(body['decision_id'], [...partsOf(a), ...partsOf(b)]);
    expect((record['input'] as { context: object }).context).toEqual({
      'cb?t=[credential]': 1,
      '[credential]': 2,
    });
  });

  it('a key of a context over gRPC', async () => {
    const pasted = await secretToken();
    const res = await grpcCheck(
      { action: 'contacts.read', context: { [pasted]: { nested: pasted } } },
      await sidecar.token({ claims: { scope: 'contacts.read' } }),
    );
    await expectNowhere(res.decisionId, partsOf(pasted));
  });

  it("a key of an Envoy request's parsed JSON body", async () => {
    const pasted = await secretToken();
    const res = await envoyHttp(sidecar.httpUrl, {
      method: 'POST',
      path: '/payments',
      headers: { ...(await bearer()), 'content-type': 'application/json' },
      body: JSON.stringify({ amount: 5, nested: { [pasted]: 1 } }),
    });
    expect(res.status).toBe(200);
    const record = await expectNowhere(res.headers.get('x-mandate-decision-id'), partsOf(pasted));
    expect(JSON.stringify(record['input'])).toContain('"parsed_body"');
  });

  it("a key of an Envoy request's parsed form body", async () => {
    const pasted = await secretToken();
    const res = await envoyHttp(sidecar.httpUrl, {
      method: 'POST',
      path: '/forms',
      headers: { ...(await bearer()), 'content-type': 'application/x-www-form-urlencoded' },
      body: `kind=ok&${pasted}=1`,
    });
    expect(res.status).toBe(200);
    await expectNowhere(res.headers.get('x-mandate-decision-id'), partsOf(pasted));
  });

  it("a key of an Envoy request's parsed query", async () => {
    const pasted = await secretToken();
    const res = await envoyHttp(sidecar.httpUrl, {
      method: 'GET',
      path: `/headercheck?${pasted}=1&q=x`,
      headers: { ...(await bearer()), 'x-ext-auth-allow': 'yes' },
    });
    expect(res.status).toBe(200);
    const record = await expectNowhere(res.headers.get('x-mandate-decision-id'), partsOf(pasted));
    expect(JSON.stringify(record['input'])).toContain('"parsed_query"');
  });
});

describe('a token as a value is masked in every sink and the query API', () => {
  it('a value of context, alone and inside a longer string', async () => {
    const pasted = await secretToken();
    const { body } = await postCheck(
      sidecar,
      { action: 'contacts.read', context: { token: pasted, note: `see ${pasted} here` } },
      await bearer(),
    );
    const record = await expectNowhere(body['decision_id'], partsOf(pasted));
    expect(record['input']).toMatchObject({
      context: { token: '[credential]', note: 'see [credential] here' },
    });
  });

  it('a value of resource attributes, in an array', async () => {
    const pasted = await secretToken();
    const { body } = await postCheck(
      sidecar,
      {
        action: 'contacts.read',
        resource: { type: 'contact', attributes: { list: ['a', pasted] } },
      },
      await bearer(),
    );
    await expectNowhere(body['decision_id'], partsOf(pasted));
  });

  it('the resource id', async () => {
    const pasted = await secretToken();
    const { body } = await postCheck(
      sidecar,
      { action: 'contacts.read', resource: { type: 'contact', id: pasted } },
      await bearer(),
    );
    const record = await expectNowhere(body['decision_id'], partsOf(pasted));
    expect(record['resource']).toEqual({ type: 'contact', id: '[credential]' });
  });

  it('the requested tenant (a credential pasted where the tenant goes)', async () => {
    const secret = `opaque-${Math.random().toString(36).slice(2)}`;
    const { body } = await postCheck(
      sidecar,
      { action: 'contacts.read', tenant: `Bearer ${secret}` },
      await bearer(),
    );
    expect(body['reasons']).toEqual([expect.objectContaining({ code: 'tenant_mismatch' })]);
    await expectNowhere(body['decision_id'], [secret]);
  });

  it('Authorization, Cookie and X-Api-Key headers copied into context are erased', async () => {
    const pasted = await secretToken();
    const { body } = await postCheck(
      sidecar,
      {
        action: 'contacts.read',
        context: {
          headers: {
            Authorization: `Bearer ${pasted}`,
            cookie: `session=${pasted}`,
            'X-Api-Key': 'key-0123456789abcdef-secret',
          },
        },
      },
      await bearer(),
    );
    const record = await expectNowhere(body['decision_id'], [
      ...partsOf(pasted),
      'key-0123456789abcdef-secret',
    ]);
    expect(record['erased']).toEqual([
      '/input/context/headers/Authorization',
      '/input/context/headers/cookie',
      '/input/context/headers/X-Api-Key',
    ]);
  });

  it('a Basic credential and a Bearer value in context', async () => {
    const basic = Buffer.from(`agent:${Math.random()}-password`).toString('base64');
    const { body } = await postCheck(
      sidecar,
      {
        action: 'contacts.read',
        context: { a: `Basic ${basic}`, b: ['Bearer opaque-abcdef0123'] },
      },
      await bearer(),
    );
    await expectNowhere(body['decision_id'], [basic, 'opaque-abcdef0123']);
  });

  it('the x-request-id header', async () => {
    const pasted = await secretToken();
    const { body } = await postCheck(
      sidecar,
      { action: 'contacts.read' },
      { ...(await bearer()), 'x-request-id': pasted },
    );
    const record = await expectNowhere(body['decision_id'], partsOf(pasted));
    expect(record['request_id']).toBe('[credential]');
  });

  it('a token inside a claim of the bearer token', async () => {
    const pasted = await secretToken();
    const token = await sidecar.token({ claims: { scope: 'contacts.read', note: pasted } });
    const { body } = await postCheck(
      sidecar,
      { action: 'contacts.read' },
      { authorization: `Bearer ${token}` },
    );
    expect(body['allow']).toBe(true);
    await expectNowhere(body['decision_id'], [...partsOf(pasted), ...partsOf(token)]);
  });

  it('the bearer token itself, allowed, denied and unverifiable (only its hash is kept)', async () => {
    const good = await sidecar.token({ claims: { scope: 'contacts.read' } });
    const forged = await signToken(await createTestKey('ES256', sidecar.key.kid), {
      claims: { tenant: 'acme_inc' },
    });
    for (const [token, allow] of [
      [good, true],
      [forged, false],
    ] as const) {
      const { body } = await postCheck(
        sidecar,
        { action: 'contacts.read' },
        { authorization: `Bearer ${token}` },
      );
      expect(body['allow']).toBe(allow);
      const record = await expectNowhere(body['decision_id'], partsOf(token));
      expect(record['token_hash']).toMatch(/^[0-9a-f]{16}$/);
    }
  });

  it("an Envoy request's path, query, JSON body and Authorization header", async () => {
    const pasted = await secretToken();
    const auth = await bearer();
    const res = await envoyHttp(sidecar.httpUrl, {
      method: 'POST',
      path: `/payments?t=${pasted}`,
      headers: { ...auth, 'content-type': 'application/json', cookie: `s=${pasted}` },
      body: JSON.stringify({ amount: 5, token: pasted }),
    });
    expect(res.status).toBe(200);
    const bearerToken = (auth['authorization'] as string).slice('Bearer '.length);
    await expectNowhere(res.headers.get('x-mandate-decision-id'), [
      ...partsOf(pasted),
      ...partsOf(bearerToken),
    ]);
  });

  it("an Envoy request's custom header carrying a token, and its mixed-case name", async () => {
    const pasted = await secretToken();
    const res = await envoyHttp(sidecar.httpUrl, {
      method: 'GET',
      path: '/headercheck',
      headers: { ...(await bearer()), 'x-ext-auth-allow': 'yes', 'X-Forwarded-Token': pasted },
    });
    expect(res.status).toBe(200);
    await expectNowhere(res.headers.get('x-mandate-decision-id'), partsOf(pasted));
  });

  it('the token of a request Envoy denies, and its path', async () => {
    const pasted = await secretToken();
    const res = await envoyHttp(sidecar.httpUrl, {
      method: 'GET',
      path: `/${pasted}`,
      headers: await bearer(),
    });
    expect(res.status).toBe(403);
    const decisionId = (JSON.parse(res.text) as { decision_id?: string }).decision_id;
    await expectNowhere(decisionId ?? res.headers.get('x-mandate-decision-id'), partsOf(pasted));
  });
});
