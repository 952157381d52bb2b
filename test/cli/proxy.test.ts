// `mandate proxy` as a real process: starts from a config file, serves RFC 9728 metadata, challenges, forwards, stops on SIGTERM.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startJwksServer, type JwksServer } from '../helpers/jwks-server.js';
import { examplePolicies, freePort } from '../helpers/mcp-proxy.js';
import { startMcpUpstream, type McpUpstream } from '../helpers/mcp-upstream.js';
import { ISSUER, createTestKey, signToken, type TestKey } from '../helpers/tokens.js';

const MAIN = resolve(import.meta.dirname, '../../dist/cli/main.js');

describe('mandate proxy', () => {
  let jwks: JwksServer;
  let key: TestKey;
  let upstream: McpUpstream;

  beforeAll(async () => {
    key = await createTestKey('ES256');
    jwks = await startJwksServer([key.jwk]);
    upstream = await startMcpUpstream();
  });
  afterAll(async () => {
    await upstream.close();
    await jwks.close();
  });

  it('guards the upstream from a config file and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const uri = `http://127.0.0.1:${port}/mcp`;
    const dir = mkdtempSync(join(tmpdir(), 'mandate-proxy-cli-'));
    const config = join(dir, 'mandate.yaml');
    writeFileSync(
      config,
      `listen: { http: "127.0.0.1:0", grpc: "127.0.0.1:0", admin: "127.0.0.1:0" }
issuers:
  - issuer: "${ISSUER}"
    jwks_uri: "${jwks.url}"
    audiences: ["orders-api"]
    algorithms: ["ES256"]
    token_types: ["at+jwt"]
policies: { dir: "${examplePolicies()}" }
audit: { sink: none }
mcp:
  upstream: "${upstream.url}"
  listen: "127.0.0.1:${port}"
  resources:
    - uri: "${uri}"
      authorization_servers: ["${ISSUER}"]
      scopes_supported: ["mcp.tools", "crm.read"]
`,
    );
    const proc = spawn(process.execPath, [MAIN, 'proxy', '--config', config], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    try {
      await new Promise<void>((resolvePromise, reject) => {
        const timer = setTimeout(() => reject(new Error(`no start: ${stderr}`)), 60_000);
        const check = () => {
          if (stderr.includes('mandate proxy is serving')) {
            clearTimeout(timer);
            resolvePromise();
          } else setTimeout(check, 50);
        };
        check();
      });
      const prm = await fetch(`http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp`);
      expect(((await prm.json()) as { resource: string }).resource).toBe(uri);
      const denied = await fetch(uri, { method: 'POST', body: '{}' });
      expect(denied.status).toBe(400);
      const token = await signToken(key, {
        claims: {
          aud: uri,
          tenant: 'acme_inc',
          client_id: 'agent-1',
          act: { sub: 'agent-1' },
          scope: 'mcp.tools',
        },
      });
      const client = new Client({ name: 'cli-test', version: '1' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(uri), {
          requestInit: { headers: { authorization: `Bearer ${token}` } },
        }),
      );
      expect((await client.callTool({ name: 'echo', arguments: { text: 'x' } })).content).toEqual([
        { type: 'text', text: 'echo:{"text":"x"}' },
      ]);
      await client.close();
      proc.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      proc.kill('SIGKILL');
    }
  }, 90_000);
});
