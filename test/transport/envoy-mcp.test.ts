// MCP through Envoy: the official SDK client → an Envoy-like HTTP ext_authz gateway → mandate → the official SDK server, and gRPC CheckRequests carrying JSON-RPC bodies, decided per message as the proxy decides them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CheckRequest } from '../../src/gen/envoy/service/auth/v3/external_auth.js';
import type { AuthorizationClient } from '../../src/gen/envoy/service/auth/v3/external_auth.js';
import { startEnvoyGateway, type EnvoyGateway } from '../helpers/envoy-gateway.js';
import { checkRequest, envoyCheck, envoyClient, headerMap } from '../helpers/envoy.js';
import { examplePolicies } from '../helpers/mcp-proxy.js';
import { startMcpUpstream, type McpUpstream } from '../helpers/mcp-upstream.js';
import { startSidecar, type Sidecar } from '../helpers/sidecar.js';
import { ISSUER } from '../helpers/tokens.js';

const MAX_REQUEST_BYTES = 16_384;
const MCP_BODY_LIMIT = 4096;

let upstream: McpUpstream;
let gateway: EnvoyGateway;
let sidecar: Sidecar;
let grpc: AuthorizationClient;
let resourceUri: string;

/** A token for the MCP resource: agent-1 acting for user_8421 in acme_inc. */
function token(scope: string, claims: Record<string, unknown> = {}): Promise<string> {
  return sidecar.token({
    claims: {
      aud: resourceUri,
      sub: 'user_8421',
      client_id: 'agent-1',
      act: { sub: 'agent-1' },
      scope,
      ...claims,
    },
  });
}

async function connect(bearer: string): Promise<Client> {
  const client = new Client({ name: 'test-agent', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(resourceUri), {
      requestInit: { headers: { authorization: `Bearer ${bearer}` } },
    }),
  );
  return client;
}

function call(name: string, args: Record<string, unknown> = {}, id: number | string = 7): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name, arguments: args },
  });
}

