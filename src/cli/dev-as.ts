// `mandate dev-as`: run the development authorization server (oidc-provider) with the demo clients, and say how to use it. Never for production.
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { startDevAuthorizationServer, type DevAuthorizationServer } from '../dev-as/server.js';
import { indicatorOf } from '../dev-as/options.js';
import { UsageError } from './usage-error.js';

/** A fixed PKCE verifier for the printed browser URL, so it works as printed (dev only: a real client makes a fresh one). */
const DEMO_VERIFIER = 'dev-verifier-0123456789-0123456789-0123456789';
const DEMO_CHALLENGE = createHash('sha256').update(DEMO_VERIFIER).digest('base64url');

export const DEV_AS_USAGE = `usage: mandate dev-as [--host 127.0.0.1] [--port 9400] [--issuer URL] [--state-dir .mandate]`;

export interface DevAsCommandOptions {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly err: (text: string) => void;
}

/** `mandate dev-as`'s flags, as declared in program.ts. */
export interface DevAsFlags {
  readonly host?: string;
  readonly port?: string;
  readonly issuer?: string;
  readonly 'state-dir'?: string;
}

/** Reads the flags, starts the server, prints the banner; resolves with the running server. */
export async function devAs(
  values: DevAsFlags,
  options: DevAsCommandOptions,
): Promise<DevAuthorizationServer> {
  const port = Number(values.port ?? options.env['MANDATE_DEV_AS_PORT'] ?? 9400);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new UsageError(
      `--port: must be a port number, got ${JSON.stringify(values.port)}\n${DEV_AS_USAGE}`,
    );
  }
  const issuer = values.issuer ?? options.env['MANDATE_DEV_AS_ISSUER'];
  if (issuer !== undefined && !/^https?:\/\//.test(issuer)) {
    throw new UsageError(`--issuer: must be an http(s) URL\n${DEV_AS_USAGE}`);
  }
  const server = await startDevAuthorizationServer({
    host: values.host ?? options.env['MANDATE_DEV_AS_HOST'] ?? '127.0.0.1',
    port,
    ...(issuer !== undefined ? { issuer } : {}),
    stateDir: resolve(values['state-dir'] ?? options.env['MANDATE_STATE_DIR'] ?? '.mandate'),
  });
  options.err(banner(server));
  return server;
}

function banner(as: DevAuthorizationServer): string {
  const line = '='.repeat(78);
  const clients = as.clients
    .map(
      (c) =>
        `    ${c.clientId.padEnd(16)} secret ${c.secret ?? '(public)'}${c.agent ? '   (agent)' : ''}`,
    )
    .join('\n');
  const resources = as.resources
    .map(
      (r) =>
        `    ${r.audience.padEnd(16)} resource ${indicatorOf(r)}   scopes: ${r.scopes.join(' ')}`,
    )
    .join('\n');
  return [
    line,
    '  DEVELOPMENT authorization server (oidc-provider). For local development and tests ONLY:',
    '  any login and password is accepted, clients and secrets are public demo values, and',
    '  everything is kept in memory. Never expose it or trust it in production.',
    line,
    `  Issuer          ${as.issuer}`,
    `  Metadata        ${as.url}/.well-known/openid-configuration`,
    `  JWKS            ${as.jwksUri}`,
    `  Token           ${as.tokenEndpoint}   (client credentials, authorization code + PKCE, token exchange)`,
    `  Introspection   ${as.url}/token/introspection`,
    `  Revocation      ${as.url}/token/revocation`,
    '',
    '  Clients:',
    clients,
    '  APIs (audiences):',
    resources,
    '',
    '  A service token:',
    `    curl -s -u crm-service:crm-service-dev-secret ${as.tokenEndpoint} \\`,
    '      -d grant_type=client_credentials -d resource=urn:mandate:crm-api -d scope=contacts.read',
    '',
    '  A user token for an agent: open this in a browser,',
    `    ${as.url}/auth?client_id=finance-bot&response_type=code&scope=contacts.read%20billing.view&resource=urn:mandate:crm-api&redirect_uri=http://127.0.0.1:8400/callback&code_challenge=${DEMO_CHALLENGE}&code_challenge_method=S256`,
    '  sign in as user_8421 (any password), consent, then redeem the code from the redirect:',
    `    curl -s -u finance-bot:finance-bot-dev-secret ${as.tokenEndpoint} -d grant_type=authorization_code \\`,
    '      -d code=CODE -d redirect_uri=http://127.0.0.1:8400/callback -d resource=urn:mandate:crm-api \\',
    `      -d code_verifier=${DEMO_VERIFIER}`,
    line,
    '',
  ].join('\n');
}
