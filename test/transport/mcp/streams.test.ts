// Streams through mandate proxy with the official SDK on both sides: the GET stream, resumption after a cut, cancellation, large results, sessions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { startStreamUpstream, type StreamUpstream } from '../../helpers/mcp-stream-upstream.js';
import { startMcpProxyUnderTest, type McpProxyUnderTest } from '../../helpers/mcp-proxy.js';

/** A caller without an agent (the example tenant restricts agents' tools, not people's). */
const PERSON = { claims: { act: undefined, client_id: 'crm-web' } };

async function waitFor(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function connect(target: McpProxyUnderTest, scope: string): Promise<Client> {
  const client = new Client(
    { name: 'stream-test', version: '1.0.0' },
    { capabilities: { elicitation: { form: {} } } },
  );
  client.setRequestHandler(ElicitRequestSchema, async () => ({
    action: 'accept',
    content: { ok: true },
  }));
  const transport = new StreamableHTTPClientTransport(new URL(target.resourceUri), {
    requestInit: { headers: { authorization: `Bearer ${await target.token(scope, PERSON)}` } },
    reconnectionOptions: {
      initialReconnectionDelay: 20,
      maxReconnectionDelay: 200,
      reconnectionDelayGrowFactor: 1.5,
      maxRetries: 5,
    },
  });
  await client.connect(transport);
  return client;
}

/** What the client receives besides answers. */
function collect(client: Client): string[] {
  const seen: string[] = [];
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    seen.push('tools/list_changed');
  });
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    seen.push(`log:${String(n.params.data)}`);
  });
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
    seen.push(`updated:${n.params.uri}`);
  });
  return seen;
}

const textOf = (result: unknown) =>
  (result as { content: { text: string }[] }).content[0]?.text ?? '';

