// A real MCP server (the official SDK's McpServer over Streamable HTTP) on port 0, recording the headers each request brought.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

export interface McpUpstream {
  /** The Streamable HTTP endpoint, e.g. http://127.0.0.1:PORT/mcp. */
  readonly url: string;
  /** Headers of every request received, in order, with the claims of the token it brought when `verifyToken` checked one. */
  readonly requests: {
    method: string;
    headers: IncomingHttpHeaders;
    body: string;
    claims?: Record<string, unknown>;
  }[];
  /** Tool calls the server ran, by name. */
  readonly calls: string[];
  close(): Promise<void>;
}

export interface McpUpstreamOptions {
  /** Answer POSTs with JSON instead of an SSE stream. Default false (SSE). */
  readonly json?: boolean;
  /**
   * Checks the `Authorization: Bearer` token of every request (an upstream that is a resource
   * server of its own): its claims, or a rejection. A request without one, or whose token is
   * rejected, is answered 401 and reaches no MCP code.
   */
  readonly verifyToken?: (token: string) => Promise<Record<string, unknown>>;
}

/** The tools, resources and prompts the tests' server offers. */
function buildServer(calls: string[]): McpServer {
  const server = new McpServer({ name: 'crm-test', version: '1.0.0' });
  for (const name of ['crm.search', 'crm.delete_contact', 'echo', 'admin.reset']) {
    server.registerTool(
      name,
      {
        description: `the ${name} tool`,
        inputSchema: { text: z.string().optional(), limit: z.number().optional() },
      },
      async (args) => {
        calls.push(name);
        return { content: [{ type: 'text', text: `${name}:${JSON.stringify(args)}` }] };
      },
    );
  }
  server.registerResource(
    'readme',
    'file:///readme.md',
    { mimeType: 'text/markdown' },
    async (uri) => ({
      contents: [{ uri: uri.href, text: '# readme' }],
    }),
  );
  server.registerResource(
    'secrets',
    'file:///secrets.txt',
    { mimeType: 'text/plain' },
    async (uri) => ({
      contents: [{ uri: uri.href, text: 'hunter2' }],
    }),
  );
  server.registerPrompt('summarize', { description: 'summarize' }, () => ({
    messages: [{ role: 'user', content: { type: 'text', text: 'summarize' } }],
  }));
  return server;
}

export async function startMcpUpstream(options: McpUpstreamOptions = {}): Promise<McpUpstream> {
  const requests: McpUpstream['requests'] = [];
  const calls: string[] = [];
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const http = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const entry: McpUpstream['requests'][number] = {
        method: req.method ?? '',
        headers: req.headers,
        body,
      };
      requests.push(entry);
      const verify = options.verifyToken;
      if (verify === undefined) {
        serve(body);
        return;
      }
      const auth = req.headers.authorization ?? '';
      const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
      verify(token).then(
        (claims) => {
          entry.claims = claims;
          serve(body);
        },
        () => {
          res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' });
          res.end();
        },
      );
    });
    function serve(body: string) {
      const parsed: unknown = body.length > 0 ? JSON.parse(body) : undefined;
      const sessionId = req.headers['mcp-session-id'];
      const existing = typeof sessionId === 'string' ? sessions.get(sessionId) : undefined;
      if (existing) {
        void existing.handleRequest(req, res, parsed);
        return;
      }
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        enableJsonResponse: options.json === true,
        onsessioninitialized: (id) => {
          sessions.set(id, transport);
        },
      });
      void buildServer(calls)
        .connect(transport)
        .then(() => transport.handleRequest(req, res, parsed));
    }
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    requests,
    calls,
    async close() {
      await Promise.all([...sessions.values()].map((t) => t.close()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
