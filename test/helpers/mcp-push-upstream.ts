// A resumable SDK MCP server that sends messages when the test says so: on every session's GET stream, and on the stream of every `hold` call still running.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InMemoryEventStore } from '@modelcontextprotocol/sdk/examples/shared/inMemoryEventStore.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

export interface PushUpstreamRequest {
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** Set once the exchange is over: true when the peer (the proxy) closed it before the server finished. */
  abortedByPeer?: boolean;
}

export interface PushUpstream {
  readonly url: string;
  readonly requests: PushUpstreamRequest[];
  /**
   * Sends `stream:<label>` as a logging message on every session's GET stream (it relates to no
   * request) and `call:<label>` on the stream of every `hold` call still running.
   */
  push(label: string): Promise<void>;
  /** How many `hold` calls are running. */
  holding(): number;
  close(): Promise<void>;
}

type Notify = (data: string) => Promise<void>;

function buildServer(holds: Set<Notify>): McpServer {
  const server = new McpServer(
    { name: 'push-test', version: '1.0.0' },
    { capabilities: { logging: {} } },
  );
  server.registerTool('hold', { description: 'answers when cancelled' }, async (extra) => {
    const notify: Notify = (data) =>
      extra.sendNotification({ method: 'notifications/message', params: { level: 'info', data } });
    holds.add(notify);
    await notify('call:started');
    await new Promise<void>((resolve) => {
      extra.signal.addEventListener('abort', () => resolve(), { once: true });
      setTimeout(resolve, 30_000).unref();
    });
    holds.delete(notify);
    return { content: [{ type: 'text', text: 'released' }] };
  });
  return server;
}

export async function startPushUpstream(): Promise<PushUpstream> {
  const requests: PushUpstreamRequest[] = [];
  const sessions = new Map<
    string,
    { transport: StreamableHTTPServerTransport; server: McpServer }
  >();
  const holds = new Set<Notify>();
  const eventStore = new InMemoryEventStore();
  const http = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const seen: PushUpstreamRequest = { method: req.method ?? '', headers: req.headers, body };
      requests.push(seen);
      res.once('close', () => {
        seen.abortedByPeer = !res.writableFinished;
      });
      const parsed: unknown = body.length > 0 ? JSON.parse(body) : undefined;
      const sessionId = req.headers['mcp-session-id'];
      const existing = typeof sessionId === 'string' ? sessions.get(sessionId) : undefined;
      if (existing) {
        void existing.transport.handleRequest(req, res, parsed);
        return;
      }
      const server = buildServer(holds);
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        eventStore,
        onsessioninitialized: (id) => {
          sessions.set(id, { transport, server });
        },
        onsessionclosed: (id) => {
          sessions.delete(id);
        },
      });
      void server.connect(transport).then(() => transport.handleRequest(req, res, parsed));
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    requests,
    async push(label) {
      // A stream that is gone is no failure of the server's: what it sends there is dropped.
      const sends = [...sessions.values()].map(({ server }) =>
        server.server.sendLoggingMessage({ level: 'info', data: `stream:${label}` }),
      );
      for (const notify of holds) sends.push(notify(`call:${label}`));
      await Promise.allSettled(sends);
    },
    holding: () => holds.size,
    async close() {
      await Promise.all([...sessions.values()].map(({ transport }) => transport.close()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
