// Large answers through mandate proxy: a 200 MB tool result streams (first bytes before the upstream ends, the upstream held back while the client does not read); an oversize list is refused cleanly.
import {
  request,
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMcpProxyUnderTest, type McpProxyUnderTest } from '../../helpers/mcp-proxy.js';

const MiB = 1024 * 1024;
const TOTAL = 200 * MiB;
const HEAD = '{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"';
const TAIL = '"}]}}';
const PERSON = { claims: { act: undefined, client_id: 'crm-web' } };

/** How far the upstream has got writing the big answer. */
type Progress = { sent: number };
type Plan =
  | { kind: 'big'; sse: boolean; gate: Promise<void>; progress: Progress }
  | { kind: 'list'; sse: boolean };

/** Writes `bytes` of filler, waiting for the reader each time the socket buffer is full. */
async function writeFiller(res: ServerResponse, bytes: number, progress: Progress): Promise<void> {
  const chunk = Buffer.alloc(64 * 1024, 'x');
  for (let sent = 0; sent < bytes; sent += chunk.length) {
    progress.sent += chunk.length;
    if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
  }
}

/** Resolves once `progress.sent` has not moved for `quietMs` (or after `maxMs`), with the bytes sent by then. */
async function settled(progress: Progress, quietMs: number, maxMs: number): Promise<number> {
  const started = Date.now();
  let last = -1;
  let still = Date.now();
  while (Date.now() - started < maxMs) {
    if (progress.sent !== last) {
      last = progress.sent;
      still = Date.now();
    } else if (Date.now() - still >= quietMs) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return progress.sent;
}

async function answer(plan: Plan, res: ServerResponse): Promise<void> {
  res.writeHead(200, { 'content-type': plan.sse ? 'text/event-stream' : 'application/json' });
  if (plan.kind === 'list') {
    const tools = Array.from({ length: 2000 }, (_, i) => ({
      name: `tool-${i}`,
      description: 'd'.repeat(1000),
    }));
    const list = JSON.stringify({ result: { tools }, jsonrpc: '2.0', id: 1 });
    res.end(plan.sse ? `id: 1\ndata: ${list}\n\n` : list);
    return;
  }
  res.write(plan.sse ? `id: 1\ndata: ${HEAD}` : HEAD);
  // Past list_limit_bytes, the most the proxy may hold of one event to see whether it is a list.
  await writeFiller(res, 2 * MiB, plan.progress);
  // The rest only once the client has the first bytes: a proxy that buffers never gets here.
  await plan.gate;
  await writeFiller(res, TOTAL - 2 * MiB, plan.progress);
  res.end(plan.sse ? `${TAIL}\n\n` : TAIL);
}

describe('large answers', () => {
  let plan: Plan = { kind: 'list', sse: false };
  let upstream: Server;
  let target: McpProxyUnderTest;

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      req.resume();
      req.on('end', () => void answer(plan, res).catch(() => res.destroy()));
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const { port } = upstream.address() as AddressInfo;
    target = await startMcpProxyUnderTest({
      upstream: `http://127.0.0.1:${port}/mcp`,
      mcpYaml: '  list_limit_bytes: 1048576',
    });
  });
  afterAll(async () => {
    await target.stop();
    upstream.closeAllConnections();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  /** POSTs a message; resolves with the status, the whole body's size and its start and end; `onFirstBytes` gets the answer stream. */
  async function call(
    body: string,
    onFirstBytes: (res: IncomingMessage) => void = () => undefined,
  ) {
    const token = await target.token('mcp.tools', PERSON);
    const url = new URL(target.resourceUri);
    return new Promise<{ status: number; size: number; head: string; tail: string }>(
      (resolve, reject) => {
        const req = request(
          {
            host: url.hostname,
            port: url.port,
            path: url.pathname,
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              accept: 'application/json, text/event-stream',
              authorization: `Bearer ${token}`,
            },
          },
          (res) => {
            let size = 0;
            let head = '';
            let tail = '';
            res.on('data', (c: Buffer) => {
              if (size === 0) onFirstBytes(res);
              size += c.length;
              if (head.length < 200) head += c.toString('latin1');
              tail = (tail + c.toString('latin1')).slice(-200);
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, size, head, tail }));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(body);
      },
    );
  }

  for (const sse of [true, false]) {
    it(`streams a 200 MB tool result (${sse ? 'SSE' : 'JSON'}): first bytes before the upstream ends, the upstream held back while the client does not read`, async () => {
      let open!: () => void;
      const gate = new Promise<void>((r) => (open = r));
      // A proxy that buffers the answer never lets the first bytes through, and the gate stays shut.
      const shut = setTimeout(() => open(), 10_000);
      const progress: Progress = { sent: 0 };
      let firstBytesAt = 0;
      let heldBack = Promise.resolve(0);
      plan = { kind: 'big', sse, gate, progress };
      const started = Date.now();
      const out = await call(
        '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}',
        (answer) => {
          firstBytesAt = Date.now();
          // The client stops reading: a proxy that honours backpressure stops reading the upstream
          // once the socket buffers on both sides are full; one that reads on holds the answer in memory.
          answer.pause();
          open();
          heldBack = settled(progress, 500, 20_000).then((sent) => {
            answer.resume();
            return sent;
          });
        },
      ).finally(() => clearTimeout(shut));
      const heldBackMiB = (await heldBack) / MiB;
      console.log(
        `${sse ? 'SSE' : 'JSON'}: ${TOTAL / MiB} MiB in ${Date.now() - started} ms, first bytes after ${firstBytesAt - started} ms, upstream held back after ${heldBackMiB.toFixed(1)} MiB`,
      );
      expect(out.status).toBe(200);
      expect(firstBytesAt - started).toBeLessThan(9_000);
      const framing = sse ? 'id: 1\ndata: '.length + 2 : 0;
      expect(out.size).toBe(HEAD.length + TOTAL + TAIL.length + framing);
      expect(out.head.startsWith(sse ? `id: 1\ndata: ${HEAD}` : HEAD)).toBe(true);
      expect(out.tail.endsWith(sse ? `${TAIL}\n\n` : TAIL)).toBe(true);
      expect(heldBackMiB).toBeLessThan(64);
    }, 120_000);
  }

  it('refuses a list answer over list_limit_bytes with a JSON-RPC error, in JSON and in SSE', async () => {
    const list = '{"jsonrpc":"2.0","id":1,"method":"tools/list"}';
    plan = { kind: 'list', sse: false };
    const json = await call(list);
    expect(json.status).toBe(502);
    expect(JSON.parse(json.head)).toMatchObject({ id: 1, error: { code: -32603 } });
    plan = { kind: 'list', sse: true };
    const sse = await call(list);
    expect(sse.status).toBe(200);
    expect(sse.head).toBe(
      'data: {"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"the upstream list answer is too large to filter"}}\n\n',
    );
    expect(sse.size).toBe(sse.head.length);
  });
});
