// The OPA-Envoy input document, field by field, against what opa-envoy-plugin v1.19.1 builds for the same CheckRequest.
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { CheckRequest } from '../../src/gen/envoy/service/auth/v3/external_auth.js';
import { envoyCallOf } from '../../src/transport/envoy/grpc.js';
import { registerEnvoyHttpRoutes } from '../../src/transport/envoy/http.js';
import { compatDocumentOf, type EnvoyCall } from '../../src/transport/envoy/input.js';

// Each expectation below was produced by opa-envoy-plugin v1.19.1's RequestToInput for the same
// request (then ast.InterfaceToValue, i.e. the value a policy sees), and written here as data.

type Partial = Parameters<typeof CheckRequest.fromPartial>[0];

/** The document for a CheckRequest that went over the wire (encoded and decoded, as Envoy's would). */
function documentOf(request: Partial, parseBody = true) {
  const wire = CheckRequest.encode(CheckRequest.fromPartial(request)).finish();
  return compatDocumentOf(envoyCallOf(CheckRequest.decode(wire)), parseBody);
}

function inputOf(request: Partial, parseBody = true): Record<string, unknown> {
  const doc = documentOf(request, parseBody);
  if (!doc.ok) throw new Error(`expected a document, got: ${doc.message}`);
  // What the policy receives is JSON.
  return JSON.parse(JSON.stringify(doc.input)) as Record<string, unknown>;
}

function errorOf(request: Partial): string {
  const doc = documentOf(request);
  if (doc.ok) throw new Error(`expected a refusal, got ${JSON.stringify(doc.input)}`);
  return doc.message;
}

const VERSION = { encoding: 'protojson', ext_authz: 'v3' };
const http = (h: Record<string, unknown>): Partial => ({ attributes: { request: { http: h } } });

describe('input.attributes', () => {
  it('is the whole CheckRequest as OPA-Envoy maps it: int64 as numbers, time as {seconds, nanos}, maps and empty messages', () => {
    const path = '/people/a%20b?x=1&x=2&y=a+b';
    const input = inputOf({
      attributes: {
        source: {
          address: { socketAddress: { address: '10.0.0.1', portValue: 51234 } },
          principal: 'spiffe://cluster.local/ns/default/sa/client',
        },
        destination: { address: { socketAddress: { address: '10.0.0.2', portValue: 8080 } } },
        request: {
          time: { seconds: 1714564800, nanos: 123456789 },
          http: {
            id: '123',
            method: 'POST',
            headers: {
              ':authority': 'app',
              ':method': 'POST',
              ':path': path,
              'content-type': 'application/json',
              'content-length': '5',
            },
            path,
            host: 'app',
            scheme: 'http',
            size: 5,
            protocol: 'HTTP/1.1',
            body: '[1,2]',
          },
        },
        contextExtensions: { k: 'v' },
        metadataContext: {},
        routeMetadataContext: { filterMetadata: { f: { a: 1, b: 'x' } } },
      },
    });
    expect(input).toEqual({
      attributes: {
        contextExtensions: { k: 'v' },
        destination: { address: { socketAddress: { address: '10.0.0.2', portValue: 8080 } } },
        metadataContext: {},
        request: {
          http: {
            body: '[1,2]',
            headers: {
              ':authority': 'app',
              ':method': 'POST',
              ':path': '/people/a%20b?x=1&x=2&y=a+b',
              'content-length': '5',
              'content-type': 'application/json',
            },
            host: 'app',
            id: '123',
            method: 'POST',
            path: '/people/a%20b?x=1&x=2&y=a+b',
            protocol: 'HTTP/1.1',
            scheme: 'http',
            size: 5,
          },
          time: { nanos: 123456789, seconds: 1714564800 },
        },
        routeMetadataContext: { filterMetadata: { f: { a: 1, b: 'x' } } },
        source: {
          address: { socketAddress: { address: '10.0.0.1', portValue: 51234 } },
          principal: 'spiffe://cluster.local/ns/default/sa/client',
        },
      },
      parsed_body: [1, 2],
      parsed_path: ['people', 'a b'],
      parsed_query: { x: ['1', '2'], y: ['a b'] },
      source_principal: 'spiffe://cluster.local/ns/default/sa/client',
      truncated_body: false,
      version: VERSION,
    });
  });

  it('shows size as a number, so a numeric comparison on it means what it says', () => {
    const input = inputOf(http({ method: 'POST', path: '/', size: 5 }));
    const size = (input['attributes'] as { request: { http: { size: unknown } } }).request.http
      .size;
    expect(size).toBe(5);
  });

  it('shows enums as numbers, a oneof port of 0, an empty TLS session, bytes as base64; a time at 0 seconds has only nanos', () => {
    const input = inputOf({
      attributes: {
        source: { address: { socketAddress: { protocol: 1, address: '::1', portValue: 0 } } },
        tlsSession: {},
        request: {
          time: { seconds: 0, nanos: 5 },
          http: {
            method: 'POST',
            path: '/f',
            headers: { 'content-type': 'text/plain' },
            body: 'hi',
            rawBody: Buffer.from('hi'),
            headerMap: { headers: [{ key: 'a', rawValue: Buffer.from('b') }] },
          },
        },
      },
    });
    expect(input['attributes']).toEqual({
      request: {
        time: { nanos: 5 },
        http: {
          body: 'hi',
          headerMap: { headers: [{ key: 'a', rawValue: 'Yg==' }] },
          headers: { 'content-type': 'text/plain' },
          method: 'POST',
          path: '/f',
          rawBody: 'aGk=',
        },
      },
      source: { address: { socketAddress: { address: '::1', portValue: 0, protocol: 1 } } },
      tlsSession: {},
    });
    expect(input['parsed_body']).toBeNull();
    expect(input).not.toHaveProperty('source_principal');
  });
});

