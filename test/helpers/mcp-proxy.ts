// Starts `mandate proxy` in-process in front of an MCP upstream, trusting a real JWKS endpoint, with the example acme_inc MCP policy.
import { cpSync, mkdirSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { parseConfig } from '../../src/config/load.js';
import { startMcpProxy, type RunningMcpProxy } from '../../src/compose/mcp-proxy.js';
import { startJwksServer, type JwksServer } from './jwks-server.js';
import { readJsonLines } from './json-lines.js';
import { ISSUER, createTestKey, signToken, type SignOptions, type TestKey } from './tokens.js';
import { POLICIES_DIR } from './sidecar.js';

const EXAMPLE_TENANT = resolve(import.meta.dirname, '../../examples/mcp/tenants/acme_inc');

/** A port free right now (the proxy must know its own URI before it listens). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** The repo's base policy with the example acme_inc MCP tenant policy beside it. */
export function examplePolicies(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-mcp-policies-'));
  cpSync(join(POLICIES_DIR, 'base'), join(dir, 'base'), { recursive: true });
  mkdirSync(join(dir, 'tenants'));
  cpSync(EXAMPLE_TENANT, join(dir, 'tenants', 'acme_inc'), { recursive: true });
  return dir;
}

export interface McpProxyUnderTest {
  readonly proxy: RunningMcpProxy;
  readonly jwks: JwksServer;
  readonly key: TestKey;
  /** The canonical resource URI (and the URL clients connect to). */
  readonly resourceUri: string;
  readonly baseUrl: string;
  /** A token for the resource: agent-1 acting for user_8421 in acme_inc, with these scopes. */
  token(scope: string, options?: SignOptions): Promise<string>;
  auditRecords(): Promise<Record<string, unknown>[]>;
  stop(): Promise<void>;
}

export interface McpProxyOptions {
  readonly upstream: string;
  /** Extra YAML keys inside the `mcp:` mapping (indented two spaces). */
  readonly mcpYaml?: string;
  /** Issuer of the authorization server the metadata names. Default the test issuer. */
  readonly authorizationServer?: string;
  /** Replaces the test JWKS issuer block (e.g. to trust a dev authorization server). */
  readonly issuersYaml?: string;
  /** The port to listen on (see freePort); default a free one. */
  readonly port?: number;
  /** Extra YAML keys of the test issuer's entry (indented four spaces). */
  readonly issuerYaml?: string;
  /** Extra YAML keys of the resource entry (indented six spaces). */
  readonly resourceYaml?: string;
  /** Extra top-level YAML sections (e.g. `exchange:`). */
  readonly extraYaml?: string;
  /** The policies directory; default the base policy with the example acme_inc tenant (examplePolicies). */
  readonly policiesDir?: string;
}

export async function startMcpProxyUnderTest(options: McpProxyOptions): Promise<McpProxyUnderTest> {
  const key = await createTestKey('ES256');
  const jwks = await startJwksServer([key.jwk]);
  const port = options.port ?? (await freePort());
  const baseUrl = `http://127.0.0.1:${port}`;
  const resourceUri = `${baseUrl}/mcp`;
  const dir = mkdtempSync(join(tmpdir(), 'mandate-mcp-'));
  const auditPath = join(dir, 'audit.jsonl');
  const config = parseConfig(
    `
listen: { http: "127.0.0.1:0", grpc: "127.0.0.1:0", admin: "127.0.0.1:0" }
issuers:
${
  options.issuersYaml ??
  `  - issuer: "${ISSUER}"
    jwks_uri: "${jwks.url}"
    audiences: ["orders-api"]
    algorithms: ["ES256"]
    token_types: ["at+jwt"]
${options.issuerYaml ?? ''}`
}
policies: { dir: "${options.policiesDir ?? examplePolicies()}" }
audit: { sink: file, path: "${auditPath}" }
mcp:
  upstream: "${options.upstream}"
  listen: "127.0.0.1:${port}"
  resources:
    - uri: "${resourceUri}"
      authorization_servers: ["${options.authorizationServer ?? ISSUER}"]
      scopes_supported: ["mcp.tools", "crm.read", "crm.write", "offline_access"]
      resource_name: "CRM tools"
${options.resourceYaml ?? ''}${options.mcpYaml ?? ''}
${options.extraYaml ?? ''}`,
    { baseDir: dir },
  );
  const proxy = await startMcpProxy(config, pino({ level: 'silent' }));
  return {
    proxy,
    jwks,
    key,
    resourceUri,
    baseUrl,
    token: (scope, o = {}) =>
      signToken(key, {
        ...o,
        claims: {
          aud: resourceUri,
          sub: 'user_8421',
          tenant: 'acme_inc',
          client_id: 'agent-1',
          act: { sub: 'agent-1' },
          scope,
          ...o.claims,
        },
      }),
    async auditRecords() {
      await proxy.core.audit.flush();
      return readJsonLines(auditPath);
    },
    async stop() {
      await proxy.stop(500);
      await jwks.close();
    },
  };
}
