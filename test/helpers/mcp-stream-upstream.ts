// A resumable SDK MCP server (event store, retry hint) whose tools exercise streams: server notifications, a closed SSE stream, cancellation, large results.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InMemoryEventStore } from '@modelcontextprotocol/sdk/examples/shared/inMemoryEventStore.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

export interface StreamUpstreamRequest {
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The status the server answered with, once it did. */
  status?: number;
  /** The connection closed before the server finished its answer: the request was aborted. */
  abortedByPeer?: boolean;
}

export interface StreamUpstream {
  readonly url: string;
  readonly requests: StreamUpstreamRequest[];
  /** What the tools saw happen, in order (`slow:started`, `slow:aborted`, ...). */
  readonly events: string[];
  /** Ends a session at the server itself, as an expiry would (the proxy is not told). */
  endSession(sessionId: string): Promise<void>;
  close(): Promise<void>;
}

export interface StreamUpstreamOptions {
  /** Answer POSTs with JSON instead of an SSE stream. Default false (SSE). */
  readonly json?: boolean;
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

function buildServer(events: string[]): McpServer {
  const server = new McpServer(
    { name: 'stream-test', version: '1.0.0' },
    { capabilities: { logging: {}, resources: { subscribe: true } } },
  );
  server.registerResource('readme', 'file:///readme.md', {}, async (uri) => ({
    contents: [{ uri: uri.href, text: '# readme' }],
  }));
  server.registerTool('notify', { description: 'server-initiated messages' }, async () => {
    // Related to no request: they travel on the GET stream.
    server.sendToolListChanged();
    await server.server.sendLoggingMessage({ level: 'info', data: 'hello from the server' });
    await server.server.sendResourceUpdated({ uri: 'file:///readme.md' });
    return { content: [{ type: 'text', text: 'sent' }] };
  });
  server.registerTool('resumable', { description: 'closes its SSE stream' }, async (extra) => {
    await extra.sendNotification({
      method: 'notifications/message',
      params: { level: 'info', data: 'before the cut' },
    });
    // The client must come back with Last-Event-ID to get what follows.
    extra.closeSSEStream?.();
    await wait(100);
    await extra.sendNotification({
      method: 'notifications/message',
      params: { level: 'info', data: 'after the cut' },
    });
    return { content: [{ type: 'text', text: 'resumed' }] };
  });
  server.registerTool('slow', { description: 'runs until cancelled' }, async (extra) => {
    events.push('slow:started');
    await new Promise<void>((resolve) => {
      extra.signal.addEventListener('abort', () => resolve(), { once: true });
      setTimeout(resolve, 10_000);
    });
    events.push(extra.signal.aborted ? 'slow:aborted' : 'slow:finished');
    return { content: [{ type: 'text', text: 'done' }] };
  });
  server.registerTool('ask', { description: 'asks the user through the client' }, async () => {
    // Related to no request: the elicitation travels on the GET stream.
    const answer = await server.server.elicitInput({
      message: 'Proceed?',
      requestedSchema: {
        type: 'object',
        properties: { ok: { type: 'boolean' } },
        required: ['ok'],
      },
    });
    return {
      content: [{ type: 'text', text: `${answer.action}:${JSON.stringify(answer.content ?? {})}` }],
    };
  });
  server.registerTool(
    'big',
    { description: 'a large result', inputSchema: { bytes: z.number() } },
    async ({ bytes }) => ({ content: [{ type: 'text', text: 'x'.repeat(bytes) }] }),
  );
  return server;
}

export async function startStreamUpstream(
  options: StreamUpstreamOptions = {},
): Promise<StreamUpstream> {
  const requests: StreamUpstreamRequest[] = [];
  const events: string[] = [];
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const eventStore = new InMemoryEventStore();
  const http = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const seen: StreamUpstreamRequest = { method: req.method ?? '', headers: req.headers, body };
      requests.push(seen);
      res.once('close', () => {
        seen.status = res.statusCode;
        seen.abortedByPeer = !res.writableFinished;
      });
      const parsed: unknown = body.length > 0 ? JSON.parse(body) : undefined;
      const sessionId = req.headers['mcp-session-id'];
      const existing = typeof sessionId === 'string' ? sessions.get(sessionId) : undefined;
      if (existing) {
        void existing.handleRequest(req, res, parsed);
        return;
      }
      if (typeof sessionId === 'string') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(
          '{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"Session not found"}}',
        );
        return;
      }
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        enableJsonResponse: options.json === true,
        eventStore,
        retryInterval: 50,
        onsessioninitialized: (id) => {
          sessions.set(id, transport);
        },
        onsessionclosed: (id) => {
          sessions.delete(id);
        },
      });
      void buildServer(events)
        .connect(transport)
        .then(() => transport.handleRequest(req, res, parsed));
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    requests,
    events,
    async endSession(sessionId) {
      const transport = sessions.get(sessionId);
      sessions.delete(sessionId);
      await transport?.close();
    },
    async close() {
      await Promise.all([...sessions.values()].map((t) => t.close()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
