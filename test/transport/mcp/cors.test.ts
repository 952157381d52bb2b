// mandate proxy and browser-based MCP clients: CORS preflights and readable answers for the allowed origins only, public metadata for any.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMcpUpstream, type McpUpstream } from '../../helpers/mcp-upstream.js';
import { startMcpProxyUnderTest, type McpProxyUnderTest } from '../../helpers/mcp-proxy.js';

const APP = 'https://app.example';
const EVIL = 'https://evil.example';

const INIT = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: '2025-11-25',
    capabilities: {},
    clientInfo: { name: 'browser', version: '1' },
  },
});

let upstream: McpUpstream;
let target: McpProxyUnderTest;

beforeAll(async () => {
  upstream = await startMcpUpstream();
  target = await startMcpProxyUnderTest({
    upstream: upstream.url,
    mcpYaml: `  allowed_origins: ["${APP}"]\n`,
  });
});
afterAll(async () => {
  await target.stop();
  await upstream.close();
});

/** A preflight as a browser sends it: no token, the method and headers the page means to use. */
function preflight(url: string, origin: string, method = 'POST') {
  return fetch(url, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': method,
      'access-control-request-headers': 'authorization,content-type,mcp-protocol-version',
    },
  });
}

function post(body: string, headers: Record<string, string>) {
  return fetch(target.resourceUri, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body,
  });
}

function corsHeadersOf(res: Response): Record<string, string> {
  return Object.fromEntries([...res.headers].filter(([name]) => name.startsWith('access-control')));
}

/** What a page on APP may read of an answer: its origin is allowed and these headers exposed. */
function expectReadableByApp(res: Response) {
  expect(res.headers.get('access-control-allow-origin')).toBe(APP);
  const exposed = (res.headers.get('access-control-expose-headers') ?? '').split(/,\s*/);
  expect(exposed).toEqual(
    expect.arrayContaining([
      'mcp-session-id',
      'mcp-protocol-version',
      'www-authenticate',
      'retry-after',
    ]),
  );
  expect(res.headers.get('vary')).toMatch(/\bOrigin\b/i);
  // Tokens travel in the Authorization header, never in cookies: no credentials mode.
  expect(res.headers.get('access-control-allow-credentials')).toBeNull();
}

describe('preflight on the resource', () => {
  it('is answered 204 for an allowed origin without a token, and never reaches the upstream', async () => {
    const before = upstream.requests.length;
    for (const method of ['POST', 'GET', 'DELETE']) {
      const res = await preflight(target.resourceUri, APP, method);
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe(APP);
      expect((res.headers.get('access-control-allow-methods') ?? '').split(/,\s*/)).toEqual(
        expect.arrayContaining(['GET', 'POST', 'DELETE']),
      );
      expect((res.headers.get('access-control-allow-headers') ?? '').split(/,\s*/)).toEqual(
        expect.arrayContaining([
          'authorization',
          'content-type',
          'accept',
          'mcp-session-id',
          'mcp-protocol-version',
          'last-event-id',
          'dpop',
        ]),
      );
      expect(Number(res.headers.get('access-control-max-age'))).toBeGreaterThan(0);
      expect(res.headers.get('vary')).toMatch(/\bOrigin\b/i);
      expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    }
    expect(upstream.requests.length).toBe(before);
    // Not decided either: a preflight is no MCP message, so it leaves no audit record.
    expect(
      (await target.auditRecords()).filter((r) => JSON.stringify(r).includes('OPTIONS')),
    ).toEqual([]);
  });

  it('is refused 403 with no CORS headers for any other origin, which is never reflected', async () => {
    const before = upstream.requests.length;
    // The allowed origin's preflight passes: the refusals below are about the origin alone.
    expect((await preflight(target.resourceUri, APP)).status).toBe(204);
    for (const origin of [EVIL, 'null', `${APP}:8443`, 'http://app.example']) {
      const res = await preflight(target.resourceUri, origin);
      expect(res.status).toBe(403);
      expect(corsHeadersOf(res)).toEqual({});
      await res.text();
    }
    expect(upstream.requests.length).toBe(before);
  });

  it('an OPTIONS that is no preflight is answered with Allow and not forwarded', async () => {
    const before = upstream.requests.length;
    const res = await fetch(target.resourceUri, { method: 'OPTIONS' });
    expect(res.status).toBe(204);
    expect(res.headers.get('allow')).toBe('GET, POST, DELETE, OPTIONS');
    expect(corsHeadersOf(res)).toEqual({});
    expect(upstream.requests.length).toBe(before);
  });
});