for (const mode of ['sse', 'json'] as const) {
  describe(`streams through the proxy, server answering POSTs with ${mode}`, () => {
    let upstream: StreamUpstream;
    let target: McpProxyUnderTest;

    beforeAll(async () => {
      upstream = await startStreamUpstream({ json: mode === 'json' });
      // A small list limit, so a result of a few MiB is far over it.
      target = await startMcpProxyUnderTest({
        upstream: upstream.url,
        mcpYaml: '  list_limit_bytes: 1048576',
      });
    });
    afterAll(async () => {
      await target.stop();
      await upstream.close();
    });

    /** Until the client's GET stream reached the server (messages related to no request go there). */
    function streamOpened(client: Client): Promise<void> {
      const session = (client.transport as StreamableHTTPClientTransport).sessionId;
      return waitFor(
        () =>
          upstream.requests.some(
            (r) => r.method === 'GET' && r.headers['mcp-session-id'] === session,
          ),
        'the GET stream to open',
      );
    }

    it('brings server-initiated notifications over the GET stream, hiding those about resources the caller may not read', async () => {
      for (const [scope, expectUpdated] of [
        ['mcp.tools mcp.resources', true],
        ['mcp.tools', false],
      ] as const) {
        const client = await connect(target, scope);
        try {
          const seen = collect(client);
          await streamOpened(client);
          expect(textOf(await client.callTool({ name: 'notify' }))).toBe('sent');
          await waitFor(
            () => seen.includes('log:hello from the server'),
            'the logging notification',
          );
          // The updated notification is sent last: once the caller saw the log, it would have seen it.
          await new Promise((r) => setTimeout(r, 100));
          expect(seen).toContain('tools/list_changed');
          expect(seen.includes('updated:file:///readme.md')).toBe(expectUpdated);
        } finally {
          await client.close();
        }
      }
      const records = await target.auditRecords();
      expect(records.some((r) => r['action'] === 'mcp.stream' && r['allow'] === true)).toBe(true);
    });

    it("passes a server's request to the client, and decides the client's answer", async () => {
      const client = await connect(target, 'mcp.tools');
      try {
        await streamOpened(client);
        const before = (await target.auditRecords()).length;
        expect(textOf(await client.callTool({ name: 'ask' }))).toBe('accept:{"ok":true}');
        const records = (await target.auditRecords()).slice(before);
        expect(records.find((r) => r['action'] === 'mcp.response')).toMatchObject({ allow: true });
      } finally {
        await client.close();
      }
    });

    it('resumes a stream the server cut: the client comes back with Last-Event-ID, decided like any request', async () => {
      const client = await connect(target, 'mcp.tools');
      try {
        const seen = collect(client);
        const before = upstream.requests.length;
        const result = await client.callTool({ name: 'resumable' });
        expect(textOf(result)).toBe('resumed');
        if (mode === 'sse') {
          // Notification handlers run apart from the answer: give the replayed one a moment.
          await waitFor(() => seen.length >= 2, 'the notification sent after the cut');
          expect(seen).toEqual(['log:before the cut', 'log:after the cut']);
          const resumed = upstream.requests
            .slice(before)
            .find((r) => r.method === 'GET' && r.headers['last-event-id'] !== undefined);
          expect(resumed?.headers['authorization']).toBeUndefined();
          expect(resumed?.headers['x-mandate-subject']).toBe('user_8421');
        }
      } finally {
        await client.close();
      }
    });

    it('forwards a cancellation, and the server sees its request aborted', async () => {
      const client = await connect(target, 'mcp.tools');
      try {
        const abort = new AbortController();
        const call = client
          .callTool({ name: 'slow' }, undefined, { signal: abort.signal })
          .catch((e: unknown) => e);
        const started = upstream.events.length;
        await waitFor(() => upstream.events.includes('slow:started'), 'the tool to start');
        abort.abort('the user changed their mind');
        await call;
        await waitFor(
          () => upstream.events.slice(started).includes('slow:aborted'),
          'the server to see the cancellation',
        );
        const records = await target.auditRecords();
        expect(records.some((r) => r['action'] === 'mcp.notifications/cancelled')).toBe(true);
      } finally {
        await client.close();
      }
    });

    it('aborts the upstream request when the client goes away mid-answer', async () => {
      const client = await connect(target, 'mcp.tools');
      const transport = client.transport as StreamableHTTPClientTransport;
      const session = transport.sessionId ?? '';
      await client.close();
      const before = upstream.requests.length;
      const abort = new AbortController();
      const res = fetch(target.resourceUri, {
        method: 'POST',
        signal: abort.signal,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          authorization: `Bearer ${await target.token('mcp.tools', PERSON)}`,
          'mcp-session-id': session,
          'mcp-protocol-version': '2025-11-25',
        },
        body: '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"slow"}}',
      }).catch((e: unknown) => e);
      await waitFor(
        () => upstream.requests.slice(before).some((r) => r.body.includes('"slow"')),
        'the call to reach the server',
      );
      abort.abort();
      await res;
      const call = upstream.requests.slice(before).find((r) => r.body.includes('"slow"'));
      await waitFor(() => call?.abortedByPeer !== undefined, 'the upstream request to close');
      expect(call?.abortedByPeer).toBe(true);
    });

    it('passes a result of several MiB, far over list_limit_bytes, whole', async () => {
      const client = await connect(target, 'mcp.tools');
      try {
        const bytes = 6 * 1024 * 1024;
        const result = await client.callTool({ name: 'big', arguments: { bytes } });
        expect(textOf(result).length).toBe(bytes);
      } finally {
        await client.close();
      }
    });

    it('forgets a session owner once the session ends, by DELETE or at the server', async () => {
      const start = target.proxy.sessionCount();
      const clients = await Promise.all(
        Array.from({ length: 40 }, () => connect(target, 'mcp.tools')),
      );
      expect(target.proxy.sessionCount()).toBe(start + 40);
      for (const client of clients.slice(0, 30)) {
        await (client.transport as StreamableHTTPClientTransport).terminateSession();
        await client.close();
      }
      expect(target.proxy.sessionCount()).toBe(start + 10);
      for (const client of clients.slice(30)) {
        const transport = client.transport as StreamableHTTPClientTransport;
        await upstream.endSession(transport.sessionId ?? '');
        // The next message learns the session is gone (404): its owner entry goes too.
        await client.ping().catch(() => undefined);
        await client.close();
      }
      expect(target.proxy.sessionCount()).toBe(start);
    });
  });
}
