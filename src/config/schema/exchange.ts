// Schema of the `exchange:` section: how mandate reaches the authorization server for RFC 8693 token exchange.
import { Type } from '@sinclair/typebox';
import { int, map, oneOf, section, str } from './build.js';

const HTTP_URL = {
  pattern: '^https?://[^\\s/?#]+([/?#]\\S*)?$',
  errorMessage: { pattern: 'must be an http(s) URL' },
};

/** Client assertion algorithms for `private_key_jwt`. */
export const ASSERTION_ALGS = ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'] as const;
/** `assertion_alg` when unset (only with `client_auth: private_key_jwt`). */
export const DEFAULT_ASSERTION_ALG = 'ES256';
/** Where Envoy HTTP ext_authz for egress is served unless `egress_http_prefix` says otherwise. */
export const DEFAULT_EGRESS_HTTP_PREFIX = '/envoy/egress';

const egressRoute = section(
  {
    audience: str({ description: 'Audience of the token the request is exchanged for.' }),
    scope: Type.Optional(str({ description: 'Space-separated scopes asked for.' })),
    resource: Type.Optional(str({ description: 'RFC 8707 `resource` asked for.' })),
  },
  { description: 'What an outbound request to this host is exchanged for.' },
);

/** The `exchange:` section as written in the file; absent, token exchange is off. */
export const exchangeSchema = section(
  {
    issuer: Type.Optional(
      str({
        ...HTTP_URL,
        description:
          'Authorization server issuer: its token endpoint is discovered (RFC 8414). Exactly one of `issuer` or `token_endpoint`.',
      }),
    ),
    token_endpoint: Type.Optional(
      str({ ...HTTP_URL, description: 'Token endpoint, when not discovered from `issuer`.' }),
    ),
    client_id: str({ description: "mandate's client id at the authorization server." }),
    client_auth: oneOf(['client_secret_basic', 'client_secret_post', 'private_key_jwt'], {
      default: 'client_secret_basic',
      description: 'How mandate authenticates to the token endpoint (RFC 6749 §2.3, RFC 7523).',
    }),
    client_secret: Type.Optional(
      str({
        'x-default': 'required unless `client_auth: private_key_jwt`',
        description:
          'Client secret for `client_secret_basic` / `client_secret_post`; `MANDATE_EXCHANGE_CLIENT_SECRET` keeps it out of the file.',
      }),
    ),
    private_key_file: Type.Optional(
      str({
        'x-default': 'required with `client_auth: private_key_jwt`',
        description:
          'A private JWK (JSON; its `kid` is used) or a PKCS#8 PEM file, for `private_key_jwt`; read at start, a bad file stops start-up.',
      }),
    ),
    assertion_alg: Type.Optional(
      oneOf(ASSERTION_ALGS, {
        'x-default': `\`${DEFAULT_ASSERTION_ALG}\``,
        description: 'JWS algorithm of the client assertion (`private_key_jwt` only).',
      }),
    ),
    assertion_kid: Type.Optional(
      str({
        'x-default': "the JWK's own `kid`",
        description: '`kid` header of the client assertion (`private_key_jwt` only).',
      }),
    ),
    actor: section(
      {
        mode: oneOf(['client_credentials', 'none'], {
          default: 'client_credentials',
          description:
            '`client_credentials`: mandate gets its own access token (cached until shortly before it expires) and sends it as `actor_token`; `none`: no actor token, the authorization server takes the authenticated client as the actor.',
        }),
        scope: Type.Optional(
          str({ description: 'Scope asked for in the client credentials grant.' }),
        ),
        resource: Type.Optional(
          str({ description: 'RFC 8707 `resource` asked for in the client credentials grant.' }),
        ),
        name: Type.Optional(
          str({
            'x-default': '`client_id`',
            description:
              "mandate's identity as the actor, as policies see it in `input.context.actor` and as a subject token's `may_act.sub` must name it.",
          }),
        ),
      },
      { default: {}, description: 'How mandate appears as the actor (RFC 8693 `actor_token`).' },
    ),
    timeout_ms: int(50, 60_000, {
      default: 2000,
      description:
        'Deadline for one call to the authorization server (discovery, grant), milliseconds.',
    }),
    retries: int(0, 5, {
      default: 1,
      description: 'Extra attempts after a network error, timeout or 5xx (never after a 4xx).',
    }),
    retry_backoff_ms: int(0, 10_000, {
      default: 100,
      description: 'Pause before a retry, milliseconds (doubled per attempt).',
    }),
    cache_max_entries: int(0, 10_000_000, {
      default: 10_000,
      description:
        'Exchanged tokens kept (entries, least recently used dropped first); `0` disables the cache.',
    }),
    cache_skew_seconds: int(0, 3600, {
      default: 30,
      description:
        'A cached token is served only while more than this many seconds of its life remain; shorter-lived tokens are not cached.',
    }),
    egress: map(egressRoute, {
      default: {},
      'x-key': '<host>',
      names: {
        pattern: '^[a-z0-9.-]+(:\\d{1,5})?$',
        errorMessage: 'must be a lower-case host name, optionally with :port',
      },
      description:
        'Envoy egress: destination host (`host` or `host:port`, lower-case) → what to exchange for.',
    }),
    egress_http_prefix: str({
      default: DEFAULT_EGRESS_HTTP_PREFIX,
      pattern: '^/[A-Za-z0-9._~\\-/]*[A-Za-z0-9._~-]$',
      errorMessage: { pattern: 'must be a path such as /envoy/egress (no trailing slash)' },
      description:
        "Path prefix of Envoy's HTTP ext_authz for egress (gRPC uses a context extension).",
    }),
  },
  {
    description:
      'RFC 8693 token exchange (see [Token exchange](token-exchange.md)); absent, exchange is off: `/v1/exchange` answers 501, gRPC `Exchange` FAILED_PRECONDITION.',
  },
);
