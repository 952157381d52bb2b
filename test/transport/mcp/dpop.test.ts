// DPoP per MCP resource: the RFC 9728 settings advertised, bound tokens required with real proofs (htu, htm, ath, jti), and DPoP challenges.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDpopClient, type DpopClient } from '../../helpers/dpop.js';
import { startMcpUpstream, type McpUpstream } from '../../helpers/mcp-upstream.js';
import { startMcpProxyUnderTest, type McpProxyUnderTest } from '../../helpers/mcp-proxy.js';

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

async function post(url: string, headers: Record<string, string>, body = initialize) {
  const res = await fetch(url, {
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

async function metadata(target: McpProxyUnderTest): Promise<Record<string, unknown>> {
  const res = await fetch(`${target.baseUrl}/.well-known/oauth-protected-resource/mcp`);
  return (await res.json()) as Record<string, unknown>;
}

describe('a resource that requires DPoP-bound tokens', () => {
  let upstream: McpUpstream;
  let target: McpProxyUnderTest;
  let client: DpopClient;
  let bound: string;

  beforeAll(async () => {
    upstream = await startMcpUpstream({ json: true });
    target = await startMcpProxyUnderTest({
      upstream: upstream.url,
      resourceYaml: `      dpop_signing_alg_values_supported: [ES256]
      dpop_bound_access_tokens_required: true
`,
    });
    client = await createDpopClient();
    bound = await target.token('mcp.tools crm.read', { claims: { cnf: { jkt: client.jkt } } });
  });
  afterAll(async () => {
    await target?.stop();
    await upstream?.close();
  });

  it('says so in its metadata', async () => {
    expect(await metadata(target)).toMatchObject({
      resource: target.resourceUri,
      dpop_signing_alg_values_supported: ['ES256'],
      dpop_bound_access_tokens_required: true,
    });
  });

  it('challenges a request without a token in the DPoP scheme, with the algorithms', async () => {
    const answer = await post(target.resourceUri, {});
    expect(answer.status).toBe(401);
    expect(answer.headers.get('www-authenticate')).toBe(
      `DPoP resource_metadata="${target.baseUrl}/.well-known/oauth-protected-resource/mcp", scope="mcp.tools crm.read crm.write", algs="ES256"`,
    );
  });

  it('refuses a bearer token, forwarding nothing, and audits why', async () => {
    const before = upstream.requests.length;
    const answer = await post(target.resourceUri, {
      authorization: `Bearer ${await target.token('mcp.tools crm.read')}`,
    });
    expect(answer.status).toBe(401);
    const challenge = answer.headers.get('www-authenticate') ?? '';
    expect(challenge).toMatch(
      /^DPoP resource_metadata="[^"]+", scope="[^"]+", error="invalid_token"/,
    );
    expect(challenge).toContain('only DPoP-bound tokens');
    expect(challenge).toMatch(/, algs="ES256"$/);
    expect(upstream.requests.length).toBe(before);
    const last = (await target.auditRecords()).at(-1);
    expect(last).toMatchObject({
      allow: false,
      reasons: [expect.objectContaining({ code: 'token_binding_unverified' })],
    });
  });

  it('accepts a bound token with a proof of this request, and the upstream sees neither', async () => {
    const before = upstream.requests.length;
    const answer = await post(target.resourceUri, {
      authorization: `DPoP ${bound}`,
      dpop: await client.proof(bound, 'POST', target.resourceUri),
    });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toMatchObject({
      id: 1,
      result: { protocolVersion: expect.any(String) },
    });
    const seen = upstream.requests.slice(before);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.headers['authorization']).toBeUndefined();
    expect(seen[0]?.headers['dpop']).toBeUndefined();
  });

  it('decides every item of a list answer on one proof (one request, not a replay)', async () => {
    const opened = await post(target.resourceUri, {
      authorization: `DPoP ${bound}`,
      dpop: await client.proof(bound, 'POST', target.resourceUri),
    });
    const session = opened.headers.get('mcp-session-id') ?? '';
    const list = await post(
      target.resourceUri,
      {
        authorization: `DPoP ${bound}`,
        dpop: await client.proof(bound, 'POST', target.resourceUri),
        'mcp-session-id': session,
        'mcp-protocol-version': '2025-06-18',
      },
      JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
    );
    expect(list.status).toBe(200);
    const tools = (JSON.parse(list.text) as { result: { tools: { name: string }[] } }).result.tools;
    expect(tools.map((t) => t.name).sort()).toEqual(['crm.search', 'echo']);
  });

  const refused: [string, (token: string) => Promise<Record<string, string>>, string][] = [
    [
      'a proof used before (jti)',
      async (token) => {
        const proof = await client.proof(token, 'POST', target.resourceUri);
        await post(target.resourceUri, { authorization: `DPoP ${token}`, dpop: proof });
        return { authorization: `DPoP ${token}`, dpop: proof };
      },
      'invalid_dpop_proof',
    ],
    [
      'a proof for another URL (htu)',
      async (token) => ({
        authorization: `DPoP ${token}`,
        dpop: await client.proof(token, 'POST', `${target.baseUrl}/other`),
      }),
      'invalid_dpop_proof',
    ],
    [
      'a proof for another method (htm)',
      async (token) => ({
        authorization: `DPoP ${token}`,
        dpop: await client.proof(token, 'GET', target.resourceUri),
      }),
      'invalid_dpop_proof',
    ],
    [
      'a proof for another token (ath)',
      async (token) => ({
        authorization: `DPoP ${token}`,
        dpop: await client.proof(token, 'POST', target.resourceUri, { ath: 'x'.repeat(43) }),
      }),
      'invalid_dpop_proof',
    ],
    ['no proof', async (token) => ({ authorization: `DPoP ${token}` }), 'invalid_dpop_proof'],
    [
      'a proof by another key',
      async (token) => ({
        authorization: `DPoP ${token}`,
        dpop: await (await createDpopClient()).proof(token, 'POST', target.resourceUri),
      }),
      'invalid_token',
    ],
    [
      'a bound token sent as Bearer',
      async (token) => ({
        authorization: `Bearer ${token}`,
        dpop: await client.proof(token, 'POST', target.resourceUri),
      }),
      'invalid_token',
    ],
  ];
  for (const [name, headersOf, error] of refused) {
    it(`refuses ${name} with a DPoP challenge`, async () => {
      const headers = await headersOf(bound);
      const before = upstream.requests.length;
      const answer = await post(target.resourceUri, headers);
      expect(answer.status).toBe(401);
      const challenge = answer.headers.get('www-authenticate') ?? '';
      expect(challenge).toMatch(/^DPoP resource_metadata=/);
      expect(challenge).toContain(`error="${error}"`);
      expect(challenge).toMatch(/, algs="ES256"$/);
      expect(upstream.requests.length).toBe(before);
    });
  }
});

describe('a resource that accepts DPoP with its own algorithms, and bearer tokens', () => {
  let upstream: McpUpstream;
  let target: McpProxyUnderTest;

  beforeAll(async () => {
    upstream = await startMcpUpstream({ json: true });
    target = await startMcpProxyUnderTest({
      upstream: upstream.url,
      resourceYaml: '      dpop_signing_alg_values_supported: [ES384, EdDSA]\n',
    });
  });
  afterAll(async () => {
    await target?.stop();
    await upstream?.close();
  });

  it('advertises the algorithms, not a requirement', async () => {
    const document = await metadata(target);
    expect(document['dpop_signing_alg_values_supported']).toEqual(['ES384', 'EdDSA']);
    expect(document['dpop_bound_access_tokens_required']).toBeUndefined();
  });

  it('still takes a bearer token, and challenges without one in the Bearer scheme', async () => {
    const ok = await post(target.resourceUri, {
      authorization: `Bearer ${await target.token('mcp.tools')}`,
    });
    expect(ok.status).toBe(200);
    const none = await post(target.resourceUri, {});
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer resource_metadata=/);
  });

  it('refuses a proof signed with an algorithm it does not accept', async () => {
    const client = await createDpopClient(); // ES256
    const token = await target.token('mcp.tools', { claims: { cnf: { jkt: client.jkt } } });
    const answer = await post(target.resourceUri, {
      authorization: `DPoP ${token}`,
      dpop: await client.proof(token, 'POST', target.resourceUri),
    });
    expect(answer.status).toBe(401);
    const challenge = answer.headers.get('www-authenticate') ?? '';
    expect(challenge).toContain('error="invalid_dpop_proof"');
    expect(challenge).toContain('algorithm is not allowed');
    expect(challenge).toMatch(/, algs="ES384 EdDSA"$/);
  });
});

describe('a resource served on another path than its URI (a gateway in front rewrites it)', () => {
  let upstream: McpUpstream;
  let target: McpProxyUnderTest;

  beforeAll(async () => {
    upstream = await startMcpUpstream({ json: true });
    target = await startMcpProxyUnderTest({
      upstream: upstream.url,
      resourceYaml: '      path: /internal/mcp\n      dpop_bound_access_tokens_required: true\n',
    });
  });
  afterAll(async () => {
    await target?.stop();
    await upstream?.close();
  });

  it('wants proofs for the resource URI the client uses, not the path the proxy serves', async () => {
    const client = await createDpopClient();
    const token = await target.token('mcp.tools', { claims: { cnf: { jkt: client.jkt } } });
    const served = `${target.baseUrl}/internal/mcp`;
    const forUri = await post(served, {
      authorization: `DPoP ${token}`,
      dpop: await client.proof(token, 'POST', target.resourceUri),
    });
    expect(forUri.status).toBe(200);
    const forPath = await post(served, {
      authorization: `DPoP ${token}`,
      dpop: await client.proof(token, 'POST', served),
    });
    expect(forPath.status).toBe(401);
    expect(forPath.headers.get('www-authenticate')).toContain('error="invalid_dpop_proof"');
  });
});

describe('a resource that requires DPoP, trusting an issuer whose bound tokens are taken as bearer tokens elsewhere', () => {
  let upstream: McpUpstream;
  let target: McpProxyUnderTest;

  beforeAll(async () => {
    upstream = await startMcpUpstream({ json: true });
    target = await startMcpProxyUnderTest({
      upstream: upstream.url,
      issuerYaml: '    sender_constrained: accept\n',
      resourceYaml: '      dpop_bound_access_tokens_required: true\n',
    });
  });
  afterAll(async () => {
    await target?.stop();
    await upstream?.close();
  });

  it('still checks the proof itself: nobody in front of the proxy did', async () => {
    const client = await createDpopClient();
    const token = await target.token('mcp.tools', { claims: { cnf: { jkt: client.jkt } } });
    const without = await post(target.resourceUri, { authorization: `DPoP ${token}` });
    expect(without.status).toBe(401);
    expect(without.headers.get('www-authenticate')).toContain('error="invalid_dpop_proof"');
    const withProof = await post(target.resourceUri, {
      authorization: `DPoP ${token}`,
      dpop: await client.proof(token, 'POST', target.resourceUri),
    });
    expect(withProof.status).toBe(200);
  });
});
