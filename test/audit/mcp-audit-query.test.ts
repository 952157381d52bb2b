// Audit by MCP tool: every MCP decision's record says method, tool, session, agent, user and tenant, and GET /v1/decisions and `mandate audit tail` filter by tool and by method (ring and file).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createProgram } from '../../src/cli/program.js';
import { envoyHttp } from '../helpers/envoy.js';
import { examplePolicies, startMcpProxyUnderTest } from '../helpers/mcp-proxy.js';
import { startMcpUpstream } from '../helpers/mcp-upstream.js';
import { ADMIN_TOKEN, startSidecar, type Sidecar } from '../helpers/sidecar.js';
import { ISSUER } from '../helpers/tokens.js';

const RESOURCE = 'https://mcp.example.com/mcp';

type Row = Record<string, unknown> & {
  resource?: { type: string; id?: string };
  mcp?: { method?: string; session_id?: string };
};

let sidecar: Sidecar;

/** One MCP message through Envoy's HTTP ext_authz, in session `session`. */
async function message(method: string, params: Record<string, unknown>, session: string) {
  const bearer = await sidecar.token({
    claims: {
      aud: RESOURCE,
      sub: 'user_8421',
      client_id: 'agent-1',
      act: { sub: 'agent-1' },
      scope: 'mcp.tools mcp.resources crm.read crm.write',
    },
  });
  return envoyHttp(sidecar.httpUrl, {
    method: 'POST',
    path: '/mcp',
    headers: {
      authorization: `Bearer ${bearer}`,
      'content-type': 'application/json',
      'mcp-session-id': session,
      host: 'mcp.example.com',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
}

async function decisions(query: string) {
  const res = await fetch(`${sidecar.adminUrl}/v1/decisions?${query}`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  return { status: res.status, body: (await res.json()) as { records: Row[]; message?: string } };
}

beforeAll(async () => {
  sidecar = await startSidecar({
    policiesDir: examplePolicies(),
    yaml: `
mcp:
  resources:
    - uri: "${RESOURCE}"
      authorization_servers: ["${ISSUER}"]
`,
  });
  expect((await message('tools/call', { name: 'crm.search' }, 's-1')).status).toBe(200);
  expect((await message('tools/call', { name: 'crm.delete_contact' }, 's-1')).status).toBe(403);
  expect((await message('tools/call', { name: 'echo' }, 's-2')).status).toBe(200);
  expect((await message('resources/read', { uri: 'file:///readme.md' }, 's-2')).status).toBe(200);
  expect((await message('tools/list', {}, 's-2')).status).toBe(200);
}, 120_000);

afterAll(async () => {
  await sidecar?.stop();
});

describe('MCP decision records', () => {
  it('carry method, tool, session, agent, user and tenant', async () => {
    const records = (await sidecar.auditRecords()) as Row[];
    const denied = records.find((r) => r.resource?.id === 'crm.delete_contact');
    expect(denied).toMatchObject({
      allow: false,
      action: 'mcp.tools/call',
      resource: { type: 'tool', id: 'crm.delete_contact' },
      mcp: { method: 'tools/call', session_id: 's-1', resource_uri: RESOURCE },
      tenant: 'acme_inc',
      sub: 'user_8421',
      client_id: 'agent-1',
      act: ['agent-1'],
      transport: 'envoy_http',
    });
  });
});

describe('GET /v1/decisions by tool and MCP method', () => {
  for (const source of ['ring', 'file']) {
    it(`finds the calls of one tool, or of a tool prefix (${source})`, async () => {
      const one = await decisions(`tool=crm.search&source=${source}`);
      expect(one.status).toBe(200);
      expect(one.body.records.map((r) => r.resource?.id)).toEqual(['crm.search']);
      const prefix = await decisions(`tool=crm.*&source=${source}`);
      expect(prefix.body.records.map((r) => r.resource?.id)).toEqual([
        'crm.search',
        'crm.delete_contact',
      ]);
      // A resource named like a tool is not a tool.
      const denied = await decisions(`tool=crm.*&allow=false&source=${source}`);
      expect(denied.body.records.map((r) => r.mcp?.session_id)).toEqual(['s-1']);
    });

    it(`finds the messages of one method (${source})`, async () => {
      const calls = await decisions(`mcp_method=tools/call&source=${source}`);
      expect(calls.body.records.map((r) => r.resource?.id)).toEqual([
        'crm.search',
        'crm.delete_contact',
        'echo',
      ]);
      const reads = await decisions(`mcp_method=resources/read&source=${source}`);
      expect(reads.body.records.map((r) => r.resource)).toEqual([
        { type: 'resource', id: 'file:///readme.md' },
      ]);
      const lists = await decisions(`mcp_method=tools/list&tool=echo&source=${source}`);
      expect(lists.body.records).toEqual([]);
    });
  }

  it('refuses a bad tool or method value with 400 naming the field', async () => {
    for (const [query, field] of [
      ['mcp_method=tools/destroy', 'mcp_method'],
      ['mcp_method=', 'mcp_method'],
      ['tool=', 'tool'],
      ['tool=a&tool=b', 'tool'],
      [`tool=${'x'.repeat(513)}`, 'tool'],
      ['mcp_tool=echo', 'mcp_tool'],
    ] as const) {
      const res = await decisions(query);
      expect(res.status, query).toBe(400);
      expect(res.body.message, query).toMatch(new RegExp(`^${field}: `));
    }
  });
});

describe('mandate audit tail --tool / --mcp-method', () => {
  async function tail(args: string[]) {
    const out: string[] = [];
    const result = { code: 0 };
    const program = createProgram(
      { env: { MANDATE_ADMIN_TOKEN: ADMIN_TOKEN }, out: (t) => void out.push(t), err: () => {} },
      result,
    );
    const run = program
      .parseAsync(['audit', 'tail', '--admin-url', sidecar.adminUrl, ...args], { from: 'user' })
      .then(() => result.code);
    return { run, out };
  }

  it('prints the calls of one tool, with their session', async () => {
    const { run, out } = await tail(['--tool', 'crm.delete_contact']);
    expect(await run).toBe(0);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/DENY .*action=mcp\.tools\/call resource=tool\/crm\.delete_contact /);
    expect(out[0]).toContain('session=s-1');
  });

  it('prints the messages of one method as JSON', async () => {
    const { run, out } = await tail(['--mcp-method', 'resources/read', '--json']);
    expect(await run).toBe(0);
    expect(out.map((l) => (JSON.parse(l) as Row).mcp?.session_id)).toEqual(['s-2']);
  });

  it('fails on a method MCP does not have, naming the flag’s field', async () => {
    const { run } = await tail(['--mcp-method', 'tools/destroy']);
    await expect(run).rejects.toThrow(/^mcp_method: /);
  });
});

describe('mandate proxy records', () => {
  it('carry the session the upstream opened and the tool of each call', async () => {
    const upstream = await startMcpUpstream({ json: true });
    const target = await startMcpProxyUnderTest({ upstream: upstream.url });
    const client = new Client({ name: 'test-agent', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(target.resourceUri), {
      requestInit: {
        headers: { authorization: `Bearer ${await target.token('mcp.tools crm.read')}` },
      },
    });
    try {
      await client.connect(transport);
      await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
      const session = transport.sessionId;
      expect(session).toBeDefined();
      const records = (await target.auditRecords()) as Row[];
      const call = records.find((r) => r.action === 'mcp.tools/call');
      expect(call).toMatchObject({
        transport: 'mcp',
        resource: { type: 'tool', id: 'echo' },
        mcp: { method: 'tools/call', session_id: session, resource_uri: target.resourceUri },
        sub: 'user_8421',
        tenant: 'acme_inc',
        client_id: 'agent-1',
        act: ['agent-1'],
      });
      // A list item asked to filter an answer says so.
      await client.listTools();
      const listing = ((await target.auditRecords()) as Row[]).filter(
        (r) => (r.mcp as { listing?: boolean } | undefined)?.listing === true,
      );
      expect(listing.length).toBeGreaterThan(0);
    } finally {
      await client.close();
      await target.stop();
      await upstream.close();
    }
  });
});
