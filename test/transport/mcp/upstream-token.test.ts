// mcp.upstream_token: the proxy exchanges the client's token at the real dev authorization server and an SDK upstream that checks tokens accepts only what it receives from it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { DEMO_CLIENTS } from '../../../src/dev-as/options.js';
import {
  startDevAuthorizationServer,
  type DevAuthorizationServer,
} from '../../../src/dev-as/server.js';
import { exchangeYaml } from '../../helpers/as-sidecar.js';
import { loginAsUser } from '../../helpers/dev-as-login.js';
import { startMcpUpstream, type McpUpstream } from '../../helpers/mcp-upstream.js';
import {
  freePort,
  startMcpProxyUnderTest,
  type McpProxyUnderTest,
} from '../../helpers/mcp-proxy.js';

/** The upstream MCP server as the authorization server knows it. */
const UPSTREAM_AUDIENCE = 'crm-mcp';
const PROXY_CLIENT = 'mcp-proxy';
const PROXY_SECRET = 'mcp-proxy-test-secret';

async function connect(url: string, token: string): Promise<Client> {
  const client = new Client({ name: 'agent-1', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

/** One JSON-RPC POST, as a client sends it; the answer's status, headers and parsed body. */
async function post(url: string, token: string, message: Record<string, unknown>) {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${token}`,
    },
    body: JSON.stringify({ jsonrpc: '2.0', ...message }),
  });
  const body = JSON.parse(await res.text()) as {
    error: { code: number; message: string; data: Record<string, unknown> };
  } & Record<string, unknown>;
  return { status: res.status, headers: res.headers, body };
}

const initialize = {
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: '2025-06-18',
    capabilities: {},
    clientInfo: { name: 'agent-1', version: '1.0.0' },
  },
};

describe('the upstream gets a token exchanged for its own audience', () => {
  let as: DevAuthorizationServer;
  let upstream: McpUpstream;
  let target: McpProxyUnderTest;
  let resourceUri: string;
  let userToken: string;

  beforeAll(async () => {
    const port = await freePort();
    resourceUri = `http://127.0.0.1:${port}/mcp`;
    as = await startDevAuthorizationServer({
      port: 0,
      clients: [
        ...DEMO_CLIENTS,
        {
          clientId: PROXY_CLIENT,
          secret: PROXY_SECRET,
          grantTypes: ['client_credentials', 'urn:ietf:params:oauth:grant-type:token-exchange'],
          tenant: 'acme_inc',
        },
      ],
      resources: [
        { audience: resourceUri, indicator: resourceUri, scopes: ['mcp.tools', 'crm.read'] },
        { audience: UPSTREAM_AUDIENCE, scopes: ['crm.read', 'crm.write'] },
      ],
    });
    const keys = createRemoteJWKSet(new URL(as.jwksUri));
    // The upstream is a resource server of its own: only tokens the AS made for it get through.
    upstream = await startMcpUpstream({
      json: true,
      verifyToken: async (token) =>
        (await jwtVerify(token, keys, { issuer: as.issuer, audience: UPSTREAM_AUDIENCE })).payload,
    });
    target = await startMcpProxyUnderTest({
      upstream: upstream.url,
      port,
      authorizationServer: as.issuer,
      issuersYaml: `  - issuer: "${as.issuer}"
    jwks_uri: "${as.jwksUri}"
    audiences: ["replaced-by-the-resource-uri"]
    algorithms: ["ES256"]
    token_types: ["at+jwt"]`,
      extraYaml: `exchange:\n${exchangeYaml(as, PROXY_CLIENT, PROXY_SECRET)}`,
      mcpYaml: `  upstream_token:\n    exchange: { audience: ${UPSTREAM_AUDIENCE}, scope: crm.read }\n`,
    });
    // user_8421 signs in to agent-1 and consents: a token for the proxy's resource, act: agent-1.
    userToken = await loginAsUser({
      asUrl: as.url,
      clientId: 'agent-1',
      clientSecret: 'agent-1-dev-secret',
      user: 'user_8421',
      scope: 'mcp.tools crm.read',
      resource: resourceUri,
    });
  });
  afterAll(async () => {
    await target?.stop();
    await upstream?.close();
    await as?.stop();
  });

  it('calls a tool through the SDK client; the upstream sees its own audience, the user and the whole actor chain', async () => {
    const client = await connect(resourceUri, userToken);
    const before = upstream.requests.length;
    try {
      const result = await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
      expect(result.content).toEqual([{ type: 'text', text: 'echo:{"text":"hi"}' }]);
    } finally {
      await client.close();
    }
    const seen = upstream.requests.slice(before);
    expect(seen.length).toBeGreaterThan(0);
    for (const request of seen) {
      // Never the client's token: the exchanged one, which the upstream verified.
      expect(request.headers['authorization']).not.toContain(userToken);
      expect(request.claims).toMatchObject({
        iss: as.issuer,
        aud: UPSTREAM_AUDIENCE,
        sub: 'user_8421',
        scope: 'crm.read',
        act: { sub: PROXY_CLIENT, act: { sub: 'agent-1' } },
      });
    }
    // Identity headers still come along by default.
    expect(seen[0]?.headers['x-mandate-subject']).toBe('user_8421');
  });

  it('exchanges once per token (cache) and audits each exchange with its decision', async () => {
    const before = as.stats().tokenExchangeRequests;
    for (let i = 0; i < 3; i++) {
      const answer = await post(resourceUri, userToken, initialize);
      expect(answer.status).toBe(200);
    }
    // Cached since the first test: the authorization server is not asked again.
    expect(as.stats().tokenExchangeRequests).toBe(before);
    const exchanges = (await target.auditRecords()).filter((r) => r['type'] === 'exchange');
    expect(exchanges.length).toBeGreaterThan(0);
    expect(exchanges.at(-1)).toMatchObject({ audience: UPSTREAM_AUDIENCE, outcome: 'issued' });
  });

  it('refuses the message, forwarding nothing, when the policy refuses the exchange', async () => {
    // A token without crm.read cannot be exchanged for crm.read: an exchange never widens.
    const narrow = await loginAsUser({
      asUrl: as.url,
      clientId: 'agent-1',
      clientSecret: 'agent-1-dev-secret',
      user: 'user_8421',
      scope: 'mcp.tools',
      resource: resourceUri,
    });
    const before = upstream.requests.length;
    const answer = await post(resourceUri, narrow, initialize);
    expect(answer.status).toBe(403);
    expect(answer.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    expect(answer.body.error).toMatchObject({ code: -32003 });
    expect(answer.body.error.message).toContain('may only narrow');
    expect(upstream.requests.length).toBe(before);
    const records = await target.auditRecords();
    expect(records.filter((r) => r['type'] === 'exchange').at(-1)).toMatchObject({
      outcome: 'denied',
    });
  });
});

/**
 * The dev AS (for the client's tokens), an SDK upstream, and the proxy in front of it exchanging at
 * `tokenEndpoint` (a test's own: one that is down, or slow) for the upstream's audience.
 */
async function startBehindTokenEndpoint(tokenEndpoint: () => Promise<string>, timeoutMs: number) {
  const port = await freePort();
  const resourceUri = `http://127.0.0.1:${port}/mcp`;
  const as = await startDevAuthorizationServer({
    port: 0,
    clients: DEMO_CLIENTS,
    resources: [{ audience: resourceUri, indicator: resourceUri, scopes: ['mcp.tools'] }],
  });
  const upstream = await startMcpUpstream();
  const target = await startMcpProxyUnderTest({
    upstream: upstream.url,
    port,
    authorizationServer: as.issuer,
    issuersYaml: `  - issuer: "${as.issuer}"
    jwks_uri: "${as.jwksUri}"
    audiences: ["replaced-by-the-resource-uri"]
    algorithms: ["ES256"]
    token_types: ["at+jwt"]`,
    extraYaml: `exchange:
  token_endpoint: "${await tokenEndpoint()}"
  client_id: ${PROXY_CLIENT}
  client_secret: ${PROXY_SECRET}
  actor: { mode: none }
  retries: 0
  timeout_ms: ${timeoutMs}
`,
    mcpYaml: `  send_identity_headers: false\n  upstream_token:\n    exchange: { audience: ${UPSTREAM_AUDIENCE} }\n`,
  });
  return { as, upstream, target };
}

describe('when no token for the upstream can be had', () => {
  let as: DevAuthorizationServer;
  let upstream: McpUpstream;
  let target: McpProxyUnderTest;

  beforeAll(async () => {
    // The token endpoint is down.
    const deadPort = await freePort();
    ({ as, upstream, target } = await startBehindTokenEndpoint(
      async () => `http://127.0.0.1:${deadPort}/token`,
      500,
    ));
  });
  afterAll(async () => {
    await target?.stop();
    await upstream?.close();
    await as?.stop();
  });

  it('answers 502 with a JSON-RPC error naming the failure, forwards nothing, and audits it', async () => {
    const token = await as.clientCredentials('agent-1', target.resourceUri, 'mcp.tools');
    const before = upstream.requests.length;
    const answer = await post(target.resourceUri, token, initialize);
    expect(answer.status).toBe(502);
    expect(answer.body).toMatchObject({
      jsonrpc: '2.0',
      id: 1,
      error: { code: -32603, data: { exchange_error: 'as_unavailable' } },
    });
    expect(answer.body.error.message).toContain('no token for the upstream MCP server');
    expect(typeof answer.body.error.data.decision_id).toBe('string');
    expect(upstream.requests.length).toBe(before);
    const exchanges = (await target.auditRecords()).filter((r) => r['type'] === 'exchange');
    expect(exchanges.at(-1)).toMatchObject({
      audience: UPSTREAM_AUDIENCE,
      outcome: 'as_unavailable',
      decision_id: answer.body.error.data.decision_id,
    });
  });
});

describe('a client that goes away while the proxy is still getting the upstream token', () => {
  let as: DevAuthorizationServer;
  let upstream: McpUpstream;
  let target: McpProxyUnderTest;
  let slowTokenEndpoint: Server;
  let exchangesAnswered = 0;

  beforeAll(async () => {
    ({ as, upstream, target } = await startBehindTokenEndpoint(async () => {
      // Answers every exchange, but only after the client has given up.
      slowTokenEndpoint = createServer((req, res) => {
        req.resume();
        setTimeout(() => {
          exchangesAnswered++;
          res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
          res.end(
            JSON.stringify({
              access_token: 'exchanged-for-the-upstream',
              issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
              token_type: 'Bearer',
              expires_in: 300,
            }),
          );
        }, 600);
      });
      await new Promise<void>((r) => slowTokenEndpoint.listen(0, '127.0.0.1', r));
      const { port } = slowTokenEndpoint.address() as AddressInfo;
      return `http://127.0.0.1:${port}/token`;
    }, 5000));
  });
  afterAll(async () => {
    await target?.stop();
    await upstream?.close();
    await as?.stop();
    slowTokenEndpoint?.closeAllConnections();
    await new Promise<void>((r) => slowTokenEndpoint?.close(() => r()));
  });

  it('forwards nothing once the client has gone, even though its message was allowed', async () => {
    const token = await as.clientCredentials('agent-1', target.resourceUri, 'mcp.tools');
    const before = upstream.requests.length;
    const gone = new AbortController();
    const sent = fetch(target.resourceUri, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({ jsonrpc: '2.0', ...initialize }),
      signal: gone.signal,
    });
    setTimeout(() => gone.abort(), 200);
    await expect(sent).rejects.toThrow();
    for (let i = 0; i < 100 && exchangesAnswered === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(exchangesAnswered).toBe(1);
    // Time for a forward to reach the upstream, were one made.
    await new Promise((r) => setTimeout(r, 300));
    expect(upstream.requests.length).toBe(before);
  });
});
