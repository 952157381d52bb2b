// What server-everything starts itself reaches the client through mandate proxy: requests to the client (sampling, elicitation, roots) and their answers, progress, and notifications on the GET stream (log messages, resource updates).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { CONFORMANCE_TENANT, allowAllPolicies } from '../../helpers/mcp-conformance.js';
import { startMcpProxyUnderTest, type McpProxyUnderTest } from '../../helpers/mcp-proxy.js';
import { startServerEverything, type ServerEverything } from '../../helpers/server-everything.js';

/** A resource server-everything lets clients subscribe to (it sends updates every 5 s). */
const WATCHED = 'demo://resource/static/document/architecture.md';

let everything: ServerEverything | undefined;
let target: McpProxyUnderTest;

beforeAll(async () => {
  everything = await startServerEverything();
  target = await startMcpProxyUnderTest({
    upstream: everything.url,
    policiesDir: allowAllPolicies(),
  });
});
afterAll(async () => {
  await target?.stop();
  everything?.stop();
});

/** Resolves once `done()` holds, checking every 50 ms; false after `ms`. */
async function eventually(done: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!done() && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  return done();
}

describe('server-initiated messages through mandate proxy', () => {
  it('carries requests to the client, their answers, progress and GET-stream notifications', async () => {
    const token = await target.token('mcp.tools mcp.resources', {
      claims: { tenant: CONFORMANCE_TENANT, client_id: 'conformance', act: undefined },
    });
    const seen: string[] = [];
    const client = new Client(
      { name: 'server-initiated-test', version: '1.0.0' },
      { capabilities: { sampling: {}, elicitation: {}, roots: { listChanged: true } } },
    );
    client.setRequestHandler(CreateMessageRequestSchema, () => {
      seen.push('sampling');
      return { role: 'assistant', content: { type: 'text', text: 'sampled' }, model: 'm' };
    });
    client.setRequestHandler(ElicitRequestSchema, () => {
      seen.push('elicitation');
      return { action: 'decline' };
    });
    client.setRequestHandler(ListRootsRequestSchema, () => {
      seen.push('roots');
      return { roots: [{ uri: 'file:///srv', name: 'srv' }] };
    });
    client.setNotificationHandler(LoggingMessageNotificationSchema, () => {
      seen.push('log');
    });
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      seen.push(`updated ${n.params.uri}`);
    });
    const transport = new StreamableHTTPClientTransport(new URL(target.resourceUri), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    });
    await client.connect(transport);
    try {
      const sampled = await client.callTool({
        name: 'trigger-sampling-request',
        arguments: { prompt: 'hello' },
      });
      expect(JSON.stringify(sampled.content)).toContain('sampled');
      await client.callTool({ name: 'trigger-elicitation-request', arguments: {} });
      const progress: number[] = [];
      await client.callTool(
        { name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } },
        undefined,
        { onprogress: (p) => progress.push(p.progress) },
      );
      expect(progress).toEqual([1, 2, 3]);
      // The roots the client answered on its POST are what the server reports back.
      const roots = await client.callTool({ name: 'get-roots-list', arguments: {} });
      expect(JSON.stringify(roots.content)).toContain('file:///srv');
      await client.subscribeResource({ uri: WATCHED });
      await client.callTool({ name: 'toggle-subscriber-updates', arguments: {} });
      // Updates come on the GET stream, unrelated to any request.
      expect(await eventually(() => seen.includes(`updated ${WATCHED}`), 8000)).toBe(true);
      expect(seen).toEqual(expect.arrayContaining(['sampling', 'elicitation', 'roots', 'log']));
    } finally {
      await transport.terminateSession();
      await client.close();
    }
  }, 30_000);
});
