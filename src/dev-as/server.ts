// The development authorization server: oidc-provider with JWT access tokens, client credentials, PKCE, introspection, revocation and token exchange. Never for production.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, jwtVerify } from 'jose';
import Provider, {
  errors,
  type AdapterPayload,
  type ClientMetadata,
  type Configuration,
} from 'oidc-provider';
import { loadOrCreateSigningKeys, publicJwks } from './keys.js';
import { fetchWithDeadline } from '../lib/fetch-deadline.js';
import { createDevStorage } from './memory-adapter.js';
import {
  DEMO_CLIENTS,
  DEMO_RESOURCES,
  DEMO_USERS,
  TOKEN_EXCHANGE_GRANT,
  indicatorOf,
  type DevAsOptions,
  type DevClient,
  type DevResource,
} from './options.js';
import { registerTokenExchangeGrant, resourceServerInfo } from './token-exchange-grant.js';

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

  // The provider needs its issuer, which needs the bound port: requests wait for it in `route`.
  const route: { handler?: (req: IncomingMessage, res: ServerResponse) => void } = {};
  const server: Server = createServer((req, res) => {
    if (route.handler) route.handler(req, res);
    else res.writeHead(503).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 9400, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
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
  const byIndicator = new Map(resources.map((r) => [indicatorOf(r), r]));
  const counts = { tokenExchangeRequests: 0, grants: {} as Record<string, number> };

  const configuration: Configuration = {
    adapter: (name: string) => storage.factory(name),
    clients: clients.map(clientMetadataOf),
    jwks: { keys } as Configuration['jwks'],
    cookies: { keys: [randomSecret(), randomSecret()] },
    findAccount: async (_ctx, sub) => ({
      accountId: sub,
      claims: async () => ({ sub, tenant: users[sub]?.tenant ?? defaultTenant }),
    }),
    claims: { openid: ['sub'], tenant: ['tenant'] },
    scopes: ['openid', 'offline_access', 'tenant'],
    pkce: { required: () => true },
    ttl: {
      AccessToken: ttl,
      ClientCredentials: ttl,
      AuthorizationCode: 60,
      IdToken: 3600,
      RefreshToken: 86_400,
      Interaction: 3600,
      Session: 86_400,
      Grant: 86_400,
    },
    features: {
      devInteractions: { enabled: options.interactions ?? true },
      clientCredentials: { enabled: true },
      // Any confidential client may introspect (a dev server has no resource-server registry).
      introspection: {
        enabled: true,
        allowedPolicy: async (_ctx, client) => client.clientAuthMethod !== 'none',
      },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, indicator) => {
          const resource = byIndicator.get(indicator);
          if (!resource) throw new errors.InvalidTarget(`unknown resource ${indicator}`);
          return resourceServerInfo(resource, resource.accessTokenTtlSeconds ?? ttl) as never;
        },
      },
    },
    // RFC 9068 tokens carry the tenant; a user's token granted to an agent names the agent in `act`.
    extraTokenClaims: async (_ctx, token) => {
      const existing = (token as { extra?: Record<string, unknown> }).extra;
      if ((token as { gty?: string }).gty === TOKEN_EXCHANGE_GRANT && existing) return existing;
      const client = token.clientId !== undefined ? clientsById.get(token.clientId) : undefined;
      const accountId = (token as { accountId?: string }).accountId;
      const tenant =
        accountId !== undefined
          ? (users[accountId]?.tenant ?? defaultTenant)
          : (client?.tenant ?? defaultTenant);
      return {
        tenant,
        ...(accountId !== undefined && client?.agent ? { act: { sub: client.clientId } } : {}),
        ...(client?.mayAct !== undefined ? { may_act: { sub: client.mayAct } } : {}),
      };
    },
  };

  const provider = new Provider(issuer, configuration);
  registerTokenExchangeGrant(
    provider,
    resources,
    { tokenExchange: () => void counts.tokenExchangeRequests++ },
    ttl,
  );
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
    async clientCredentials(clientId, resource, scope) {
      const client = clientsById.get(clientId);
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
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function randomSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** oidc-provider's client metadata for one dev client. */
function clientMetadataOf(client: DevClient): ClientMetadata {
  const grantTypes = [...(client.grantTypes ?? ['client_credentials', TOKEN_EXCHANGE_GRANT])];
  const redirectUris = [...(client.redirectUris ?? [])];
  const method =
    client.authMethod ??
    (client.secret !== undefined
      ? 'client_secret_basic'
      : client.jwks
        ? 'private_key_jwt'
        : 'none');
  return {
    client_id: client.clientId,
    ...(client.secret !== undefined ? { client_secret: client.secret } : {}),
    ...(client.jwks ? { jwks: { keys: [...client.jwks] } } : {}),
    token_endpoint_auth_method: method,
    grant_types: grantTypes,
    redirect_uris: redirectUris,
    response_types: grantTypes.includes('authorization_code') ? ['code'] : [],
  } as ClientMetadata;
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
