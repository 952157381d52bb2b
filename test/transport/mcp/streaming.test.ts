// SSE answers through the proxy: every stream is filtered (a tool call's too, which may carry resource notifications), and a tool result over list_limit_bytes streams on as it comes.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMcpProxyUnderTest, type McpProxyUnderTest } from '../../helpers/mcp-proxy.js';

const LIST_EVENT = `data: ${JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  result: { tools: [{ name: 'echo' }, { name: 'admin.reset' }] },
})}\n\n`;
const FILTERED_EVENT = `data: ${JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  result: { tools: [{ name: 'echo' }] },
})}\n\n`;

/** A resource the caller (scope mcp.tools, not mcp.resources) may not read changed. */
const UPDATED =
  '{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"file:///readme.md"}}';
const RESULT_START = `{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"${'x'.repeat(8192)}`;

describe('SSE answers through the proxy', () => {
  let upstream: Server;
  let target: McpProxyUnderTest;
  /** Ends the upstream's half-sent tools/call event. */
  const upstreamCall: { finish?: () => void } = {};

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const body = Buffer.concat(chunks).toString('utf8');
        if (body.includes('"tools/call"')) {
          // A notification about the call, then the start of a result over list_limit_bytes; the
          // rest only once the client has seen the start.
          res.write(`id: 1\ndata: ${UPDATED}\n\n`);
          res.write(`id: 2\ndata: ${RESULT_START}`);
          upstreamCall.finish = () => res.end('"}]}}\n\n');
          return;
        }
        // tools/list, a GET stream and a resumed stream: a list-shaped answer.
        res.end(LIST_EVENT);
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const { port } = upstream.address() as AddressInfo;
    target = await startMcpProxyUnderTest({
      upstream: `http://127.0.0.1:${port}/mcp`,
      mcpYaml: '  list_limit_bytes: 4096',
    });
  });
  afterAll(async () => {
    await target.stop();
    upstream.closeAllConnections();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  async function send(method: 'POST' | 'GET', body?: string, headers: Record<string, string> = {}) {
    return fetch(target.resourceUri, {
      method,
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${await target.token('mcp.tools')}`,
        ...headers,
      },
      ...(body === undefined ? {} : { body }),
    });
  }

  it("hides a resource notification on a tool call's stream, and passes a result over the limit on before its event ends", async () => {
    const res = await send(
      'POST',
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{}}}',
    );
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let seen = '';
    // The upstream has not ended the result's event: these reads return only if the proxy did not hold it.
    const timeout = setTimeout(
      () => void reader.cancel('the proxy held the unfinished event'),
      5000,
    );
    while (!seen.includes(RESULT_START)) {
      const next = await reader.read();
      expect(next.done).toBe(false);
      seen += decoder.decode(next.value, { stream: true });
    }
    clearTimeout(timeout);
    upstreamCall.finish?.();
    for (let next = await reader.read(); !next.done; next = await reader.read()) {
      seen += decoder.decode(next.value, { stream: true });
    }
    expect(seen).toBe(`id: 1\ndata:\n\nid: 2\ndata: ${RESULT_START}"}]}}\n\n`);
  });

  it('filters the SSE answer to a list request', async () => {
    const res = await send('POST', '{"jsonrpc":"2.0","id":1,"method":"tools/list"}');
    expect(await res.text()).toBe(FILTERED_EVENT);
  });

  it('filters the GET stream, and a resumed stream, which may replay a list answer', async () => {
    expect(await (await send('GET')).text()).toBe(FILTERED_EVENT);
    const resumed = await send('POST', '{"jsonrpc":"2.0","id":1,"method":"ping"}', {
      'last-event-id': '7',
    });
    expect(await resumed.text()).toBe(FILTERED_EVENT);
  });
});
