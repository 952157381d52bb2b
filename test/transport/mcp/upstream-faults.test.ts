// An upstream that is down, hangs, or dies mid-stream: the client gets a clear JSON-RPC error or a cut stream, and the proxy goes on serving.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  startMcpProxyUnderTest,
  type McpProxyUnderTest,
} from '../../helpers/mcp-proxy.js';

type Mode = 'hang' | 'die' | 'die-json' | 'ok' | 'no-stream' | 'busy';

describe('upstream faults', () => {
  let mode: Mode = 'ok';
  let upstream: Server;
  let target: McpProxyUnderTest;

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (mode === 'hang') return;
        if (mode === 'no-stream' || mode === 'busy') {
          // A server without a GET stream (MCP: 405) and one shedding load: the headers say what to do.
          res.writeHead(mode === 'busy' ? 503 : 405, {
            'content-type': 'application/json',
            ...(mode === 'busy' ? { 'retry-after': '7' } : { allow: 'POST, DELETE' }),
          });
          res.end('{"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"no"}}');
          return;
        }
        if (mode === 'die-json') {
          const whole = '{"jsonrpc":"2.0","id":1,"result":{"content":[]}}';
          res.writeHead(200, {
            'content-type': 'application/json',
            'content-length': whole.length,
          });
          res.write(whole.slice(0, 20));
          setTimeout(() => res.socket?.destroy(), 20);
          return;
        }
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        if (mode === 'die') {
          res.write('id: 1\ndata: {"jsonrpc":"2.0","id":1,"resu');
          setTimeout(() => res.socket?.destroy(), 20);
          return;
        }
        res.end('data: {"jsonrpc":"2.0","id":1,"result":{}}\n\n');
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const { port } = upstream.address() as AddressInfo;
    target = await startMcpProxyUnderTest({
      upstream: `http://127.0.0.1:${port}/mcp`,
      mcpYaml: '  upstream_timeout_ms: 300',
    });
  });
  afterAll(async () => {
    await target.stop();
    upstream.closeAllConnections();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  async function ping() {
    return fetch(target.resourceUri, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${await target.token('mcp.tools')}`,
      },
      body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
    });
  }

  it('answers 502 with a JSON-RPC error when the upstream does not start answering in time', async () => {
    mode = 'hang';
    const res = await ping();
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ id: 1, error: { code: -32603 } });
  });

  it('cuts the client stream when the upstream dies mid-event, and keeps serving', async () => {
    mode = 'die';
    const res = await ping();
    expect(res.status).toBe(200);
    // The half event is never passed on as if it were whole.
    const body = await res.text().catch(() => 'cut');
    expect(body).not.toContain('"resu');
    mode = 'ok';
    const next = await ping();
    expect(next.status).toBe(200);
    expect(await next.text()).toBe('data: {"jsonrpc":"2.0","id":1,"result":{}}\n\n');
  });

  it('cuts the client answer when the upstream dies mid-JSON answer, and keeps serving', async () => {
    mode = 'die-json';
    const res = await ping();
    expect(res.status).toBe(200);
    // The client's answer ends short of its Content-Length: never taken for a whole one.
    await expect(res.text()).rejects.toThrow();
    mode = 'ok';
    const next = await ping();
    expect(next.status).toBe(200);
  });

  it("passes on the upstream's Allow with a 405 and its Retry-After with a 503", async () => {
    const token = await target.token('mcp.tools');
    mode = 'no-stream';
    const get = await fetch(target.resourceUri, {
      headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` },
    });
    expect(get.status).toBe(405);
    // RFC 9110 §15.5.6: a 405 names the methods the resource does allow.
    expect(get.headers.get('allow')).toBe('POST, DELETE');
    mode = 'busy';
    const busy = await ping();
    expect(busy.status).toBe(503);
    expect(busy.headers.get('retry-after')).toBe('7');
    mode = 'ok';
  });

  it('answers 502 when the upstream is down', async () => {
    const down = await startMcpProxyUnderTest({
      upstream: `http://127.0.0.1:${await freePort()}/mcp`,
    });
    try {
      const res = await fetch(down.resourceUri, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${await down.token('mcp.tools')}`,
        },
        body: '{"jsonrpc":"2.0","id":4,"method":"ping"}',
      });
      expect(res.status).toBe(502);
      expect(await res.json()).toMatchObject({ id: 4, error: { code: -32603 } });
    } finally {
      await down.stop();
    }
  });
});
