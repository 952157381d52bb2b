// The development authorization server: oidc-provider with JWT access tokens, client credentials, PKCE, introspection, revocation and token exchange. Never for production.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, jwtVerify } from 'jose';
import Provider, { type AdapterPayload } from 'oidc-provider';
import { loadOrCreateSigningKeys, publicJwks } from './keys.js';
import { fetchWithDeadline } from '../lib/fetch-deadline.js';
import { createDevStorage, type DevStorage } from './memory-adapter.js';
import {
  DEMO_CLIENTS,
  DEMO_RESOURCES,
  DEMO_USERS,
  indicatorOf,
  type DevAsOptions,
  type DevClient,
  type DevResource,
} from './options.js';
import { providerConfiguration } from './provider-config.js';
import { registerTokenExchangeGrant } from './token-exchange-grant.js';

/** Where the listening server sends requests once the provider is built. */
interface Route {
  handler?: (req: IncomingMessage, res: ServerResponse) => void;
}

/** Token-exchange requests and successful grants, reset by resetStats(). */
interface Counts {
  tokenExchangeRequests: number;
  grants: Record<string, number>;
}

export interface DevAsStats {
  /** Token-exchange requests that reached the grant (valid or not). */
  readonly tokenExchangeRequests: number;
  /** Successful grants by grant_type. */
  readonly grants: Readonly<Record<string, number>>;
}

export interface DevAuthorizationServer {
  readonly issuer: string;
  /** Base URL the server listens on (equal to the issuer unless one was configured). */
  readonly url: string;
  readonly port: number;
  readonly jwksUri: string;
  readonly tokenEndpoint: string;
  readonly resources: readonly DevResource[];
  readonly clients: readonly DevClient[];
  stats(): DevAsStats;
  resetStats(): void;
  /** Mints a client credentials token the normal way (HTTP to its own token endpoint). */
  clientCredentials(clientId: string, resource?: string, scope?: string): Promise<string>;
  stop(): Promise<void>;
}

/** Starts listening, then builds the provider with the bound address as issuer (port 0 works). */
export async function startDevAuthorizationServer(
  options: DevAsOptions = {},
): Promise<DevAuthorizationServer> {
  const host = options.host ?? '127.0.0.1';
  const clients = options.clients ?? DEMO_CLIENTS;
  const resources = options.resources ?? DEMO_RESOURCES;
  const users = options.users ?? DEMO_USERS;
  const defaultTenant = options.defaultTenant ?? 'acme_inc';
  const ttl = options.accessTokenTtlSeconds ?? 600;
  const keys = options.signingKeys
    ? [...options.signingKeys]
    : await loadOrCreateSigningKeys(options.stateDir);

  const { server, route, port, url } = await listen(options.port ?? 9400, host);
  const issuer = options.issuer ?? url;

  const localJwks = createLocalJWKSet(publicJwks(keys));
  const storage = createDevStorage(async (jwt) => {
    try {
      const { payload } = await jwtVerify(jwt, localJwks, { issuer });
      return typeof payload.jti === 'string' ? payload.jti : undefined;
    } catch {
      return undefined;
    }
  });

  const clientsById = new Map(clients.map((c) => [c.clientId, c]));
  const counts: Counts = { tokenExchangeRequests: 0, grants: {} };

  const configuration = providerConfiguration({
    storage,
    clients,
    users,
    defaultTenant,
    ttl,
    keys,
    interactions: options.interactions ?? true,
    byIndicator: new Map(resources.map((r) => [indicatorOf(r), r])),
  });
  const provider = new Provider(issuer, configuration);
  registerTokenExchangeGrant(
    provider,
    resources,
    { tokenExchange: () => void counts.tokenExchangeRequests++ },
    ttl,
  );
  trackTokens(provider, storage, counts);
  route.handler = provider.callback();

  const tokenEndpoint = `${url}/token`;
  return {
    issuer,
    url,
    port,
    jwksUri: `${url}/jwks`,
    tokenEndpoint,
    resources,
    clients,
    stats: () => ({
      tokenExchangeRequests: counts.tokenExchangeRequests,
      grants: { ...counts.grants },
    }),
    resetStats() {
      counts.tokenExchangeRequests = 0;
      counts.grants = {};
    },
    clientCredentials: (clientId, resource, scope) =>
      requestClientCredentials(tokenEndpoint, clientsById.get(clientId), clientId, resource, scope),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** What oidc-provider would have stored for the token had it been opaque. */
function payloadOf(
  token: Record<string, unknown> & {
    jti: string;
    expiration: number;
    constructor: { IN_PAYLOAD: string[] };
  },
): AdapterPayload {
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = { iat: now, exp: now + token.expiration };
  for (const key of token.constructor.IN_PAYLOAD) {
    if (token[key] !== undefined && key !== 'iat' && key !== 'exp') payload[key] = token[key];
  }
  return payload as AdapterPayload;
}

/** The HTTP server, listening; its requests wait (503) until the provider is routed in. */
async function listen(
  portOption: number,
  host: string,
): Promise<{ server: Server; route: Route; port: number; url: string }> {
  // The provider needs its issuer, which needs the bound port: requests wait for it in `route`.
  const route: Route = {};
  const server: Server = createServer((req, res) => {
    if (route.handler) route.handler(req, res);
    else res.writeHead(503).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(portOption, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return { server, route, port, url };
}

/** Keeps issued JWT access tokens for introspection and revocation, and counts grants. */
function trackTokens(provider: Provider, storage: DevStorage, counts: Counts): void {
  // oidc-provider does not store JWT access tokens; keep them so introspection and revocation see them.
  for (const [event, model] of [
    ['access_token.issued', 'AccessToken'],
    ['client_credentials.issued', 'ClientCredentials'],
  ] as const) {
    provider.on(
      event,
      (
        token: Record<string, unknown> & {
          jti: string;
          expiration: number;
          constructor: { IN_PAYLOAD: string[] };
        },
      ) => {
        storage.recordJwt(model, token.jti, payloadOf(token), token.expiration);
      },
    );
  }
  provider.on('grant.success', (ctx: { oidc: { params?: Record<string, unknown> } }) => {
    const grant = String(ctx.oidc.params?.['grant_type'] ?? 'unknown');
    counts.grants[grant] = (counts.grants[grant] ?? 0) + 1;
  });
}

/** Mints a client credentials token through the server's own token endpoint. */
async function requestClientCredentials(
  tokenEndpoint: string,
  client: DevClient | undefined,
  clientId: string,
  resource: string | undefined,
  scope: string | undefined,
): Promise<string> {
  if (!client?.secret) throw new TypeError(`dev-as: ${clientId} has no client secret`);
  const form = new URLSearchParams({ grant_type: 'client_credentials' });
  if (resource !== undefined) form.set('resource', resource);
  if (scope !== undefined) form.set('scope', scope);
  const res = await fetchWithDeadline(
    tokenEndpoint,
    {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(client.secret)}`).toString('base64')}`,
      },
      body: form,
    },
    { timeoutMs: 10_000 },
    async (r) => ({
      ok: r.ok,
      status: r.status,
      body: (await r.json()) as { access_token?: string; error?: string },
    }),
  );
  const { body } = res;
  if (!res.ok || body.access_token === undefined) {
    throw new Error(
      `dev-as: client_credentials for ${clientId} failed: ${body.error ?? res.status}`,
    );
  }
  return body.access_token;
}
