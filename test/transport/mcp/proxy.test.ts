// mandate proxy end to end: the official SDK client → mandate proxy → the official SDK server, with a real JWKS and real policies.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { startMcpUpstream, type McpUpstream } from '../../helpers/mcp-upstream.js';
import { startMcpProxyUnderTest, type McpProxyUnderTest } from '../../helpers/mcp-proxy.js';

async function connect(url: string, token: string | undefined): Promise<Client> {
  const client = new Client({ name: 'test-agent', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return client;
}

async function post(target: McpProxyUnderTest, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(target.resourceUri, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text };
}

for (const mode of ['json', 'sse'] as const) {
  describe(`mandate proxy in front of an SDK server answering with ${mode}`, () => {
    let upstream: McpUpstream;
    let target: McpProxyUnderTest;

    beforeAll(async () => {
      upstream = await startMcpUpstream({ json: mode === 'json' });
      target = await startMcpProxyUnderTest({ upstream: upstream.url });
    });
    afterAll(async () => {
      await target.stop();
      await upstream.close();
    });

    it('lists only the tools, resources and prompts the policy lets this agent use', async () => {
      const client = await connect(target.resourceUri, await target.token('mcp.tools crm.read'));
      try {
        const tools = await client.listTools();
        // base: crm.delete_contact needs crm.write; acme_inc: agent-1 may call crm.search and echo only.
        expect(tools.tools.map((t) => t.name).sort()).toEqual(['crm.search', 'echo']);
        // No mcp.resources / mcp.prompts scope: nothing of either is listed.
        expect((await client.listResources()).resources).toEqual([]);
        expect((await client.listPrompts()).prompts).toEqual([]);
      } finally {
        await client.close();
      }
    });

    it('forwards an allowed call without the client token, with the identity headers', async () => {
      const client = await connect(target.resourceUri, await target.token('mcp.tools crm.read'));
      try {
        const before = upstream.requests.length;
        const result = await client.callTool({ name: 'crm.search', arguments: { text: 'ada' } });
        expect(result.content).toEqual([{ type: 'text', text: 'crm.search:{"text":"ada"}' }]);
        const seen = upstream.requests.slice(before).find((r) => r.body.includes('tools/call'));
        expect(seen?.headers['authorization']).toBeUndefined();
        expect(seen?.headers['x-mandate-subject']).toBe('user_8421');
        expect(seen?.headers['x-mandate-tenant']).toBe('acme_inc');
        expect(seen?.headers['x-mandate-act']).toBe('agent-1');
        expect(seen?.headers['mcp-session-id']).toMatch(/^[0-9a-f-]{36}$/);
        expect(seen?.headers['mcp-protocol-version']).toBeDefined();
      } finally {
        await client.close();
      }
    });

    it('refuses a tool the tenant policy closes to this agent as a JSON-RPC error, and the upstream never runs it', async () => {
      const client = await connect(
        target.resourceUri,
        await target.token('mcp.tools crm.read crm.write'),
      );
      try {
        const calls = upstream.calls.length;
        const err = await client
          .callTool({ name: 'crm.delete_contact', arguments: { text: 'c-1' } })
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(McpError);
        expect((err as McpError).code).toBe(-32003);
        expect((err as McpError).message).toContain(
          "the agent 'agent-1' may not call the tool 'crm.delete_contact'",
        );
        // Arguments reach the policy: acme_inc bounds crm.search's limit.
        const limited = await client
          .callTool({ name: 'crm.search', arguments: { limit: 500 } })
          .catch((e: unknown) => e);
        expect((limited as McpError).message).toContain('at most 50 results');
        expect(upstream.calls.length).toBe(calls);
      } finally {
        await client.close();
      }
    });

    it('answers a missing scope with 403 insufficient_scope naming every scope the call needs', async () => {
      const client = await connect(target.resourceUri, await target.token('mcp.tools crm.read'));
      try {
        const err = await client
          .callTool({ name: 'crm.delete_contact', arguments: {} })
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StreamableHTTPError);
        expect((err as StreamableHTTPError).code).toBe(403);
      } finally {
        await client.close();
      }
      const res = await post(
        target,
        JSON.stringify({
          jsonrpc: '2.0',
          id: 7,
          method: 'tools/call',
          params: { name: 'crm.delete_contact', arguments: {} },
        }),
        { authorization: `Bearer ${await target.token('mcp.tools crm.read')}` },
      );
      expect(res.status).toBe(403);
      const challenge = res.headers.get('www-authenticate') ?? '';
      expect(challenge).toMatch(/^Bearer /);
      expect(challenge).toContain('error="insufficient_scope"');
      expect(challenge).toContain('scope="crm.read crm.write"');
      expect(challenge).toContain(
        `resource_metadata="${target.baseUrl}/.well-known/oauth-protected-resource/mcp"`,
      );
      expect(JSON.parse(res.text)).toMatchObject({
        jsonrpc: '2.0',
        id: 7,
        error: { code: -32003 },
      });
    });
  });
}
