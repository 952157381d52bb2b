// A stream the upstream closes in the middle of a call (MCP 2025-11-25 polling) is resumed through mandate proxy: the client's GET with Last-Event-ID reaches the upstream and the answer comes back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  startConformanceUpstream,
  type ConformanceUpstream,
} from '../../helpers/conformance-upstream.js';
import { CONFORMANCE_TENANT, allowAllPolicies } from '../../helpers/mcp-conformance.js';
import { startMcpProxyUnderTest, type McpProxyUnderTest } from '../../helpers/mcp-proxy.js';

let upstream: ConformanceUpstream;
let target: McpProxyUnderTest;

beforeAll(async () => {
  upstream = await startConformanceUpstream();
  target = await startMcpProxyUnderTest({
    upstream: upstream.url,
    policiesDir: allowAllPolicies(),
  });
});
afterAll(async () => {
  await target.stop();
  await upstream.close();
});

describe('resumable streams through mandate proxy', () => {
  // The conformance suite's server-sse-polling scenario pins protocol version 2025-03-26, for
  // which SDK servers send no priming event, so it never gets this far; the SDK client does.
  it('resumes a stream the upstream closed mid-call with GET and Last-Event-ID', async () => {
    const token = await target.token('mcp.tools', {
      claims: { tenant: CONFORMANCE_TENANT, client_id: 'conformance', act: undefined },
    });
    const client = new Client({ name: 'resume-test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(target.resourceUri), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    });
    await client.connect(transport);
    try {
      expect(transport.protocolVersion).toBe('2025-11-25');
      const result = await client.callTool({ name: 'test_reconnection', arguments: {} });
      expect(result.content).toEqual([{ type: 'text', text: 'Reconnection test completed' }]);
      const resumed = upstream.requests.filter(
        (r) => r.method === 'GET' && typeof r.headers['last-event-id'] === 'string',
      );
      expect(resumed).toHaveLength(1);
      // The upstream saw mandate's identity, never the client's token.
      expect(resumed[0]?.headers['authorization']).toBeUndefined();
      expect(resumed[0]?.headers['x-mandate-tenant']).toBe(CONFORMANCE_TENANT);
    } finally {
      await transport.terminateSession();
      await client.close();
    }
  });
});