describe('parsed_path and parsed_query', () => {
  it('splits at the first ? only: a # is data, in the path or in a query value', () => {
    expect(inputOf(http({ method: 'GET', path: '/p#frag?a=1' }))).toMatchObject({
      parsed_path: ['p#frag'],
      parsed_query: { a: ['1'] },
    });
    expect(inputOf(http({ method: 'GET', path: '/p?a=1#f' }))).toMatchObject({
      parsed_path: ['p'],
      parsed_query: { a: ['1#f'] },
    });
  });

  it('keeps empty segments and gives [""] for an empty path', () => {
    expect(inputOf(http({ method: 'GET', path: '/a//b/' }))['parsed_path']).toEqual([
      'a',
      '',
      'b',
      '',
    ]);
    expect(inputOf(http({ method: 'GET', path: '' }))).toMatchObject({
      parsed_path: [''],
      parsed_query: {},
    });
  });

  it('refuses a path or query that does not decode, and a ; in the query', () => {
    expect(errorOf(http({ method: 'GET', path: '/people/%zz' }))).toContain(
      'invalid URL escape "%zz"',
    );
    expect(errorOf(http({ method: 'GET', path: '/p?a=1;b=2' }))).toContain(
      'invalid semicolon separator in query',
    );
    expect(errorOf(http({ method: 'GET', path: '/p?a=%zz&b=1' }))).toContain(
      'invalid URL escape "%zz"',
    );
    expect(errorOf(http({ method: 'GET', path: '/p?a=%4' }))).toContain('invalid URL escape');
    expect(errorOf(http({ method: 'GET', path: `/p?${'a&'.repeat(10_000)}` }))).toContain(
      'exceeded limit',
    );
  });
});

describe('parsed_body and truncated_body', () => {
  const post = (headers: Record<string, string>, body: string, extra: object = {}) =>
    http({ method: 'POST', path: '/f', headers, body, ...extra });

  it('parses form bodies with Go ParseQuery and refuses a ; in them', () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    expect(inputOf(post(form, 'a=1&a=2&b=x+y'))['parsed_body']).toEqual({
      a: ['1', '2'],
      b: ['x y'],
    });
    expect(errorOf(post(form, 'a=1;b=2'))).toContain('invalid semicolon separator in query');
  });

  it('parses multipart/form-data: every named part, JSON parts as JSON, files as text', () => {
    const body = [
      '--XX',
      'Content-Disposition: form-data; name="a"',
      '',
      'hello',
      '--XX',
      'Content-Disposition: form-data; name="j"',
      'Content-Type: application/json',
      '',
      '{"k":[1,2]}',
      '--XX',
      'Content-Disposition: form-data; name="a"; filename="f.txt"',
      '',
      'file',
      '--XX--',
      '',
    ].join('\r\n');
    expect(
      inputOf(post({ 'content-type': 'multipart/form-data; boundary=XX' }, body))['parsed_body'],
    ).toEqual({ a: ['hello', 'file'], j: [{ k: [1, 2] }] });
    expect(
      inputOf(post({ 'content-type': 'multipart/form-data' }, body))['parsed_body'],
    ).toBeNull();
    expect(
      errorOf(post({ 'content-type': 'multipart/form-data; boundary=XX' }, 'no parts')),
    ).toMatch(/multipart/);
  });

  it('marks a body truncated by Content-Length or by x-envoy-auth-partial-body, without parsing it', () => {
    expect(
      inputOf(post({ 'content-type': 'application/json', 'content-length': '100' }, '{"a":')),
    ).toMatchObject({ parsed_body: null, truncated_body: true });
    expect(
      inputOf(
        post(
          { 'content-type': 'application/json', 'x-envoy-auth-partial-body': 'true' },
          '{"a":1}',
        ),
      ),
    ).toMatchObject({ parsed_body: null, truncated_body: true });
  });

  it('refuses a Content-Length that is not an integer and JSON with trailing data', () => {
    expect(
      errorOf(post({ 'content-type': 'application/json', 'content-length': 'abc' }, '{"a":1}')),
    ).toContain('content-length');
    expect(errorOf(post({ 'content-type': 'application/json' }, '{"a":1} x'))).toContain(
      'not valid JSON',
    );
  });

  it('matches content types case-sensitively, reads raw_body when body is empty', () => {
    expect(
      inputOf(post({ 'content-type': 'Application/JSON' }, '{"a":1}'))['parsed_body'],
    ).toBeNull();
    const raw = inputOf(
      http({
        method: 'POST',
        path: '',
        headers: { 'content-type': 'application/json' },
        rawBody: Buffer.from('{"a":1}'),
      }),
    );
    expect(raw).toMatchObject({ parsed_body: { a: 1 }, truncated_body: false });
  });

  it('leaves parsed_body and truncated_body out when body parsing is off', () => {
    const input = inputOf(post({ 'content-type': 'application/json' }, '{"a":1}'), false);
    expect(input).not.toHaveProperty('parsed_body');
    expect(input).not.toHaveProperty('truncated_body');
    expect(input).toMatchObject({ parsed_path: ['f'], version: VERSION });
  });
});

