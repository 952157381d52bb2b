// The SDK client's own OAuth discovery: from mandate's 401 to its RFC 9728 metadata, to the dev authorization server, and back with an audience-bound token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  startDevAuthorizationServer,
  type DevAuthorizationServer,
} from '../../../src/dev-as/server.js';
import { startMcpUpstream, type McpUpstream } from '../../helpers/mcp-upstream.js';
import {
  freePort,
  startMcpProxyUnderTest,
  type McpProxyUnderTest,
} from '../../helpers/mcp-proxy.js';

const SECRET = 'agent-1-mcp-test-secret';

describe('SDK client OAuth discovery through mandate proxy', () => {
  let as: DevAuthorizationServer;
  let upstream: McpUpstream;
  let target: McpProxyUnderTest;

  beforeAll(async () => {
    const port = await freePort();
    const resourceUri = `http://127.0.0.1:${port}/mcp`;
    as = await startDevAuthorizationServer({
      port: 0,
      clients: [
        {
          clientId: 'agent-1',
          secret: SECRET,
          grantTypes: ['client_credentials'],
          tenant: 'acme_inc',
          agent: true,
        },
      ],
      // The resource indicator is the MCP server's canonical URI, and so is the audience.
      resources: [
        {
          audience: resourceUri,
          indicator: resourceUri,
          scopes: ['mcp.tools', 'crm.read', 'crm.write'],
        },
      ],
    });
    upstream = await startMcpUpstream();
    target = await startMcpProxyUnderTest({
      upstream: upstream.url,
      port,
      authorizationServer: as.issuer,
      issuersYaml: `  - issuer: "${as.issuer}"
    jwks_uri: "${as.jwksUri}"
    audiences: ["replaced-by-the-resource-uri"]
    algorithms: ["ES256", "RS256"]
    token_types: ["at+jwt"]`,
    });
  });
  afterAll(async () => {
    await target.stop();
    await upstream.close();
    await as.stop();
  });

  it('finds the metadata from the 401, gets a token for the resource, and calls an allowed tool', async () => {
    const provider = new ClientCredentialsProvider({
      clientId: 'agent-1',
      clientSecret: SECRET,
      // The SDK's client credentials flow asks for the provider's own scope, not the challenge's.
      scope: 'mcp.tools crm.read',
      expectedIssuer: as.issuer,
    });
    const client = new Client({ name: 'agent-1', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(target.resourceUri), { authProvider: provider }),
    );
    try {
      const tools = await client.listTools();
      expect(tools.tools.map((t) => t.name).sort()).toEqual(['crm.search', 'echo']);
      const result = await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
      expect(result.content).toEqual([{ type: 'text', text: 'echo:{"text":"hi"}' }]);
      // The token the client got names the resource (RFC 8707 `resource`) as its audience.
      const token = provider.tokens()?.access_token ?? '';
      const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as {
        aud: unknown;
        scope: string;
      };
      expect(claims.aud).toBe(target.resourceUri);
      expect(claims.scope.split(' ').sort()).toEqual(['crm.read', 'mcp.tools']);
    } finally {
      await client.close();
    }
    expect(as.stats().grants['client_credentials']).toBeGreaterThan(0);
  });
});
