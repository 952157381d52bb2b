// mandate proxy on the wire: RFC 9728 metadata, 401 challenges, audience binding, bad input, Host/Origin, GET and DELETE.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMcpUpstream, type McpUpstream } from '../../helpers/mcp-upstream.js';
import { startMcpProxyUnderTest, type McpProxyUnderTest } from '../../helpers/mcp-proxy.js';

const INIT = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: '2025-11-25',
    capabilities: {},
    clientInfo: { name: 'raw', version: '1' },
  },
});

let upstream: McpUpstream;
let target: McpProxyUnderTest;

beforeAll(async () => {
  upstream = await startMcpUpstream({ json: true });
  target = await startMcpProxyUnderTest({ upstream: upstream.url });
});
afterAll(async () => {
  await target.stop();
  await upstream.close();
});

async function post(body: string, headers: Record<string, string> = {}) {
  const res = await fetch(target.resourceUri, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body,
  });
  return {
    status: res.status,
    headers: res.headers,
    body: (await res.json()) as Record<string, unknown>,
  };
}

/** Initializes a session with this token through the proxy; its id. */
async function openSession(token: string): Promise<string> {
  const init = await post(INIT, { authorization: `Bearer ${token}` });
  const session = init.headers.get('mcp-session-id') ?? '';
  expect(session).not.toBe('');
  return session;
}

/** A raw request with a Host header of our choosing (fetch does not let one be set). */
function rawPost(host: string, origin?: string): Promise<number> {
  const url = new URL(target.resourceUri);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: {
          host,
          'content-type': 'application/json',
          ...(origin ? { origin } : {}),
        },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end(INIT);
  });
}

