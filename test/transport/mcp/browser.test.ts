// mandate proxy in front of an MCP server, used by a real browser (headless chromium): a page on an allowed origin works with fetch and the SDK's client, one on another origin is refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleMcpSdk, findChromium, openPage } from '../../helpers/browser/headless-chromium.js';
import {
  startPageServer,
  type PageReport,
  type PageServer,
} from '../../helpers/browser/mcp-page.js';
import { startMcpUpstream, type McpUpstream } from '../../helpers/mcp-upstream.js';
import { startMcpProxyUnderTest, type McpProxyUnderTest } from '../../helpers/mcp-proxy.js';

const chromium = findChromium();
// CI installs chromium (.ci/run): there its absence is a failure, not a skip.
const inCi = process.env['CI'] !== undefined && process.env['CI'] !== 'false';
if (chromium === undefined && !inCi) {
  console.warn(
    'browser.test.ts skipped: no chromium on PATH (apt-get install -y chromium; CI installs it)',
  );
}

const PAGE_TIMEOUT_MS = 60_000;

let upstream: McpUpstream;
let target: McpProxyUnderTest;
let allowed: PageServer;
let foreign: PageServer;

describe.skipIf(chromium === undefined && !inCi)('a browser-based MCP client', () => {
  beforeAll(async () => {
    const sdk = await bundleMcpSdk();
    allowed = await startPageServer(sdk);
    foreign = await startPageServer(sdk);
    upstream = await startMcpUpstream();
    target = await startMcpProxyUnderTest({
      upstream: upstream.url,
      mcpYaml: `  allowed_origins: ["${allowed.origin}"]\n`,
    });
    const config = {
      mcpUrl: target.resourceUri,
      metadataUrl: `${target.baseUrl}/.well-known/oauth-protected-resource/mcp`,
      token: await target.token('mcp.tools crm.read'),
    };
    allowed.configure(config);
    foreign.configure(config);
  }, 60_000);
  afterAll(async () => {
    await target?.stop();
    await upstream?.close();
    await allowed?.close();
    await foreign?.close();
  });

  /** Opens the page in chromium and waits for what it reports. */
  async function visit(server: PageServer): Promise<PageReport> {
    if (chromium === undefined) throw new Error('chromium is not installed (CI must install it)');
    const report = server.nextReport(PAGE_TIMEOUT_MS);
    const page = openPage(chromium, server.pageUrl);
    try {
      return await report;
    } finally {
      page.close();
    }
  }

  it(
    'on an allowed origin: reads the 401 challenge, the metadata, Mcp-Session-Id, and lists tools by fetch and by the SDK',
    async () => {
      const report = await visit(allowed);
      expect(report.challenge).toEqual({
        status: 401,
        wwwAuthenticate: expect.stringContaining(
          `resource_metadata="${target.baseUrl}/.well-known/oauth-protected-resource/mcp"`,
        ),
      });
      expect(report.metadata).toEqual({ status: 200, resource: target.resourceUri });
      expect(report.raw).toEqual({
        status: 200,
        sessionId: expect.stringMatching(/.+/),
        server: 'crm-test',
        // Filtered by the example policy: agent-1 may use crm.search and echo only.
        tools: ['crm.search', 'echo'],
        deleted: 200,
      });
      expect(report.sdk).toEqual({
        sessionId: expect.stringMatching(/.+/),
        tools: ['crm.search', 'echo'],
        echo: expect.stringContaining('echo:'),
      });
    },
    PAGE_TIMEOUT_MS + 10_000,
  );

  it(
    'on another origin: every request to the resource fails in the browser and none reaches the upstream; the public metadata is still readable',
    async () => {
      const before = upstream.requests.length;
      const report = await visit(foreign);
      for (const step of [report.challenge, report.raw, report.sdk]) {
        expect(step.error).toEqual(expect.any(String));
      }
      expect(report.metadata).toEqual({ status: 200, resource: target.resourceUri });
      expect(upstream.requests.length).toBe(before);
    },
    PAGE_TIMEOUT_MS + 10_000,
  );
});
