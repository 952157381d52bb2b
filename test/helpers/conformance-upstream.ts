// An MCP server with the MCP conformance suite's fixtures (conformance-fixtures.ts) over Streamable HTTP on port 0: sessions, resumable streams (an event store), Host checks.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  StreamableHTTPServerTransport,
  type EventStore,
} from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { buildFixtureServer } from './conformance-fixtures.js';

export interface ConformanceUpstream {
  /** The Streamable HTTP endpoint, e.g. http://127.0.0.1:PORT/mcp. */
  readonly url: string;
  /** Method and headers of every request received, in order. */
  readonly requests: { method: string; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}

/** Keeps every event per stream so a client reconnecting with Last-Event-ID gets what it missed. */
function createEventStore(): EventStore {
  const events: { id: string; stream: string; message: JSONRPCMessage }[] = [];
  return {
    async storeEvent(stream, message) {
      const id = `${stream}_${events.length}`;
      events.push({ id, stream, message });
      return id;
    },
    async getStreamIdForEventId(eventId) {
      return events.find((e) => e.id === eventId)?.stream;
    },
    async replayEventsAfter(lastEventId, { send }) {
      const at = events.findIndex((e) => e.id === lastEventId);
      if (at < 0) throw new Error('unknown event id');
      const stream = events[at]!.stream;
      for (const e of events.slice(at + 1)) if (e.stream === stream) await send(e.id, e.message);
      return stream;
    },
  };
}

/** Listens on port 0; guards Host like the SDK's servers do (DNS rebinding). */
export async function startConformanceUpstream(): Promise<ConformanceUpstream> {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const requests: ConformanceUpstream['requests'] = [];
  let host = '';
  const http = createServer((req, res) => {
    requests.push({ method: req.method ?? '', headers: req.headers });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let parsed: unknown;
      try {
        parsed = body.length > 0 ? JSON.parse(body) : undefined;
      } catch {
        parsed = body;
      }
      const sessionId = req.headers['mcp-session-id'];
      const existing = typeof sessionId === 'string' ? sessions.get(sessionId) : undefined;
      if (existing !== undefined || typeof sessionId === 'string') {
        if (existing === undefined) {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end(
            '{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"Session not found"}}',
          );
          return;
        }
        void existing.handleRequest(req, res, parsed);
        return;
      }
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        eventStore: createEventStore(),
        retryInterval: 100,
        enableDnsRebindingProtection: true,
        allowedHosts: [host, host.replace('127.0.0.1', 'localhost')],
        onsessioninitialized: (id) => {
          sessions.set(id, transport);
        },
      });
      transport.onclose = () => {
        if (transport.sessionId !== undefined) sessions.delete(transport.sessionId);
      };
      void buildFixtureServer()
        .connect(transport)
        .then(() => transport.handleRequest(req, res, parsed));
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  host = `127.0.0.1:${port}`;
  return {
    url: `http://${host}/mcp`,
    requests,
    async close() {
      await Promise.all([...sessions.values()].map((t) => t.close()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
