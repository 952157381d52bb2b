// A browser page that uses an MCP server the way a web-based client does (raw fetch and the SDK's client), reporting what it could read.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the page is told: where the MCP resource and its metadata are, and the token to send. */
export interface PageConfig {
  readonly mcpUrl: string;
  readonly metadataUrl: string;
  readonly token: string;
}

/** One step's outcome as the page saw it: a value, or the error the browser gave it. */
export type StepOutcome = Record<string, unknown> & { error?: string };

/** The page's report: one outcome per step. */
export interface PageReport {
  readonly challenge: StepOutcome;
  readonly metadata: StepOutcome;
  readonly raw: StepOutcome;
  readonly sdk: StepOutcome;
}

// Runs in the browser. Each step is independent, so a refused one does not hide the others.
const PAGE_SCRIPT = String.raw`
const cfg = JSON.parse(document.getElementById('cfg').textContent);
const out = {};
async function step(name, run) {
  try { out[name] = await run(); } catch (e) { out[name] = { error: String(e && e.message ? e.message : e) }; }
}
const INIT = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {
  protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'browser-page', version: '1' } } });
const base = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const messagesOf = (text) => text.split('\n').filter((l) => l.startsWith('data:')).map((l) => JSON.parse(l.slice(5)));

// No token: the 401 and its challenge, which starts OAuth discovery.
await step('challenge', async () => {
  const res = await fetch(cfg.mcpUrl, { method: 'POST', headers: base, body: INIT });
  await res.text();
  return { status: res.status, wwwAuthenticate: res.headers.get('www-authenticate') };
});
// The RFC 9728 document, as the SDK's discovery asks for it.
await step('metadata', async () => {
  const res = await fetch(cfg.metadataUrl, { headers: { 'mcp-protocol-version': '2025-11-25' } });
  return { status: res.status, resource: (await res.json()).resource };
});
// A bearer token, by hand: initialize, initialized, tools/list, end the session.
await step('raw', async () => {
  const auth = { ...base, authorization: 'Bearer ' + cfg.token };
  const init = await fetch(cfg.mcpUrl, { method: 'POST', headers: auth, body: INIT });
  const sessionId = init.headers.get('mcp-session-id');
  const initialized = messagesOf(await init.text())[0];
  const inSession = { ...auth, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' };
  await fetch(cfg.mcpUrl, { method: 'POST', headers: inSession,
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
  const list = await fetch(cfg.mcpUrl, { method: 'POST', headers: inSession,
    body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }) });
  const listed = messagesOf(await list.text()).find((m) => m.id === 2);
  const end = await fetch(cfg.mcpUrl, { method: 'DELETE', headers: inSession });
  return { status: init.status, sessionId, server: initialized.result.serverInfo.name,
    tools: listed.result.tools.map((t) => t.name), deleted: end.status };
});
// The MCP SDK's own client and Streamable HTTP transport.
await step('sdk', async () => {
  const { Client, StreamableHTTPClientTransport } = await import('/sdk.js');
  const transport = new StreamableHTTPClientTransport(new URL(cfg.mcpUrl),
    { requestInit: { headers: { authorization: 'Bearer ' + cfg.token } } });
  const client = new Client({ name: 'browser-sdk', version: '1' });
  await client.connect(transport);
  const sessionId = transport.sessionId;
  const tools = (await client.listTools()).tools.map((t) => t.name);
  const echo = await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
  await transport.terminateSession();
  await client.close();
  return { sessionId, tools, echo: echo.content[0].text };
});
document.getElementById('out').textContent = JSON.stringify(out);
await fetch('/report', { method: 'POST', body: JSON.stringify(out) });
`;

function pageHtml(config: PageConfig): string {
  // The config is JSON inside a script element: "<" escaped so no value can close it.
  const json = JSON.stringify(config).replace(/</g, '\\u003c');
  return `<!doctype html><html><head><meta charset="utf-8"><title>MCP client</title></head><body>
<script id="cfg" type="application/json">${json}</script>
<pre id="out">pending</pre>
<script type="module">${PAGE_SCRIPT}</script>
</body></html>`;
}

export interface PageServer {
  /** This server's origin, e.g. http://127.0.0.1:PORT: the page's origin in the browser. */
  readonly origin: string;
  /** The page's URL. */
  readonly pageUrl: string;
  /** What the page is told from now on (the MCP side usually starts after this server). */
  configure(config: PageConfig): void;
  /** The next report a page sends. */
  nextReport(timeoutMs: number): Promise<PageReport>;
  close(): Promise<void>;
}

/** Serves the page, the SDK bundle at /sdk.js, and takes the page's report (same origin: no CORS). */
export async function startPageServer(sdkBundle: string): Promise<PageServer> {
  let config: PageConfig | undefined;
  const waiting: ((report: PageReport) => void)[] = [];
  const server: Server = createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/report') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.writeHead(204).end();
        const report = JSON.parse(Buffer.concat(chunks).toString('utf8')) as PageReport;
        waiting.shift()?.(report);
      });
      return;
    }
    const [type, body] =
      req.url === '/sdk.js'
        ? ['text/javascript', sdkBundle]
        : req.url === '/page.html' && config !== undefined
          ? ['text/html; charset=utf-8', pageHtml(config)]
          : ['text/plain', 'not found'];
    res.writeHead(body === 'not found' ? 404 : 200, { 'content-type': type }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    pageUrl: `${origin}/page.html`,
    configure(c) {
      config = c;
    },
    nextReport(timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`the page sent no report within ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiting.push((report) => {
          clearTimeout(timer);
          resolve(report);
        });
      });
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
