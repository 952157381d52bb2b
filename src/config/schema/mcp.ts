// Schema of the `mcp:` section: the MCP servers `mandate proxy` guards (RFC 9728 metadata per resource) and its upstream.
import { Type } from '@sinclair/typebox';
import { ASYMMETRIC_ALGORITHMS } from '../types.js';
import { bool, int, oneOf, section, str, strList } from './build.js';

const resource = section(
  {
    uri: str({
      description:
        'Canonical resource URI (RFC 8707), e.g. `https://mcp.example.com/mcp`: the metadata `resource`, and the only audience accepted there. No query or fragment.',
    }),
    path: Type.Optional(
      str({
        'x-default': "the URI's path",
        description:
          'Path the proxy serves this resource on, and on which Envoy ext_authz calls are decided per MCP message.',
      }),
    ),
    authorization_servers: strList({
      minItems: 1,
      description: 'Issuers clients should get tokens from (RFC 9728 `authorization_servers`).',
    }),
    scopes_supported: strList(
      {
        default: [],
        description:
          'Scopes advertised in the metadata and asked for in a 401 (never `offline_access`).',
      },
      { pattern: '^[^\\s"\\\\]+$', errorMessage: { pattern: 'must be a scope token' } },
    ),
    resource_name: Type.Optional(str({ description: 'RFC 9728 `resource_name`.' })),
    documentation: Type.Optional(
      str({ description: 'RFC 9728 `resource_documentation`, an http(s) URL.' }),
    ),
    dpop_signing_alg_values_supported: Type.Optional(
      Type.Array(
        oneOf(ASYMMETRIC_ALGORITHMS, {
          errorMessage: `must be one of ${ASYMMETRIC_ALGORITHMS.join(', ')}`,
        }),
        {
          minItems: 1,
          uniqueItems: true,
          'x-default': 'every asymmetric algorithm, advertised only when DPoP is required',
          description:
            'DPoP proof algorithms accepted here (RFC 9449), advertised as RFC 9728 `dpop_signing_alg_values_supported` and in `DPoP` challenges (`algs`); a proof signed otherwise is refused.',
        },
      ),
    ),
    dpop_bound_access_tokens_required: bool({
      default: false,
      description:
        'Only DPoP-bound tokens (`cnf.jkt`) with a valid proof are accepted; a bearer token gets 401 with a `DPoP` challenge (RFC 9728 `dpop_bound_access_tokens_required`).',
    }),
  },
  { description: 'One protected MCP server as clients know it.' },
);

const upstreamExchange = section(
  {
    audience: str({
      description:
        'Audience of the token the upstream receives (RFC 8693 `audience`): the upstream MCP server as the authorization server knows it.',
    }),
    scope: Type.Optional(
      str({
        description:
          "Space-separated scopes asked for; each must be held by the client's token (an exchange only narrows). Default: the authorization server's default for the audience.",
      }),
    ),
    resource: Type.Optional(
      str({ description: 'RFC 8707 `resource` asked for, an absolute URI.' }),
    ),
  },
  { description: "What the client's token is exchanged for (RFC 8693, with `exchange:`)." },
);

const upstreamToken = section(
  { exchange: upstreamExchange },
  {
    description:
      "A token for the upstream, sent as `Authorization: Bearer`: the client's token exchanged (needs the `exchange:` section). The client's own token never reaches the upstream.",
  },
);

/** The `mcp:` section as written in the file. */
export const mcpSchema = section(
  {
    upstream: Type.Optional(
      str({
        description:
          "The upstream MCP server's Streamable HTTP endpoint `mandate proxy` forwards to (required by it).",
      }),
    ),
    resources: Type.Array(resource, {
      minItems: 1,
      description: 'The protected resources (see docs/mcp.md).',
    }),
    listen: str({
      default: '127.0.0.1:8190',
      pattern: '^(?:\\[[^\\]]+\\]|[^:]+):\\d{1,5}$',
      errorMessage: { pattern: 'must be host:port, got {value}' },
      description: "The proxy's address, `host:port`.",
    }),
    allowed_origins: strList({
      default: [],
      description:
        "Origins accepted besides the resources' own; any other Origin gets 403. Browser pages on these origins get CORS: preflights answered, answers readable (see docs/mcp.md).",
    }),
    allowed_hosts: strList({
      default: [],
      description: "Host values accepted besides the resources' own; any other gets 403.",
    }),
    body_limit_bytes: int(1024, 268_435_456, {
      default: 4_194_304,
      description: 'Largest message a client may POST, bytes (413 beyond).',
    }),
    list_limit_bytes: int(1024, 1_073_741_824, {
      default: 16_777_216,
      description: 'Largest JSON list answer, or single SSE event, read to filter, bytes.',
    }),
    upstream_token: Type.Optional(upstreamToken),
    send_identity_headers: bool({
      default: true,
      description:
        'Send the decided identity to the upstream as `x-mandate-*` headers (subject, tenant, client, scopes, act, decision id).',
    }),
    upstream_timeout_ms: int(100, 600_000, {
      default: 30_000,
      description: 'How long the upstream may take to start answering, milliseconds (502 beyond).',
    }),
  },
  {
    description:
      'MCP servers guarded by `mandate proxy`, or by Envoy ext_authz through `mandate serve` (see docs/mcp.md).',
  },
);
