// Starts a whole sidecar in-process on port 0 that trusts the dev authorization server, optionally with token exchange configured.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { parseConfig } from '../../src/config/load.js';
import { DEMO_CLIENTS } from '../../src/dev-as/options.js';
import type { DevAuthorizationServer } from '../../src/dev-as/server.js';
import { startServer, type RunningServer } from '../../src/compose/server.js';
import {
  assertNoCredentials,
  fileSinkOutputs,
  findCredentials,
  queryApiOutput,
  recordCredential,
} from './credential-scan.js';
import { ADMIN_TOKEN, POLICIES_DIR } from './sidecar.js';

/** The dev AS's demo clients plus `pinned-bot`, whose tokens only billing-service may exchange. */
export const EXCHANGE_TEST_CLIENTS = [
  ...DEMO_CLIENTS,
  {
    clientId: 'pinned-bot',
    secret: 'pinned-bot-dev-secret',
    grantTypes: ['authorization_code'],
    redirectUris: ['http://127.0.0.1:8400/callback'],
    agent: true,
    mayAct: 'billing-service',
  },
];

export interface AsSidecar {
  readonly server: RunningServer;
  readonly httpUrl: string;
  readonly adminUrl: string;
  readonly grpcTarget: string;
  auditRecords(): Promise<Record<string, unknown>[]>;
  logText(): string;
  /** Stops the sidecar, then scans its audit output as the test sidecar's stop() does. */
  stop(): Promise<void>;
}

export interface AsSidecarOptions {
  /** The API this sidecar guards: tokens must carry this audience. */
  readonly audience: string;
  /** The `exchange:` mapping as YAML (indented two spaces), or none. */
  readonly exchangeYaml?: string;
  /** More top-level YAML. */
  readonly yaml?: string;
}

export async function startAsSidecar(
  as: DevAuthorizationServer,
  options: AsSidecarOptions,
): Promise<AsSidecar> {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-xchg-'));
  const auditPath = join(dir, 'audit.jsonl');
  const config = parseConfig(
    `
listen: { http: "127.0.0.1:0", grpc: "127.0.0.1:0", admin: "127.0.0.1:0" }
issuers:
  - issuer: "${as.issuer}"
    jwks_uri: "${as.jwksUri}"
    audiences: ["${options.audience}"]
    algorithms: ["ES256", "RS256"]
    token_types: ["at+jwt"]
    jwks_refetch_per_minute: 600
policies: { dir: "${POLICIES_DIR}" }
audit: { sink: file, path: "${auditPath}" }
admin: { tokens: ["${ADMIN_TOKEN}"] }
${options.exchangeYaml !== undefined ? `exchange:\n${options.exchangeYaml}` : ''}
${options.yaml ?? ''}`,
    { baseDir: dir },
  );
  const logLines: string[] = [];
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        logLines.push(chunk.toString());
        done();
      },
    }),
  );
  const server = await startServer(config, logger);
  return {
    server,
    httpUrl: `http://127.0.0.1:${server.http.port}`,
    adminUrl: `http://127.0.0.1:${server.admin.port}`,
    grpcTarget: `127.0.0.1:${server.grpc.port}`,
    async auditRecords() {
      await server.core.audit.flush();
      let text = '';
      try {
        text = readFileSync(auditPath, 'utf8');
      } catch {
        return [];
      }
      return text
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    logText: () => logLines.join(''),
    async stop() {
      const queried = await queryApiOutput(`http://127.0.0.1:${server.admin.port}`, ADMIN_TOKEN);
      await server.stop(2000);
      assertNoCredentials([
        ...(queried !== undefined ? findCredentials(queried, 'GET /v1/decisions') : []),
        ...fileSinkOutputs(config.audit.sinks).flatMap(([path, text]) =>
          findCredentials(text, path),
        ),
        ...findCredentials(logLines.join(''), 'the operational log'),
      ]);
    },
  };
}

/** The `exchange:` YAML for a sidecar acting as `clientId` with a client secret at the dev AS. */
export function exchangeYaml(
  as: DevAuthorizationServer,
  clientId: string,
  secret: string,
  extra = '',
): string {
  recordCredential(secret, `the client secret of ${clientId}`);
  return `  token_endpoint: "${as.tokenEndpoint}"
  client_id: "${clientId}"
  client_secret: "${secret}"
${extra}`;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
}

/** POSTs JSON to a sidecar route. */
export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<HttpAnswer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    headers: res.headers,
    body: (await res.json()) as Record<string, unknown>,
  };
}
