// A revocation ends the streams already open through mandate proxy: SDK client and server, revoked through another sidecar's admin API, shared over a real Redis.
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import {
  examplePolicies,
  startMcpProxyUnderTest,
  type McpProxyUnderTest,
} from '../../helpers/mcp-proxy.js';
import { startPushUpstream, type PushUpstream } from '../../helpers/mcp-push-upstream.js';
import { startRedisServer, type RedisServer } from '../../helpers/redis-server.js';
import { ADMIN_TOKEN, startSidecar, type Sidecar } from '../../helpers/sidecar.js';

let redis: RedisServer;
let admin: Sidecar;
let upstream: PushUpstream;
let target: McpProxyUnderTest;

const revocationYaml = () =>
  `revocation: { store: redis, redis: { url: "${redis.url}", connect_timeout_ms: 3000, retry_max_delay_ms: 200 } }`;

beforeAll(async () => {
  redis = await startRedisServer();
  // The proxy has no admin listener: a fleet revokes through any sidecar sharing its Redis.
  admin = await startSidecar({ yaml: revocationYaml() });
  upstream = await startPushUpstream();
  const policiesDir = examplePolicies();
  cpSync(join(policiesDir, 'tenants', 'acme_inc'), join(policiesDir, 'tenants', 'globex'), {
    recursive: true,
  });
  target = await startMcpProxyUnderTest({
    upstream: upstream.url,
    policiesDir,
    extraYaml: revocationYaml(),
  });
}, 60_000);
afterAll(async () => {
  await target?.stop();
  await upstream?.close();
  await admin?.stop();
  await redis?.stop();
});

async function waitFor(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** An answer of the proxy that was not a success, as the client's fetch saw it. */
interface Refused {
  readonly method: string;
  readonly status: number;
  readonly body: string;
}

/** One caller with a GET stream and a `hold` call open, and what reached it. */
interface Caller {
  readonly client: Client;
  readonly token: string;
  readonly jti: string;
  readonly session: string;
  /** The data of every logging message received, in order. */
  readonly seen: string[];
  readonly refused: Refused[];
  close(): Promise<void>;
}

async function openCaller(sub: string, tenant: string): Promise<Caller> {
  const token = await target.token('mcp.tools', {
    claims: { sub, tenant, act: undefined, client_id: 'crm-web' },
  });
  const jti = (
    JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as {
      jti: string;
    }
  ).jti;
  const seen: string[] = [];
  const refused: Refused[] = [];
  const client = new Client({ name: 'revocation-test', version: '1.0.0' });
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    seen.push(String(n.params.data));
  });
  client.onerror = () => {}; // the refused reconnections, looked at through `refused`
  const transport = new StreamableHTTPClientTransport(new URL(target.resourceUri), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
    reconnectionOptions: {
      initialReconnectionDelay: 20,
      maxReconnectionDelay: 200,
      reconnectionDelayGrowFactor: 1.5,
      maxRetries: 3,
    },
    fetch: async (url, init) => {
      const res = await fetch(url, init);
      if (res.status >= 400) {
        refused.push({
          method: init?.method ?? 'GET',
          status: res.status,
          body: await res.clone().text(),
        });
      }
      return res;
    },
  });
  await client.connect(transport);
  const session = transport.sessionId ?? '';
  await waitFor(
    () =>
      upstream.requests.some((r) => r.method === 'GET' && r.headers['mcp-session-id'] === session),
    'the GET stream to open',
  );
  const call = client
    .callTool({ name: 'hold' }, undefined, { timeout: 60_000 })
    .catch((e: unknown) => e);
  await waitFor(() => seen.includes('call:started'), 'the hold call to start');
  return {
    client,
    token,
    jti,
    session,
    seen,
    refused,
    async close() {
      await client.close();
      await call;
    },
  };
}