describe('HTTP ext_authz mode', () => {
  it('builds the attributes gRPC would carry for the same request, and no peer it cannot know', async () => {
    let seen: EnvoyCall | undefined;
    const app = Fastify();
    registerEnvoyHttpRoutes(
      app,
      {
        async authorize(c) {
          seen = c;
          return { kind: 'error', decisionId: 'd', message: 'captured' };
        },
      },
      { prefix: '/envoy/authz', bodyLimitBytes: 1024 },
    );
    const before = Math.floor(Date.now() / 1000);
    await app.inject({
      method: 'POST',
      url: '/envoy/authz/people?lang=en',
      headers: {
        host: 'app.example',
        'content-type': 'application/json',
        'x-request-id': 'r-1',
        'x-forwarded-proto': 'https',
      },
      payload: '{"a":"hello"}',
    });
    await app.close();
    if (seen === undefined) throw new Error('no call');
    const doc = compatDocumentOf(seen, true);
    if (!doc.ok) throw new Error(doc.message);
    const input = JSON.parse(JSON.stringify(doc.input)) as {
      attributes: { request: { time: { seconds: number }; http: Record<string, unknown> } };
    };
    expect(Object.keys(input.attributes)).toEqual(['request']);
    const { time, http: h } = input.attributes.request;
    expect(time.seconds).toBeGreaterThanOrEqual(before);
    expect(h).toEqual({
      id: 'r-1',
      method: 'POST',
      headers: expect.objectContaining({
        ':authority': 'app.example',
        ':method': 'POST',
        ':path': '/people?lang=en',
        'content-type': 'application/json',
        'x-request-id': 'r-1',
      }),
      path: '/people?lang=en',
      host: 'app.example',
      scheme: 'https',
      size: 13,
      body: '{"a":"hello"}',
    });
    expect(h['headers']).not.toHaveProperty('host');
    expect(input).toMatchObject({
      parsed_path: ['people'],
      parsed_query: { lang: ['en'] },
      parsed_body: { a: 'hello' },
      truncated_body: false,
      version: VERSION,
    });
    expect(input).not.toHaveProperty('source_principal');
  });
});

describe('numbers in JSON bodies', () => {
  it('refuses an integer beyond ±2^53, which OPA-Envoy would keep exact and a double would round', () => {
    const json = { 'content-type': 'application/json' };
    const body = (text: string) => http({ method: 'POST', path: '/f', headers: json, body: text });
    expect(errorOf(body('{"a":12345678901234567890}'))).toContain('beyond ±2^53');
    expect(errorOf(body('[1, -9007199254740993]'))).toContain('beyond ±2^53');
    expect(errorOf(body('{"a":1e300}'))).toContain('beyond ±2^53');
    // Numbers inside strings are text, and safe integers are kept as they are.
    expect(
      inputOf(body('{"a":"12345678901234567890","b":9007199254740991,"c":-0.5}')),
    ).toMatchObject({ parsed_body: { a: '12345678901234567890', b: 9007199254740991, c: -0.5 } });
  });
});
