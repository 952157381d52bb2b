// `mandate proxy` cuts a plain HTTP answer still streaming once its token is revoked; another caller's answer goes on.
import { randomUUID } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpProxyUnderTest, type HttpProxyUnderTest } from '../../helpers/http-proxy.js';

const ROUTES = `  routes:
    - { method: GET, path: /feed, action: contacts.read }
`;

async function waitFor(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** What one caller read of its feed, and how the read ended. */
interface Reader {
  text(): string;
  /** `ended` when the body completed, `failed` when it was broken off. */
  readonly outcome: Promise<'ended' | 'failed'>;
}

describe('mandate proxy: a revocation cuts a streaming answer', () => {
  let upstream: Server;
  let target: HttpProxyUnderTest;
  /** The feeds the upstream is writing, and whether each closed before it finished. */
  const feeds = new Map<ServerResponse, { closedEarly?: boolean }>();

  beforeAll(async () => {
    upstream = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('open\n');
      const state: { closedEarly?: boolean } = {};
      feeds.set(res, state);
      res.on('close', () => {
        state.closedEarly = !res.writableFinished;
        feeds.delete(res);
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const { port } = upstream.address() as AddressInfo;
    target = await startHttpProxyUnderTest({
      upstream: `http://127.0.0.1:${port}`,
      proxyYaml: ROUTES,
    });
  });
  afterAll(async () => {
    await target?.stop();
    upstream.closeAllConnections();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  const push = (line: string) => {
    for (const res of feeds.keys()) res.write(`${line}\n`);
  };

  async function read(sub: string): Promise<Reader> {
    const token = await target.token('contacts.read', { claims: { sub } });
    const res = await fetch(`${target.baseUrl}/feed`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = '';
    const outcome = (async (): Promise<'ended' | 'failed'> => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return 'ended';
          text += decoder.decode(value, { stream: true });
        }
      } catch {
        return 'failed';
      }
    })();
    await waitFor(() => text.includes('open'), 'the feed to start');
    return { text: () => text, outcome };
  }

  it('cuts the revoked user’s answer the moment the revocation is enforced, as a failure; the other goes on', async () => {
    const revoked = await read('user_gone');
    const kept = await read('user_stays');
    push('before');
    await waitFor(() => revoked.text().includes('before'), 'the line sent before');
    const store = target.proxy.core.revocation.store;
    const now = Date.now();
    // What the admin API adds (the proxy has no admin listener; a fleet shares entries through Redis).
    await store.add({
      id: `rv_${randomUUID()}`,
      kind: 'subject',
      tenant: 'acme_inc',
      value: 'user_gone',
      issuedBeforeMs: now,
      reason: 'left the company',
      createdBy: 'token:00000000',
      createdAtMs: now,
    });
    push('after');
    await waitFor(() => kept.text().includes('after'), 'the other caller to read on');
    // Broken off, not ended: a body cut short must not look complete.
    expect(await revoked.outcome).toBe('failed');
    expect(revoked.text()).not.toContain('after');
    await waitFor(() => feeds.size === 1, 'the revoked upstream answer to be closed');
    const records = await target.auditRecords();
    expect(
      records.some(
        (r) =>
          r['sub'] === 'user_gone' &&
          r['allow'] === false &&
          JSON.stringify(r['reasons']).includes('while its stream was open'),
      ),
    ).toBe(true);
    const refused = await fetch(`${target.baseUrl}/feed`, {
      headers: {
        authorization: `Bearer ${await target.token('contacts.read', { claims: { sub: 'user_gone', iat: Math.floor(now / 1000) - 5 } })}`,
      },
    });
    expect(refused.status).toBe(401);
    await refused.body?.cancel();
    push('later');
    await waitFor(() => kept.text().includes('later'), 'the other caller to read on');
    for (const res of feeds.keys()) res.end();
    expect(await kept.outcome).toBe('ended');
  });
});