/** A `hold` call of the caller's session read off the wire: the text of its stream, and how it ended. */
async function rawHold(caller: Caller): Promise<{ text(): string; ended: Promise<string> }> {
  const res = await fetch(target.resourceUri, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${caller.token}`,
      'mcp-session-id': caller.session,
      'mcp-protocol-version': '2025-11-25',
    },
    body: '{"jsonrpc":"2.0","id":"raw-1","method":"tools/call","params":{"name":"hold"}}',
  });
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = '';
  // Rejects when the stream is broken off instead of ending.
  const ended = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return text;
      text += decoder.decode(value, { stream: true });
    }
  })();
  await waitFor(() => text.includes('call:started'), 'the raw hold call to start');
  return { text: () => text, ended };
}

/** The upstream exchanges of a session: its GET stream and its `hold` calls. */
const exchangesOf = (caller: Caller) =>
  upstream.requests.filter(
    (r) =>
      r.headers['mcp-session-id'] === caller.session &&
      ((r.method === 'GET' && r.headers['last-event-id'] === undefined) ||
        r.body.includes('"hold"')),
  );

async function revoke(body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${admin.adminUrl}/v1/revocations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reason: 'stream test', ...body }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

/**
 * Opens `revoked` and `kept`, revokes, and once the proxy enforces the entry has the upstream
 * send on every stream at once: nothing of it reaches `revoked`, whose streams end (the upstream
 * sees them closed) and whose reconnection is refused with `revoked`; `kept` gets it all.
 */
async function proveCut(
  revoked: Caller,
  kept: Caller,
  body: Record<string, unknown>,
  label: string,
): Promise<void> {
  const raw = await rawHold(revoked);
  await upstream.push(`before-${label}`);
  for (const caller of [revoked, kept]) {
    await waitFor(
      () =>
        caller.seen.includes(`stream:before-${label}`) &&
        caller.seen.includes(`call:before-${label}`),
      'the events sent before the revocation',
    );
  }
  const id = await revoke(body);
  await waitFor(
    () => target.proxy.core.revocation.store.get(id) !== undefined,
    'the proxy to learn of the revocation',
  );
  // No pause: the revocation is known, so whatever the upstream sends from now on must not pass.
  await upstream.push(`after-${label}`);
  await waitFor(
    () => kept.seen.includes(`stream:after-${label}`) && kept.seen.includes(`call:after-${label}`),
    'the other caller to get the events sent after the revocation',
  );
  expect(revoked.seen.filter((s) => s.includes('after'))).toEqual([]);
  // Ended, not broken off: the last chunk came, and nothing sent after the revocation is in it.
  const wire = await raw.ended;
  expect(wire).toContain(`call:before-${label}`);
  expect(wire).not.toContain('after');
  await waitFor(
    () => exchangesOf(revoked).every((r) => r.abortedByPeer === true),
    'the revoked streams to be closed upstream',
  );
  expect(exchangesOf(revoked)).toHaveLength(3);
  expect(exchangesOf(kept).every((r) => r.abortedByPeer === undefined)).toBe(true);
  // The stream ended as a stream ends: the client came back to resume it and was refused.
  await waitFor(
    () => revoked.refused.some((r) => r.method === 'GET' && r.status === 401),
    'the reconnection to be refused',
  );
  const refusal = revoked.refused.find((r) => r.status === 401) as Refused;
  expect(refusal.body).toContain('revoked');
  await upstream.push(`later-${label}`);
  await waitFor(() => kept.seen.includes(`stream:later-${label}`), 'the kept stream to go on');
  expect(revoked.seen.filter((s) => s.includes('later'))).toEqual([]);

  const records = await target.auditRecords();
  const cuts = records.filter(
    (r) => (r['revocation'] as { id?: string } | undefined)?.id === id && r['allow'] === false,
  );
  const cutActions = cuts
    .filter((r) => JSON.stringify(r['reasons']).includes('while its stream was open'))
    .map((r) => r['action'])
    .sort();
  expect(cutActions).toEqual(['mcp.stream', 'mcp.tools/call', 'mcp.tools/call']);
  expect(cuts.every((r) => r['jti'] === revoked.jti)).toBe(true);
}

describe('a revocation ends the streams it matches', () => {
  it('by token (jti): the GET stream and a tools/call stream end; another token of the same user stays', async () => {
    const revoked = await openCaller('user_jti', 'acme_inc');
    const kept = await openCaller('user_jti', 'acme_inc');
    try {
      await proveCut(revoked, kept, { kind: 'token', jti: revoked.jti }, 'jti');
    } finally {
      await revoked.close();
      await kept.close();
    }
  });

  it('by user: every stream of that user ends; another user of the tenant stays', async () => {
    const revoked = await openCaller('user_gone', 'acme_inc');
    const kept = await openCaller('user_stays', 'acme_inc');
    try {
      await proveCut(
        revoked,
        kept,
        { kind: 'subject', tenant: 'acme_inc', sub: 'user_gone' },
        'user',
      );
    } finally {
      await revoked.close();
      await kept.close();
    }
  });

  it('by tenant: the tenant streams end; another tenant stays', async () => {
    const revoked = await openCaller('user_g', 'globex');
    const kept = await openCaller('user_a', 'acme_inc');
    try {
      await proveCut(revoked, kept, { kind: 'tenant', tenant: 'globex' }, 'tenant');
    } finally {
      await revoked.close();
      await kept.close();
    }
  });
});
