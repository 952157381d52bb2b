// Starts `mandate proxy` in-process in front of a plain HTTP upstream (`proxy:`), trusting a real JWKS endpoint, with the repository's policies.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { parseConfig } from '../../src/config/load.js';
import { startMcpProxy, type RunningMcpProxy } from '../../src/compose/mcp-proxy.js';
import { startJwksServer, type JwksServer } from './jwks-server.js';
import { POLICIES_DIR } from './sidecar.js';
import { readJsonLines } from './json-lines.js';
import { AUDIENCE, ISSUER, createTestKey, signToken, type SignOptions } from './tokens.js';

export interface HttpProxyUnderTest {
  readonly proxy: RunningMcpProxy;
  /** http://127.0.0.1:<port> of the proxy. */
  readonly baseUrl: string;
  readonly port: number;
  /** A token for `orders-api`: user_8421 of acme_inc through acme-portal (a person, no agent), with these scopes. */
  token(scope: string, options?: SignOptions): Promise<string>;
  auditRecords(): Promise<Record<string, unknown>[]>;
  stop(): Promise<void>;
}

export interface HttpProxyOptions {
  readonly upstream: string;
  /** The `routes:` list and any other keys, as YAML lines inside `proxy:` (indented two spaces). */
  readonly proxyYaml: string;
}

export async function startHttpProxyUnderTest(
  options: HttpProxyOptions,
): Promise<HttpProxyUnderTest> {
  const key = await createTestKey('ES256');
  const jwks: JwksServer = await startJwksServer([key.jwk]);
  const dir = mkdtempSync(join(tmpdir(), 'mandate-http-proxy-'));
  const auditPath = join(dir, 'audit.jsonl');
  const config = parseConfig(
    `
listen: { http: "127.0.0.1:0", grpc: "127.0.0.1:0", admin: "127.0.0.1:0" }
issuers:
  - issuer: "${ISSUER}"
    jwks_uri: "${jwks.url}"
    audiences: ["${AUDIENCE}"]
    algorithms: ["ES256"]
    token_types: ["at+jwt"]
policies: { dir: "${POLICIES_DIR}" }
audit: { sink: file, path: "${auditPath}" }
proxy:
  upstream: "${options.upstream}"
  listen: "127.0.0.1:0"
${options.proxyYaml}`,
    { baseDir: dir },
  );
  const proxy = await startMcpProxy(config, pino({ level: 'silent' }));
  const port = proxy.http?.port ?? 0;
  return {
    proxy,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    token: (scope, o = {}) =>
      signToken(key, {
        ...o,
        claims: {
          aud: AUDIENCE,
          sub: 'user_8421',
          tenant: 'acme_inc',
          client_id: 'acme-portal',
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