/** A POST through the gateway, as a client would send it. */
async function post(body: string, headers: Record<string, string> = {}) {
  const res = await fetch(resourceUri, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body,
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

function jsonRpcError(text: string): { id: unknown; error: { code: number; message: string } } {
  return JSON.parse(text) as { id: unknown; error: { code: number; message: string } };
}

beforeAll(async () => {
  upstream = await startMcpUpstream({ json: true });
  gateway = await startEnvoyGateway({
    upstream: new URL(upstream.url).origin,
    maxRequestBytes: MAX_REQUEST_BYTES,
  });
  resourceUri = `${gateway.url}/mcp`;
  sidecar = await startSidecar({
    policiesDir: examplePolicies(),
    yaml: `
mcp:
  body_limit_bytes: ${MCP_BODY_LIMIT}
  resources:
    - uri: "${resourceUri}"
      authorization_servers: ["${ISSUER}"]
      scopes_supported: ["mcp.tools", "crm.read", "crm.write"]
`,
  });
  gateway.authzBase = `${sidecar.httpUrl}/envoy/authz`;
  grpc = envoyClient(sidecar.grpcTarget);
}, 120_000);

afterAll(async () => {
  grpc?.close();
  await sidecar?.stop();
  await gateway?.close();
  await upstream?.close();
});

describe('the SDK client through Envoy HTTP ext_authz', () => {
  it('calls a tool the policy allows; the upstream runs it with mandate identity headers', async () => {
    const client = await connect(await token('mcp.tools crm.read'));
    try {
      const result = await client.callTool({ name: 'crm.search', arguments: { text: 'ada' } });
      expect((result.content as { text: string }[])[0]?.text).toBe('crm.search:{"text":"ada"}');
      expect(upstream.calls).toContain('crm.search');
      const forwarded = upstream.requests.findLast((r) => r.body.includes('tools/call'));
      expect(forwarded?.headers['x-mandate-subject']).toBe('user_8421');
      expect(forwarded?.headers['x-mandate-client']).toBe('agent-1');
      // No token passthrough: Envoy removes the client's credentials before the upstream.
      expect(forwarded?.headers['authorization']).toBeUndefined();
    } finally {
      await client.close();
    }
  });

  it('refuses a tool the tenant policy denies with 403 and a JSON-RPC error; the upstream never runs it', async () => {
    const client = await connect(await token('mcp.tools crm.read crm.write'));
    const before = upstream.calls.length;
    try {
      const err = await client.callTool({ name: 'crm.delete_contact', arguments: {} }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StreamableHTTPError);
      expect((err as StreamableHTTPError).code).toBe(403);
      expect((err as Error).message).toContain('-32003');
      expect((err as Error).message).toContain("may not call the tool 'crm.delete_contact'");
      // An argument rule denies too: at most 50 results.
      await expect(
        client.callTool({ name: 'crm.search', arguments: { limit: 500 } }),
      ).rejects.toThrow(/at most 50 results/);
      expect(upstream.calls.length).toBe(before);
    } finally {
      await client.close();
    }
  });

  it('answers a missing token with 401 and the RFC 9728 challenge', async () => {
    const res = await post(call('crm.search'));
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(
      `Bearer resource_metadata="${gateway.url}/.well-known/oauth-protected-resource/mcp", scope="mcp.tools crm.read crm.write"`,
    );
    expect(jsonRpcError(res.text).error.code).toBe(-32003);
  });

  it('binds the audience to the resource URI: a token for another API is 401 invalid_token', async () => {
    const res = await post(call('crm.search'), {
      authorization: `Bearer ${await token('mcp.tools crm.read', { aud: 'orders-api' })}`,
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(jsonRpcError(res.text).error.message).toMatch(/audience/);
  });

  it('answers a missing scope with 403 insufficient_scope naming every scope the tool needs', async () => {
    const res = await post(call('crm.delete_contact'), {
      authorization: `Bearer ${await token('mcp.tools crm.read')}`,
    });
    expect(res.status).toBe(403);
    const challenge = res.headers.get('www-authenticate') ?? '';
    expect(challenge).toContain('error="insufficient_scope"');
    expect(challenge).toContain('scope="');
    expect(challenge).toMatch(/crm\.write/);
  });
});

describe('hostile MCP bodies through Envoy HTTP ext_authz', () => {
  let bearer: string;
  beforeAll(async () => {
    bearer = await token('mcp.tools crm.read crm.write');
  });
  const auth = () => ({ authorization: `Bearer ${bearer}` });

  it('decides the tool the body names, whatever a header claims', async () => {
    const before = upstream.calls.length;
    const res = await post(call('crm.delete_contact'), {
      ...auth(),
      'mcp-method': 'tools/call',
      'mcp-name': 'crm.search',
      'x-mcp-tool': 'crm.search',
    });
    expect(res.status).toBe(403);
    expect(jsonRpcError(res.text)).toMatchObject({ id: 7, error: { code: -32003 } });
    expect(upstream.calls.length).toBe(before);
  });

  it('refuses a body another parser could read as another message (the upstream gets the bytes)', async () => {
    const before = upstream.calls.length;
    const cases = [
      // JavaScript keeps the last name (crm.search, allowed); a first-wins parser calls delete.
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"crm.delete_contact","name":"crm.search"}}',
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","method":"tools/call","params":{"name":"crm.search"}}',
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"crm.search","arguments":{"limit":1e400}}}',
    ];
    for (const body of cases) {
      const res = await post(body, auth());
      expect(res.status, body).toBe(400);
      expect(jsonRpcError(res.text).error.code, body).toBe(-32600);
    }
    // Escaped names are names too; the same name twice in different objects is fine.
    const escaped = await post(
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"crm.delete_contact","n\\u0061me":"crm.search"}}',
      auth(),
    );
    expect(escaped.status).toBe(400);
    // Asked of mandate directly: the same name in different objects, and inside a string, is fine.
    const nested = await fetch(`${sidecar.httpUrl}/envoy/authz/mcp`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"crm.search","arguments":{"name":"x","text":"[\\"name\\"]"}}}',
    });
    expect(nested.status).toBe(200);
    expect(upstream.calls.length).toBe(before);
  });

  it('refuses a body Envoy cut at max_request_bytes (x-envoy-auth-partial-body) with 413', async () => {
    const res = await post(call('crm.search', { text: 'x'.repeat(MAX_REQUEST_BYTES) }), auth());
    expect(res.status).toBe(413);
    const body = jsonRpcError(res.text);
    expect(body.error.code).toBe(-32600);
    expect(body.error.message).toMatch(/cut short/);
    expect(JSON.stringify(body)).toContain('request_invalid');
  });

  it('refuses a whole body over mcp.body_limit_bytes with 413', async () => {
    const res = await post(call('crm.search', { text: 'x'.repeat(MCP_BODY_LIMIT) }), auth());
    expect(res.status).toBe(413);
    expect(jsonRpcError(res.text).error.message).toMatch(/exceeds 4096 bytes/);
  });

  it('refuses garbage, a batch, an unknown method and bad params with the proxy’s JSON-RPC codes', async () => {
    const cases: [string, number, number][] = [
      ['{"jsonrpc":"2.0","id":1,"method":', 400, -32700],
      [`[${call('crm.search')}]`, 400, -32600],
      ['{"jsonrpc":"2.0","id":1,"method":"tools/destroy"}', 400, -32601],
      ['{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}', 400, -32602],
      ['"tools/call"', 400, -32600],
    ];
    for (const [body, status, code] of cases) {
      const res = await post(body, auth());
      expect(res.status, body).toBe(status);
      expect(jsonRpcError(res.text).error.code, body).toBe(code);
    }
  });

  it('refuses a body that is not UTF-8 (its replacement characters are not what the upstream reads)', async () => {
    const bytes = Buffer.concat([
      Buffer.from('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo'),
      Buffer.from([0xff]),
      Buffer.from('"}}'),
    ]);
    const res = await fetch(`${sidecar.httpUrl}/envoy/authz/mcp`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: bytes,
    });
    expect(res.status).toBe(400);
    expect(jsonRpcError(await res.text()).error).toMatchObject({
      code: -32700,
      message: 'the body is not UTF-8',
    });
  });

  it('refuses a POST that reached mandate without its body (no with_request_body)', async () => {
    const res = await fetch(`${sidecar.httpUrl}/envoy/authz/mcp`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('with_request_body');
  });

  it('refuses a method override header and a method MCP does not use', async () => {
    const override = await post(call('crm.search'), { ...auth(), 'x-http-method-override': 'GET' });
    expect(override.status).toBe(400);
    const put = await fetch(`${sidecar.httpUrl}/envoy/authz/mcp`, {
      method: 'PUT',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: call('crm.search'),
    });
    expect(put.status).toBe(405);
  });
});

