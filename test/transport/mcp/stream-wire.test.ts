// Resumption and protocol versions on the wire, where the SDK client hides them: Last-Event-ID replays through the filters, reconnects are decided, bad versions pass to the server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStreamUpstream, type StreamUpstream } from '../../helpers/mcp-stream-upstream.js';
import { startMcpProxyUnderTest, type McpProxyUnderTest } from '../../helpers/mcp-proxy.js';

const VERSION = '2025-11-25';

let upstream: StreamUpstream;
let target: McpProxyUnderTest;

beforeAll(async () => {
  upstream = await startStreamUpstream();
  target = await startMcpProxyUnderTest({ upstream: upstream.url });
});
afterAll(async () => {
  await target.stop();
  await upstream.close();
});

async function send(
  method: 'GET' | 'POST',
  headers: Record<string, string>,
  body?: string,
): Promise<Response> {
  return fetch(target.resourceUri, {
    method,
    headers: {
      accept: method === 'GET' ? 'text/event-stream' : 'application/json, text/event-stream',
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body } : {}),
  });
}

/** The SSE events of a stream (id and data), read until `enough` says so; the stream is then dropped. */
async function eventsOf(
  res: Response,
  enough: (events: { id?: string; data: string }[]) => boolean,
): Promise<{ id?: string; data: string }[]> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const events: { id?: string; data: string }[] = [];
  let text = '';
  while (!enough(events)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = text.indexOf('\n\n')) >= 0) {
      const lines = text.slice(0, end).split('\n');
      text = text.slice(end + 2);
      const id = lines
        .find((l) => l.startsWith('id:'))
        ?.slice(3)
        .trim();
      const data = lines
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trim())
        .join('\n');
      events.push({ ...(id !== undefined ? { id } : {}), data });
    }
  }
  await reader.cancel().catch(() => undefined);
  return events;
}

/** Opens a session as the example agent; its token and session id. */
async function openSession(): Promise<{ token: string; session: string }> {
  const token = await target.token('mcp.tools');
  const auth = { authorization: `Bearer ${token}` };
  const init = await send(
    'POST',
    auth,
    JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: VERSION,
        capabilities: {},
        clientInfo: { name: 'raw', version: '1' },
      },
    }),
  );
  const session = init.headers.get('mcp-session-id') ?? '';
  await init.text();
  const ready = await send(
    'POST',
    { ...auth, 'mcp-session-id': session, 'mcp-protocol-version': VERSION },
    '{"jsonrpc":"2.0","method":"notifications/initialized"}',
  );
  expect(ready.status).toBe(202);
  return { token, session };
}

describe('resumption with Last-Event-ID', () => {
  it('replays missed events through the list filter, to the session owner only', async () => {
    const { token, session } = await openSession();
    const headers = {
      authorization: `Bearer ${token}`,
      'mcp-session-id': session,
      'mcp-protocol-version': VERSION,
    };
    const list = await send('POST', headers, '{"jsonrpc":"2.0","id":2,"method":"tools/list"}');
    const first = await eventsOf(list, (e) => e.some((x) => x.data.includes('"result"')));
    // The priming event (an id, no data) is where a client that lost the stream resumes from.
    const priming = first.find((e) => e.data === '' && e.id !== undefined);
    expect(priming?.id).toBeDefined();
    const listed = JSON.parse(first.find((e) => e.data.includes('"result"'))?.data ?? '{}');
    // notify, resumable, slow and big exist, but agent-1 may call none of them.
    expect(listed.result.tools).toEqual([]);

    const before = upstream.requests.length;
    const lastEventId = priming?.id ?? '';
    const stranger = await target.token('mcp.tools', { claims: { sub: 'user_9999' } });
    const refused = await send('GET', {
      ...headers,
      authorization: `Bearer ${stranger}`,
      'last-event-id': lastEventId,
    });
    expect(refused.status).toBe(404);
    await refused.text();
    const anonymous = await send('GET', {
      'mcp-session-id': session,
      'last-event-id': lastEventId,
    });
    expect(anonymous.status).toBe(401);
    await anonymous.text();
    expect(upstream.requests.length).toBe(before);

    const resumed = await send('GET', { ...headers, 'last-event-id': lastEventId });
    expect(resumed.status).toBe(200);
    const replayed = await eventsOf(resumed, (e) => e.some((x) => x.data.includes('"result"')));
    const again = JSON.parse(replayed.find((e) => e.data.includes('"result"'))?.data ?? '{}');
    expect(again).toMatchObject({ id: 2, result: { tools: [] } });
    const seen = upstream.requests.at(-1);
    expect(seen?.method).toBe('GET');
    expect(seen?.headers['last-event-id']).toBe(lastEventId);
    const records = await target.auditRecords();
    expect(records.filter((r) => r['action'] === 'mcp.stream').map((r) => r['allow'])).toEqual(
      expect.arrayContaining([true, false]),
    );
  });
});

describe('the GET stream and the token that opened it', () => {
  it('ends cleanly when the token expires, and the upstream stream with it', async () => {
    const { session } = await openSession();
    const short = await target.token('mcp.tools', {
      claims: { exp: Math.floor(Date.now() / 1000) + 2 },
    });
    const before = upstream.requests.length;
    const opened = Date.now();
    const stream = await send('GET', {
      authorization: `Bearer ${short}`,
      'mcp-session-id': session,
      'mcp-protocol-version': VERSION,
    });
    expect(stream.status).toBe(200);
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    // Nothing comes on this stream: the read ends only when the stream does, and it ends as a
    // stream does (the client reconnects with a fresh token), not as a network failure.
    const { done } = await reader.read();
    expect(done).toBe(true);
    const lasted = Date.now() - opened;
    expect(lasted).toBeGreaterThan(500);
    expect(lasted).toBeLessThan(4000);
    const get = upstream.requests.slice(before).find((r) => r.method === 'GET');
    for (let i = 0; i < 100 && get?.abortedByPeer === undefined; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(get?.abortedByPeer).toBe(true);
  });
});

describe('MCP-Protocol-Version', () => {
  it('passes an unsupported version to the server, whose 400 reaches the client, and goes on serving', async () => {
    const { token, session } = await openSession();
    for (const version of ['1999-01-01', 'garbage']) {
      const before = upstream.requests.length;
      const res = await send(
        'POST',
        {
          authorization: `Bearer ${token}`,
          'mcp-session-id': session,
          'mcp-protocol-version': version,
        },
        '{"jsonrpc":"2.0","id":3,"method":"ping"}',
      );
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: -32000 } });
      expect(upstream.requests.slice(before)[0]?.headers['mcp-protocol-version']).toBe(version);
    }
    const ok = await send(
      'POST',
      {
        authorization: `Bearer ${token}`,
        'mcp-session-id': session,
        'mcp-protocol-version': VERSION,
      },
      '{"jsonrpc":"2.0","id":4,"method":"ping"}',
    );
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('"id":4');
    const records = await target.auditRecords();
    const garbage = records.find(
      (r) =>
        (r['input'] as { context?: { mcp?: { protocol_version?: string } } })?.context?.mcp
          ?.protocol_version === 'garbage',
    );
    expect(garbage).toMatchObject({ action: 'mcp.ping', allow: true });
  });
});
