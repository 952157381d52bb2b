// What the development authorization server serves: its clients, resource servers (audiences) and users, with a ready-made demo set.
import type { JWK } from 'jose';

/** How a client authenticates at the token endpoint. `none`: a public client (PKCE only). */
export type DevClientAuthMethod =
  'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'none';

export interface DevClient {
  readonly clientId: string;
  /** Required for the client_secret_* methods. */
  readonly secret?: string;
  /** Default client_secret_basic (none when there is no secret and no jwks). */
  readonly authMethod?: DevClientAuthMethod;
  /** Public keys for private_key_jwt. */
  readonly jwks?: readonly JWK[];
  /** Grants the client may use; default client_credentials and token exchange. */
  readonly grantTypes?: readonly string[];
  /** Redirect URIs for authorization code with PKCE. */
  readonly redirectUris?: readonly string[];
  /** The tenant put into the client's own (client credentials) tokens. */
  readonly tenant?: string;
  /**
   * An AI agent: tokens a user grants it carry `act: {sub: <client id>}`, so the delegation chain
   * starts with the agent and mandate's policies see it in `subject.act`.
   */
  readonly agent?: boolean;
  /** Tokens issued to this client carry `may_act: {sub: <this>}`: only that party may exchange them. */
  readonly mayAct?: string;
}

export interface DevResource {
  /** The `aud` of tokens for this API, and the RFC 8693 `audience` that selects it. */
  readonly audience: string;
  /** RFC 8707 resource indicator (an absolute URI). Default `urn:mandate:<audience>`. */
  readonly indicator?: string;
  /** Scopes this API understands; a token for it never carries others. */
  readonly scopes: readonly string[];
  /** Access token lifetime, seconds. Default the server's `accessTokenTtlSeconds`. */
  readonly accessTokenTtlSeconds?: number;
}

export interface DevUser {
  readonly tenant: string;
}

export interface DevAsOptions {
  /** Interface to listen on. Default 127.0.0.1. */
  readonly host?: string;
  /** Port; 0 picks a free one. Default 9400. */
  readonly port?: number;
  /** Issuer identifier. Default `http://<host>:<port>` (the bound port). */
  readonly issuer?: string;
  readonly clients?: readonly DevClient[];
  readonly resources?: readonly DevResource[];
  /** Known users and their tenants; anyone else who signs in gets `defaultTenant`. */
  readonly users?: Readonly<Record<string, DevUser>>;
  /** Default acme_inc. */
  readonly defaultTenant?: string;
  /** Default 600. */
  readonly accessTokenTtlSeconds?: number;
  /** Private signing JWKs; default: generated (and kept in `stateDir` when one is given). */
  readonly signingKeys?: readonly JWK[];
  /** Folder to keep generated keys in across restarts; default: keys live only in memory. */
  readonly stateDir?: string;
  /** Serve oidc-provider's built-in login and consent pages (any login, any password). Default true. */
  readonly interactions?: boolean;
}

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';

const SERVICE_GRANTS = ['client_credentials', TOKEN_EXCHANGE_GRANT] as const;
const AGENT_GRANTS = ['authorization_code', 'refresh_token', 'client_credentials'] as const;
const DEMO_REDIRECTS = ['http://127.0.0.1:8400/callback', 'http://localhost:8400/callback'];

/** The demo: acme_inc's CRM and billing services, two agents, and the user from the README. */
export const DEMO_CLIENTS: readonly DevClient[] = [
  {
    clientId: 'agent-1',
    secret: 'agent-1-dev-secret',
    grantTypes: AGENT_GRANTS,
    redirectUris: DEMO_REDIRECTS,
    tenant: 'acme_inc',
    agent: true,
  },
  {
    clientId: 'finance-bot',
    secret: 'finance-bot-dev-secret',
    grantTypes: AGENT_GRANTS,
    redirectUris: DEMO_REDIRECTS,
    tenant: 'acme_inc',
    agent: true,
  },
  {
    clientId: 'crm-service',
    secret: 'crm-service-dev-secret',
    grantTypes: SERVICE_GRANTS,
    tenant: 'acme_inc',
  },
  {
    clientId: 'billing-service',
    secret: 'billing-service-dev-secret',
    grantTypes: SERVICE_GRANTS,
    tenant: 'acme_inc',
  },
];

export const DEMO_RESOURCES: readonly DevResource[] = [
  {
    audience: 'crm-api',
    scopes: [
      'contacts.read',
      'contacts.write',
      'tickets.read',
      'tickets.write',
      // The CRM shows a billing summary it fetches from billing on the user's behalf.
      'billing.view',
    ],
  },
  { audience: 'billing-api', scopes: ['billing.view', 'billing.admin'] },
];

export const DEMO_USERS: Readonly<Record<string, DevUser>> = {
  user_8421: { tenant: 'acme_inc' },
  user_globex: { tenant: 'globex' },
};

export function indicatorOf(resource: DevResource): string {
  return resource.indicator ?? `urn:mandate:${resource.audience}`;
}
