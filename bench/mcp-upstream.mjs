// The MCP bench's upstream: the official SDK's McpServer over Streamable HTTP (stateful sessions), exposing BENCH_MCP_TOOLS tools, a large result and a progress stream.
// Prints `{"ready":true,"http":"host:port"}` on stdout once listening (what bench/servers.mjs waits for).
import { Buffer } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

/** Tools in tools/list, the three working ones (echo, blob, stream) included. */
const TOOLS = Number(process.env.BENCH_MCP_TOOLS ?? 100);
/** A session whose initialize names a client ending in this answers with JSON instead of SSE. */
const JSON_CLIENT_SUFFIX = '-json';

/** Result texts by size, built once: the bench measures transport, not string building. */
const texts = new Map();
function textOf(bytes) {
  let text = texts.get(bytes);
  if (text === undefined) {
    text = 'x'.repeat(bytes);
    texts.set(bytes, text);
  }
  return text;
}

/** Filler tools look like a real catalogue: a sentence of description and a small input schema. */
function buildServer() {
  const server = new McpServer({ name: 'mandate-bench-upstream', version: '1.0.0' });
  server.registerTool(
    'echo',
    { description: 'Echoes its text back', inputSchema: { text: z.string() } },
    async ({ text }) => ({ content: [{ type: 'text', text }] }),
  );
  server.registerTool(
    'blob',
    {
      description: 'Answers with a text of the given size',
      inputSchema: { bytes: z.number().int().min(0) },
    },
    async ({ bytes }) => ({ content: [{ type: 'text', text: textOf(bytes) }] }),
  );
  server.registerTool(
    'stream',
    {
      description: 'Sends progress notifications of the given size, then a short result',
      inputSchema: { events: z.number().int().min(0), bytes: z.number().int().min(0) },
    },
    async ({ events, bytes }, extra) => {
      const progressToken = extra._meta?.progressToken;
      if (progressToken !== undefined) {
        const message = textOf(bytes);
        for (let i = 1; i <= events; i++) {
          await extra.sendNotification({
            method: 'notifications/progress',
            params: { progressToken, progress: i, total: events, message },
          });
        }
      }
      return { content: [{ type: 'text', text: `sent ${events}` }] };
    },
  );
  for (let i = 0; i < TOOLS - 3; i++) {
    const name = `tool_${String(i).padStart(3, '0')}`;
    server.registerTool(
      name,
      {
        description: `Looks up records of kind ${i} in the catalogue and returns the matching ones`,
        inputSchema: {
          query: z.string().describe('what to look for'),
          limit: z.number().int().min(1).max(100).optional().describe('at most this many'),
        },
      },
      async () => ({ content: [{ type: 'text', text: name }] }),
    );
  }
  return server;
}

const sessions = new Map();
const http = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const parsed = body.length > 0 ? JSON.parse(body) : undefined;
    const sessionId = req.headers['mcp-session-id'];
    const existing = typeof sessionId === 'string' ? sessions.get(sessionId) : undefined;
    if (existing) {
      void existing.handleRequest(req, res, parsed);
      return;
    }
    const client = parsed?.params?.clientInfo?.name ?? '';
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: client.endsWith(JSON_CLIENT_SUFFIX),
      onsessioninitialized: (id) => sessions.set(id, transport),
    });
    void buildServer()
      .connect(transport)
      .then(() => transport.handleRequest(req, res, parsed));
  });
});
http.keepAliveTimeout = 60_000;
http.listen(0, '127.0.0.1', () => {
  const { port } = http.address();
  process.stdout.write(`${JSON.stringify({ ready: true, http: `127.0.0.1:${port}` })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
