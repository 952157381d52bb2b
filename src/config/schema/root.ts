// The whole config file's schema: one section per component, with types, bounds, defaults and descriptions.
import { Type, type Static } from '@sinclair/typebox';
import { DEFAULT_MAX_NESTING_DEPTH } from '../../lib/nesting.js';
import { auditSchema } from './audit.js';
import { bool, int, oneOf, section, str } from './build.js';
import { envoySchema } from './envoy.js';
import { exchangeSchema } from './exchange.js';
import { issuerProperties } from './issuer.js';
import { mcpSchema } from './mcp.js';
import { proxySchema } from './proxy.js';
import { policiesSchema } from './policies.js';
import { revocationSchema } from './revocation.js';

export const DEV_ISSUER = 'https://dev.mandate.local';
export const DEV_AUDIENCE = 'dev-api';

function listen(fallback: string, description: string) {
  return str({
    default: fallback,
    pattern: '^(?:\\[[^\\]]+\\]|[^:]+):\\d{1,5}$',
    errorMessage: { pattern: 'must be host:port, got {value}' },
    description: `${description} \`host:port\` or \`[v6]:port\`; port 0 picks a free port.`,
  });
}

const issuer = section(issuerProperties, { description: 'A trusted token issuer.' });

const adminJwt = section(
  {
    ...issuerProperties,
    required_scope: str({
      default: 'mandate.admin',
      pattern: '^[\\x21\\x23-\\x5B\\x5D-\\x7E]+$',
      errorMessage: { pattern: 'must be one OAuth scope token' },
      description: 'Scope an admin JWT must carry (`403` without it).',
    }),
    tenant_claim: str({
      default: 'tenant',
      description:
        'Claim naming the one tenant an admin may act in; a token without it may act in every tenant.',
    }),
  },
  {
    'x-default': 'off',
    description:
      'Admin JWTs: an issuer (same keys as `issuers[]`: `issuer`, `jwks_uri`/`jwks_file`, `audiences`, …) plus `required_scope` and `tenant_claim`.',
  },
);

/** The config file, as written (snake_case keys); `Static<typeof configFileSchema>` after defaults. */
export const configFileSchema = section(
  {
    listen: section(
      {
        http: listen('127.0.0.1:8181', 'HTTP Check API, `/health`, `/ready`, `/metrics`:'),
        grpc: listen('127.0.0.1:9191', 'gRPC Check API, health and reflection:'),
        admin: listen('127.0.0.1:8182', 'Admin API:'),
      },
      { default: {}, description: 'Listen addresses.' },
    ),
    issuers: Type.Array(issuer, {
      default: [],
      description:
        'Trusted issuers; a token is matched by its `iss` before any key is used. At least one, unless `dev.enabled`.',
    }),
    token: section(
      {
        max_token_bytes: int(512, 1_048_576, {
          default: 16_384,
          description: 'Longer tokens are refused (`token_malformed`) before parsing, bytes.',
        }),
        cache_max_entries: int(0, 10_000_000, {
          default: 10_000,
          description:
            "Verified-token cache (bounded, second-chance eviction); an entry is never served at or after the token's `exp`; `0` disables.",
        }),
      },
      { default: {}, description: 'Token verification.' },
    ),
    tenancy: section(
      { claim: str({ default: 'tenant', description: 'Claim with the tenant id.' }) },
      { default: {}, description: 'Where the tenant id lives in the token.' },
    ),
    policies: policiesSchema,
    audit: auditSchema,
    http: section(
      {
        body_limit_bytes: int(1024, 16_777_216, {
          default: 65_536,
          description: 'Larger `/v1/check` bodies get 413, bytes.',
        }),
      },
      { default: {}, description: 'The HTTP Check API.' },
    ),
    limits: section(
      {
        max_nesting_depth: int(1, 1000, {
          default: DEFAULT_MAX_NESTING_DEPTH,
          description:
            'Deepest nesting (objects and arrays) of `resource.attributes`, `context` and parsed Envoy bodies; deeper is refused naming the field: `/v1/check` 400, gRPC Check `INVALID_ARGUMENT` (protobuf decoding caps Structs at 32 levels there), Envoy a 400 `request_invalid` denial.',
        }),
      },
      { default: {}, description: 'Bounds every transport applies to what a request may hold.' },
    ),
    admin: section(
      {
        tokens: Type.Array(
          Type.String({
            minLength: 32,
            errorMessage: { minLength: 'must be at least 32 characters' },
          }),
          {
            default: [],
            description:
              'Static admin bearer tokens (each at least 32 characters), compared in constant time; `MANDATE_ADMIN_TOKENS` (comma-separated) overrides; dev mode generates one into `<dev.state_dir>/admin-token`.',
          },
        ),
        jwt: Type.Optional(adminJwt),
      },
      { default: {}, description: 'Who may call the admin API.' },
    ),
    dev: section(
      {
        enabled: bool({
          default: false,
          'x-default': '`false` with a config file, `true` without',
          description: 'Trust the local dev issuer (see [Dev AS](dev-as.md)).',
        }),
        state_dir: str({
          default: '.mandate',
          description:
            'Where the dev signing key, the admin token and other state are kept (`./.mandate`).',
        }),
        issuer: str({ default: DEV_ISSUER, description: "The dev issuer's `iss`." }),
        audience: str({ default: DEV_AUDIENCE, description: "The dev issuer's `aud`." }),
      },
      { default: {}, description: 'Dev mode.' },
    ),
    envoy: envoySchema,
    exchange: Type.Optional(exchangeSchema),
    mcp: Type.Optional(mcpSchema),
    proxy: Type.Optional(proxySchema),
    revocation: revocationSchema,
    log_level: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      default: 'info',
      description: 'Operational log level (pino, on stderr).',
    }),
  },
  {
    title: 'mandate configuration',
    description:
      'The mandate config file (`mandate serve --config mandate.yaml`); see docs/configuration.md.',
  },
);

/** The config file after validation filled in every default. */
export type ConfigFile = Static<typeof configFileSchema>;
export type IssuerFile = Static<typeof issuer>;
export type AdminJwtFile = Static<typeof adminJwt>;