describe('answers to an allowed origin', () => {
  it('a 401 challenge: the page can read WWW-Authenticate to start OAuth discovery', async () => {
    const res = await post(INIT, { origin: APP });
    expect(res.status).toBe(401);
    expectReadableByApp(res);
    expect(res.headers.get('www-authenticate')).toContain('resource_metadata=');
    await res.text();
    // A client that sends no Origin (not a browser) gets no CORS headers.
    const plain = await post(INIT, {});
    expect(plain.status).toBe(401);
    expect(corsHeadersOf(plain)).toEqual({});
    await plain.text();
  });

  it('a forwarded initialize (SSE): the page can read Mcp-Session-Id; a policy refusal and a foreign session too', async () => {
    const token = await target.token('mcp.tools');
    const init = await post(INIT, { origin: APP, authorization: `Bearer ${token}` });
    expect(init.status).toBe(200);
    expect(init.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expectReadableByApp(init);
    const session = init.headers.get('mcp-session-id') ?? '';
    expect(session).not.toBe('');
    await init.text();

    // A tool the example policy does not give agent-1: a JSON-RPC error the page must read.
    const refused = await post(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'admin.reset', arguments: {} },
      }),
      {
        origin: APP,
        authorization: `Bearer ${token}`,
        'mcp-session-id': session,
        'mcp-protocol-version': '2025-11-25',
      },
    );
    expect(refused.status).toBe(200);
    expectReadableByApp(refused);
    expect(((await refused.json()) as { error: { code: number } }).error.code).toBeLessThan(0);

    // Someone else's session: the proxy's own 404, as for a session that does not exist.
    const other = await target.token('mcp.tools', { claims: { sub: 'user_other' } });
    const unknown = await post(INIT, {
      origin: APP,
      authorization: `Bearer ${other}`,
      'mcp-session-id': session,
    });
    expect(unknown.status).toBe(404);
    expectReadableByApp(unknown);
    await unknown.text();
  });

  it('a 403 insufficient_scope challenge: the page can read the scopes to step up to', async () => {
    const res = await post(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/call',
        params: { name: 'crm.delete_contact', arguments: {} },
      }),
      { origin: APP, authorization: `Bearer ${await target.token('mcp.tools crm.read')}` },
    );
    expect(res.status).toBe(403);
    expectReadableByApp(res);
    expect(res.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    await res.text();
  });
});

describe('answers to another origin', () => {
  it('stay refused 403, with no CORS headers, before any token is looked at', async () => {
    const before = upstream.requests.length;
    const token = await target.token('mcp.tools');
    const res = await post(INIT, { origin: EVIL, authorization: `Bearer ${token}` });
    expect(res.status).toBe(403);
    expect(corsHeadersOf(res)).toEqual({});
    expect(res.headers.get('vary')).toMatch(/\bOrigin\b/i);
    await res.text();
    expect(upstream.requests.length).toBe(before);
  });
});

describe('protected resource metadata (public)', () => {
  const paths = [
    '/.well-known/oauth-protected-resource/mcp',
    '/.well-known/oauth-protected-resource',
  ];

  it("is readable from any origin, as the MCP SDK's own metadata router serves it", async () => {
    for (const path of paths) {
      const res = await fetch(`${target.baseUrl}${path}`, {
        headers: { origin: EVIL, 'mcp-protocol-version': '2025-11-25' },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      expect(((await res.json()) as { resource: string }).resource).toBe(target.resourceUri);
    }
  });

  it('answers the preflight the SDK causes by sending MCP-Protocol-Version', async () => {
    for (const path of paths) {
      const res = await fetch(`${target.baseUrl}${path}`, {
        method: 'OPTIONS',
        headers: {
          origin: EVIL,
          'access-control-request-method': 'GET',
          'access-control-request-headers': 'mcp-protocol-version',
        },
      });
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      expect(res.headers.get('access-control-allow-methods')).toContain('GET');
      expect(res.headers.get('access-control-allow-headers')).toContain('mcp-protocol-version');
    }
  });
});
