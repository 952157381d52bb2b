// Starts a whole sidecar in-process on port 0 that trusts the dev authorization server, optionally with token exchange configured.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { DEMO_CLIENTS } from '../../src/dev-as/options.js';
import type { DevAuthorizationServer } from '../../src/dev-as/server.js';
import { recordCredential } from './credential-scan.js';
import { startInProcess, testConfigYaml, type InProcessSidecar } from './sidecar.js';

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

/** An in-process sidecar trusting the dev AS; stop() scans its output as the test sidecar's does. */
export type AsSidecar = InProcessSidecar;

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
  const exchange = options.exchangeYaml !== undefined ? `exchange:\n${options.exchangeYaml}` : '';
  const config = parseConfig(
    testConfigYaml({
      issuer: as.issuer,
      jwksUri: as.jwksUri,
      audience: options.audience,
      audit: `{ sink: file, path: "${auditPath}" }`,
      more: `${exchange}\n${options.yaml ?? ''}`,
    }),
    { baseDir: dir },
  );
  return startInProcess(config, auditPath);
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
