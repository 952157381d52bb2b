// oidc-provider's configuration for the development authorization server: clients, tokens, features and the claims mandate expects.
import { randomBytes } from 'node:crypto';
import { errors, type ClientMetadata, type Configuration } from 'oidc-provider';
import type { DevStorage } from './memory-adapter.js';
import { TOKEN_EXCHANGE_GRANT, type DevClient, type DevResource, type DevUser } from './options.js';
import { resourceServerInfo } from './token-exchange-grant.js';

/** What the provider's configuration is made from. */
export interface ProviderConfigurationOptions {
  readonly storage: DevStorage;
  readonly clients: readonly DevClient[];
  readonly users: Readonly<Record<string, DevUser>>;
  readonly defaultTenant: string;
  /** Access-token lifetime, seconds. */
  readonly ttl: number;
  readonly keys: unknown[];
  readonly interactions: boolean;
  /** Resources by their indicator (URI). */
  readonly byIndicator: ReadonlyMap<string, DevResource>;
}

/** The oidc-provider configuration of the dev server. */
export function providerConfiguration(options: ProviderConfigurationOptions): Configuration {
  const { storage, clients, users, defaultTenant, ttl, keys, byIndicator } = options;
  const clientsById = new Map(clients.map((c) => [c.clientId, c]));
  return {
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
      devInteractions: { enabled: options.interactions },
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