describe('protected resource metadata (RFC 9728)', () => {
  it('is served at the path-suffixed well-known URI and at the bare one', async () => {
    for (const path of [
      '/.well-known/oauth-protected-resource/mcp',
      '/.well-known/oauth-protected-resource',
    ]) {
      const res = await fetch(`${target.baseUrl}${path}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        resource: target.resourceUri,
        authorization_servers: ['https://issuer.example'],
        scopes_supported: ['mcp.tools', 'crm.read', 'crm.write', 'offline_access'],
        bearer_methods_supported: ['header'],
        resource_name: 'CRM tools',
      });
    }
  });
});

describe('challenges', () => {
  it('answers a message without a token with 401 naming the metadata and the scopes, never offline_access', async () => {
    const res = await post(INIT);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(
      `Bearer resource_metadata="${target.baseUrl}/.well-known/oauth-protected-resource/mcp", scope="mcp.tools crm.read crm.write"`,
    );
  });

  it('refuses a token for another API of the same issuer as invalid_token (RFC 8707), before any policy', async () => {
    const calls = upstream.requests.length;
    const res = await post(INIT, {
      authorization: `Bearer ${await target.token('mcp.tools', { claims: { aud: 'orders-api' } })}`,
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(
      (res.body['error'] as { data: { reasons: { code: string }[] } }).data.reasons[0]?.code,
    ).toBe('audience_mismatch');
    expect(upstream.requests.length).toBe(calls);
  });

  it('audits each decision with the MCP method, the tool and the session', async () => {
    const token = await target.token('mcp.tools crm.read');
    const session = await openSession(token);
    await post(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'echo', arguments: { text: 'hi' } },
      }),
      {
        authorization: `Bearer ${token}`,
        'mcp-session-id': session,
        'mcp-protocol-version': '2025-11-25',
      },
    );
    const records = await target.auditRecords();
    const call = records.find(
      (r) => r['action'] === 'mcp.tools/call' && (r['resource'] as { id?: string })?.id === 'echo',
    );
    expect(call).toMatchObject({
      transport: 'mcp',
      allow: true,
      resource: { type: 'tool', id: 'echo' },
      sub: 'user_8421',
      tenant: 'acme_inc',
      act: ['agent-1'],
    });
    expect((call?.['input'] as { context: { mcp: unknown } }).context.mcp).toEqual({
      resource: target.resourceUri,
      method: 'tools/call',
      arguments: { text: 'hi' },
      session_id: session,
      protocol_version: '2025-11-25',
    });
  });
});

describe('bad input is refused with a JSON-RPC error and never forwarded', () => {
  const cases: [string, string, number, number][] = [
    ['malformed JSON', '{"jsonrpc":"2.0",', 400, -32700],
    ['a batch', `[${INIT}]`, 400, -32600],
    [
      'an unknown method',
      '{"jsonrpc":"2.0","id":3,"method":"tools/delete_everything"}',
      400,
      -32601,
    ],
    [
      'a server-only method',
      '{"jsonrpc":"2.0","id":3,"method":"sampling/createMessage","params":{}}',
      400,
      -32601,
    ],
    [
      'tools/call without a name',
      '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{}}',
      400,
      -32602,
    ],
    ['a wrong jsonrpc version', '{"jsonrpc":"1.0","id":5,"method":"ping"}', 400, -32600],
    ['a null id', '{"jsonrpc":"2.0","id":null,"method":"ping"}', 400, -32600],
    [
      'params that are not an object',
      '{"jsonrpc":"2.0","id":6,"method":"ping","params":[1]}',
      400,
      -32602,
    ],
  ];
  for (const [name, body, status, code] of cases) {
    it(name, async () => {
      const before = upstream.requests.length;
      const res = await post(body, { authorization: `Bearer ${await target.token('mcp.tools')}` });
      expect(res.status).toBe(status);
      expect((res.body['error'] as { code: number }).code).toBe(code);
      expect(upstream.requests.length).toBe(before);
    });
  }

  it('a body over the limit gets 413', async () => {
    const res = await post(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'ping',
        params: { pad: 'x'.repeat(5 * 1024 * 1024) },
      }),
    );
    expect(res.status).toBe(413);
  });

  it('a duplicate key reaches the upstream as the proxy read it, not as sent', async () => {
    const token = await target.token('mcp.tools crm.read');
    const before = upstream.requests.length;
    const res = await post(
      '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"crm.delete_contact","name":"echo","arguments":{}}}',
      { authorization: `Bearer ${token}` },
    );
    // Decided as echo (JSON.parse keeps the last), so echo is what the upstream must be asked.
    const forwarded = upstream.requests.slice(before).map((r) => r.body);
    expect(forwarded.join('')).not.toContain('crm.delete_contact');
    expect(res.status).toBeLessThan(500);
  });
});

describe('DNS rebinding', () => {
  // [case, Host (undefined: the resource's own), Origin, status]: 401 means it got past the guard.
  const cases: [string, string | undefined, string | undefined, number][] = [
    ['a Host that names no resource', 'evil.example:80', undefined, 403],
    ['a foreign Origin', undefined, 'http://evil.example', 403],
    ["the resource's own Origin", undefined, 'own', 401],
    ['no Origin', undefined, undefined, 401],
  ];
  for (const [name, host, origin, status] of cases) {
    it(`${name}: ${status}`, async () => {
      const own = new URL(target.resourceUri);
      expect(await rawPost(host ?? own.host, origin === 'own' ? own.origin : origin)).toBe(status);
    });
  }
});

describe('GET and DELETE', () => {
  it('need a token like POST', async () => {
    for (const method of ['GET', 'DELETE']) {
      const res = await fetch(target.resourceUri, {
        method,
        headers: { accept: 'text/event-stream' },
      });
      expect(res.status).toBe(401);
      await res.text();
    }
  });

  it('are forwarded once allowed, with the session id', async () => {
    const token = await target.token('mcp.tools');
    const session = await openSession(token);
    const del = await fetch(target.resourceUri, {
      method: 'DELETE',
      headers: {
        authorization: `Bearer ${token}`,
        'mcp-session-id': session,
        'mcp-protocol-version': '2025-11-25',
      },
    });
    expect(del.status).toBe(200);
    await del.text();
    const last = upstream.requests.at(-1);
    expect(last?.method).toBe('DELETE');
    expect(last?.headers['mcp-session-id']).toBe(session);
    expect(last?.headers['authorization']).toBeUndefined();
  });
});

describe('sessions', () => {
  it('refuses a session id another caller opened with 404, and never forwards it', async () => {
    const owner = await target.token('mcp.tools');
    const session = await openSession(owner);
    const before = upstream.requests.length;
    const other = await target.token('mcp.tools', { claims: { sub: 'user_9999' } });
    const res = await post('{"jsonrpc":"2.0","id":11,"method":"ping"}', {
      authorization: `Bearer ${other}`,
      'mcp-session-id': session,
    });
    expect(res.status).toBe(404);
    expect(upstream.requests.length).toBe(before);
    const own = await post('{"jsonrpc":"2.0","id":12,"method":"ping"}', {
      authorization: `Bearer ${owner}`,
      'mcp-session-id': session,
    });
    expect(own.status).toBe(200);
  });
});