describe('gRPC CheckRequests on an MCP path', () => {
  const message = (body: string | undefined, extra: Record<string, string>, rawBody?: Buffer) => {
    const req = checkRequest({
      method: 'POST',
      path: '/mcp',
      host: new URL(resourceUri).host,
      headers: { 'content-type': 'application/json', 'mcp-session-id': 'sess-grpc-1', ...extra },
      ...(body !== undefined ? { body } : {}),
    });
    if (rawBody === undefined) return req;
    // Envoy's pack_as_bytes: the body as bytes in raw_body, `body` left empty.
    const http = req.attributes?.request?.http;
    return CheckRequest.fromPartial({
      ...req,
      attributes: {
        ...req.attributes,
        request: { ...req.attributes?.request, http: { ...http, rawBody } },
      },
    });
  };

  it('allows a permitted tool and denies another, in MCP terms', async () => {
    const auth = { authorization: `Bearer ${await token('mcp.tools crm.read crm.write')}` };
    const ok = await envoyCheck(grpc, message(call('crm.search'), auth));
    expect(ok.status?.code).toBe(0);
    expect(headerMap(ok.okResponse?.headers)['x-mandate-subject']).toBe('user_8421');
    expect(ok.okResponse?.headersToRemove).toEqual(
      expect.arrayContaining(['authorization', 'dpop', 'cookie']),
    );
    const denied = await envoyCheck(grpc, message(call('crm.delete_contact', {}, 'a'), auth));
    expect(denied.status?.code).toBe(7);
    expect(denied.deniedResponse?.status?.code).toBe(403);
    expect(jsonRpcError(denied.deniedResponse?.body ?? '')).toMatchObject({
      id: 'a',
      error: { code: -32003 },
    });
  });

  it('reads raw_body (pack_as_bytes) as the message; base64 text in it is not a message', async () => {
    const auth = { authorization: `Bearer ${await token('mcp.tools crm.read crm.write')}` };
    const raw = await envoyCheck(grpc, message(undefined, auth, Buffer.from(call('crm.search'))));
    expect(raw.status?.code).toBe(0);
    const rawDenied = await envoyCheck(
      grpc,
      message(undefined, auth, Buffer.from(call('crm.delete_contact'))),
    );
    expect(rawDenied.deniedResponse?.status?.code).toBe(403);
    const base64 = Buffer.from(Buffer.from(call('crm.search')).toString('base64'));
    const encoded = await envoyCheck(grpc, message(undefined, auth, base64));
    expect(encoded.status?.code).toBe(7);
    expect(encoded.deniedResponse?.status?.code).toBe(400);
    expect(jsonRpcError(encoded.deniedResponse?.body ?? '').error.code).toBe(-32700);
    const notUtf8 = Buffer.concat([Buffer.from(call('echo')).subarray(0, 60), Buffer.from([0xc3])]);
    const invalid = await envoyCheck(grpc, message(undefined, auth, notUtf8));
    expect(jsonRpcError(invalid.deniedResponse?.body ?? '').error.message).toBe(
      'the body is not UTF-8',
    );
  });

  it('refuses a partial body and answers a missing token with the challenge', async () => {
    const auth = { authorization: `Bearer ${await token('mcp.tools crm.read')}` };
    const partial = await envoyCheck(
      grpc,
      message(call('crm.search'), { ...auth, 'x-envoy-auth-partial-body': 'true' }),
    );
    expect(partial.deniedResponse?.status?.code).toBe(413);
    const truncated = await envoyCheck(
      grpc,
      message('{"jsonrpc":"2.0","id":1', { ...auth, 'content-length': '4000' }),
    );
    expect(truncated.deniedResponse?.status?.code).toBe(413);
    const anonymous = await envoyCheck(grpc, message(call('crm.search'), {}));
    expect(anonymous.status?.code).toBe(16);
    expect(headerMap(anonymous.deniedResponse?.headers)['www-authenticate']).toContain(
      'resource_metadata=',
    );
  });

  it('records the MCP facts of each decision in the audit log', async () => {
    await envoyCheck(
      grpc,
      message(call('crm.search'), {
        authorization: `Bearer ${await token('mcp.tools crm.read')}`,
      }),
    );
    const records = await sidecar.auditRecords();
    const record = records.findLast(
      (r) =>
        r['transport'] === 'envoy_grpc' &&
        (r['mcp'] as { session_id?: string })?.session_id === 'sess-grpc-1',
    );
    expect(record).toMatchObject({
      action: 'mcp.tools/call',
      resource: { type: 'tool', id: 'crm.search' },
      tenant: 'acme_inc',
      sub: 'user_8421',
      client_id: 'agent-1',
      act: ['agent-1'],
      mcp: { method: 'tools/call', session_id: 'sess-grpc-1', resource_uri: resourceUri },
    });
  });
});
