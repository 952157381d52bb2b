// `mandate proxy` streams plain HTTP both ways without buffering, answers 502/504 for a down or silent upstream, and cancels the upstream when the client leaves.
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../helpers/mcp-proxy.js';
import { startHttpProxyUnderTest, type HttpProxyUnderTest } from '../../helpers/http-proxy.js';
import { rawHttp } from '../../helpers/raw-http.js';

// Long enough that a loaded machine's pauses are not taken for a silent upstream.
const TIMEOUT_MS = 1500;
const ROUTES = `  upstream_timeout_ms: ${TIMEOUT_MS}
  routes:
    - { method: PUT, path: '/echo/{id}', action: contacts.update, resource: { type: contact, id: '{id}' } }
    - { method: GET, path: /hang, action: contacts.read }
    - { method: GET, path: /drip, action: contacts.read }
`;

const CHUNK = 64 * 1024;
const CHUNKS = 512; // 32 MiB each way
/** Random bytes the chunks are cut from (drawing 32 MiB afresh would only load the machine). */
const POOL = randomBytes(CHUNK * 16);
const chunkOf = (i: number) => POOL.subarray((i % 16) * CHUNK, ((i % 16) + 1) * CHUNK);

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
}

describe('mandate proxy: streaming and upstream faults', () => {
  let upstream: Server;
  let target: HttpProxyUnderTest;
  /** The upstream's side of the story: bytes received, answers cancelled. */
  const events = new EventEmitter();

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      if (req.url?.startsWith('/echo/')) {
        // Echoes as it reads: an answer can only start before the upload ends if both directions stream.
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        req.on('data', (chunk: Buffer) => {
          events.emit('received', chunk.length);
          res.write(chunk);
        });
        req.on('end', () => res.end());
        return;
      }
      if (req.url === '/drip') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first\n');
        const timer = setInterval(() => res.write('more\n'), 50);
        res.on('close', () => {
          clearInterval(timer);
          events.emit('drip-closed', res.writableFinished);
        });
        return;
      }
      // /hang: accepts, reads, never answers.
      req.resume();
    });
    const port = await listen(upstream);
    target = await startHttpProxyUnderTest({
      upstream: `http://127.0.0.1:${port}`,
      proxyYaml: ROUTES,
    });
  });
  afterAll(async () => {
    await target.stop();
    await close(upstream);
  });

  it('streams a large body up and the answer down at the same time, byte for byte', async () => {
    const token = await target.token('contacts.write');
    const sent = createHash('sha256');
    const got = createHash('sha256');
    let gotBytes = 0;
    const req = request(`${target.baseUrl}/echo/c_1`, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/octet-stream',
      },
    });
    const first = chunkOf(0);
    sent.update(first);
    req.write(first);
    // The answer's first bytes arrive while the upload is still open: neither side is buffered.
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    expect(res.statusCode).toBe(200);
    const early = new Promise<void>((resolve) => res.once('data', () => resolve()));
    const done = new Promise<void>((resolve, reject) => {
      res.on('data', (chunk: Buffer) => {
        got.update(chunk);
        gotBytes += chunk.length;
      });
      res.on('end', resolve);
      res.on('error', reject);
    });
    await early;
    for (let i = 1; i < CHUNKS; i++) {
      const chunk = chunkOf(i);
      sent.update(chunk);
      if (!req.write(chunk)) await once(req, 'drain');
    }
    req.end();
    await done;
    expect(gotBytes).toBe(CHUNK * CHUNKS);
    expect(got.digest('hex')).toBe(sent.digest('hex'));
  }, 60_000);

  it('cancels the upstream exchange when the client goes away mid-answer', async () => {
    const token = await target.token('contacts.read');
    const closed = once(events, 'drip-closed');
    const req = request(`${target.baseUrl}/drip`, {
      headers: { authorization: `Bearer ${token}` },
    });
    req.end();
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    await once(res, 'data');
    req.destroy();
    const [finished] = (await closed) as [boolean];
    // The upstream's answer was cut, not completed.
    expect(finished).toBe(false);
  });

  it('answers 504 when the upstream stays silent, and keeps serving', async () => {
    const token = await target.token('contacts.read');
    const started = Date.now();
    const res = await rawHttp(target.baseUrl, 'GET', '/hang', [
      ['authorization', `Bearer ${token}`],
    ]);
    expect(res.status).toBe(504);
    expect(JSON.parse(res.text)).toMatchObject({ error: 'upstream_timeout' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS - 100);
    const next = await rawHttp(target.baseUrl, 'GET', '/hang');
    expect(next.status).toBe(401);
  });

  it('answers 502 when the upstream cannot be reached', async () => {
    const down = await startHttpProxyUnderTest({
      upstream: `http://127.0.0.1:${await freePort()}`,
      proxyYaml: ROUTES,
    });
    try {
      const token = await down.token('contacts.read');
      const res = await rawHttp(down.baseUrl, 'GET', '/hang', [
        ['authorization', `Bearer ${token}`],
      ]);
      expect(res.status).toBe(502);
      expect(JSON.parse(res.text)).toMatchObject({ error: 'upstream_unreachable' });
      // A denial is still a denial: nothing is attempted without a decision.
      const anonymous = await rawHttp(down.baseUrl, 'GET', '/hang');
      expect(anonymous.status).toBe(401);
    } finally {
      await down.stop();
    }
  });
});
