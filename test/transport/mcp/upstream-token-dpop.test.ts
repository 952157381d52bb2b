// The upstream's token exchanged from a DPoP-bound client token: the exchange is decided on the message's own proof (one request, not a replay), and only Bearer tokens are sent on.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDpopClient, type DpopClient } from '../../helpers/dpop.js';
import { startMcpUpstream, type McpUpstream } from '../../helpers/mcp-upstream.js';
import { startMcpProxyUnderTest, type McpProxyUnderTest } from '../../helpers/mcp-proxy.js';

const EXCHANGED = 'exchanged-token-for-crm-mcp';

/** A token endpoint that records each exchange and answers with a token of the type it is told. */
interface TokenEndpoint {
  readonly url: string;
  readonly forms: URLSearchParams[];
  tokenType: string;
  close(): Promise<void>;
}

async function startTokenEndpoint(): Promise<TokenEndpoint> {
  const forms: URLSearchParams[] = [];
  const endpoint = { tokenType: 'Bearer' };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      forms.push(new URLSearchParams(body));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          access_token: EXCHANGED,
          issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
          token_type: endpoint.tokenType,
          expires_in: 300,
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return Object.assign(endpoint, {
    url: `http://127.0.0.1:${port}/token`,
    forms,
    close: () => new Promise<void>((r) => server.close(() => r())),
  });
}

const initialize = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: '2025-06-18',
    capabilities: {},
    clientInfo: { name: 'agent-1', version: '1.0.0' },
  },
});

describe('an upstream token for a DPoP-bound client token', () => {
  let as: TokenEndpoint;
  let upstream: McpUpstream;
  let target: McpProxyUnderTest;
  let client: DpopClient;

  beforeAll(async () => {
    as = await startTokenEndpoint();
    upstream = await startMcpUpstream({
      json: true,
      verifyToken: async (token) => {
        if (token !== EXCHANGED) throw new Error('not the exchanged token');
        return { token };
      },
    });
    target = await startMcpProxyUnderTest({
      upstream: upstream.url,
      resourceYaml: '      dpop_bound_access_tokens_required: true\n',
      extraYaml: `exchange:
  token_endpoint: "${as.url}"
  client_id: mcp-proxy
  client_secret: mcp-proxy-test-secret
  actor: { mode: none }
`,
      mcpYaml: '  upstream_token:\n    exchange: { audience: crm-mcp }\n',
    });
    client = await createDpopClient();
  });
  afterAll(async () => {
    await target?.stop();
    await upstream?.close();
    await as?.close();
  });

  async function send(token: string) {
    const res = await fetch(target.resourceUri, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `DPoP ${token}`,
        dpop: await client.proof(token, 'POST', target.resourceUri),
      },
      body: initialize,
    });
    return { status: res.status, body: JSON.parse(await res.text()) as Record<string, unknown> };
  }

  it('exchanges on the proof the message came with, once, and forwards the exchanged token', async () => {
    const token = await target.token('mcp.tools', { claims: { cnf: { jkt: client.jkt } } });
    expect((await send(token)).status).toBe(200);
    expect(as.forms).toHaveLength(1);
    expect(as.forms[0]?.get('subject_token')).toBe(token);
    expect(as.forms[0]?.get('audience')).toBe('crm-mcp');
    expect(upstream.requests.at(-1)?.headers['authorization']).toBe(`Bearer ${EXCHANGED}`);
    // A new message with a new proof: decided again (proof and all), served from the cache.
    expect((await send(token)).status).toBe(200);
    expect(as.forms).toHaveLength(1);
  });

  it('refuses with 502, forwarding nothing, when the AS issues a token only its key holder could use', async () => {
    as.tokenType = 'DPoP';
    const token = await target.token('mcp.tools', {
      claims: { cnf: { jkt: client.jkt }, jti: 'another-token' },
    });
    const before = upstream.requests.length;
    const answer = await send(token);
    expect(answer.status).toBe(502);
    expect(answer.body['error']).toMatchObject({
      code: -32603,
      data: { exchange_error: 'as_invalid_response' },
    });
    expect(upstream.requests.length).toBe(before);
  });
});
