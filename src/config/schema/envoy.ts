// Schema of the `envoy:` section: ext_authz adapters, route → action mapping, identity headers, dry-run, OPA-Envoy compatibility.
import { Type } from '@sinclair/typebox';
import { bool, int, oneOf, section, str, strList } from './build.js';

/** HTTP header names (RFC 9110 tokens); mandate lower-cases them. */
const HEADER_NAME = "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$";
const headerItem = {
  pattern: HEADER_NAME,
  errorMessage: { pattern: 'must be an HTTP header name' },
};

function header(fallback: string, description: string) {
  return str({ ...headerItem, default: fallback, description });
}

/** The method-override headers frameworks commonly honour. */
export const DEFAULT_METHOD_OVERRIDE_HEADERS = [
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
];

/** One route (shared by `envoy.routes` and `proxy.routes`): method(s) and path template to action and resource. */
export const routeSchema = section(
  {
    method: Type.Union([str({}), strList({})], {
      default: '*',
      errorMessage: 'must be an HTTP method, `*`, or a list of methods',
      description: 'HTTP method, a list of them, or `*` (every method); case-insensitive.',
    }),
    path: str({
      description:
        'Path template: literal segments, `{name}` (one segment) and, last only, `{name*}` (the rest of the path).',
    }),
    action: str({
      description:
        'Action asked for, e.g. `contacts.update`; may use `{name}` captures and `{method}`.',
    }),
    resource: Type.Optional(
      section(
        {
          type: str({ description: 'Resource type; may use `{name}` captures.' }),
          id: Type.Optional(str({ description: 'Resource id; may use `{name}` captures.' })),
        },
        { description: 'Resource the action is on.' },
      ),
    ),
    tenant: Type.Optional(
      str({
        description:
          "Tenant the request names, e.g. `{org}` from the path; checked against the token's.",
      }),
    ),
  },
  { description: 'One route: method(s) and path template to action and resource.' },
);

/** The `envoy:` section as written in the file. */
export const envoySchema = section(
  {
    http_prefix: str({
      default: '/envoy/authz',
      pattern: '^/[^?#{}*]*[^/?#{}*]/*$',
      errorMessage: { pattern: 'must be a path such as /envoy/authz' },
      description:
        "HTTP ext_authz path prefix on the HTTP listener (Envoy's `http_service.path_prefix`); a trailing `/` is dropped.",
    }),
    http_body_limit_bytes: int(1024, 16_777_216, {
      default: 1_048_576,
      description: 'Larger HTTP ext_authz requests get 413, bytes.',
    }),
    grpc_max_request_bytes: int(1024, 16_777_216, {
      default: 1_048_576,
      description:
        'Larger gRPC `CheckRequest`s are denied 413 `request_invalid` (not an RPC error, which Envoy counts as its own failure); the listener reads up to four times this, beyond which it refuses the call (`RESOURCE_EXHAUSTED`). Bytes.',
    }),
    token_headers: strList(
      {
        default: ['authorization'],
        description:
          'Headers searched, in order, for `Bearer <token>` or `DPoP <token>` (a DPoP-bound token needs the `DPoP` scheme and a `DPoP` proof header).',
      },
      headerItem,
    ),
    method_override_headers: strList(
      {
        default: DEFAULT_METHOD_OVERRIDE_HEADERS,
        description:
          "Headers naming the method a server behind Envoy runs instead of the request line's: one naming another method needs both methods allowed; several values, a value that is no method, or two headers naming different methods are 400 `request_invalid`; `[]` turns this off.",
      },
      headerItem,
    ),
    tenant_header: Type.Optional(
      str({
        ...headerItem,
        description:
          "Request header naming the tenant the caller acts in (checked against the token, like a route's `tenant`).",
      }),
    ),
    identity_headers: section(
      {
        subject: header('x-mandate-subject', 'Header carrying the verified subject upstream.'),
        tenant: header('x-mandate-tenant', 'Header carrying the tenant upstream.'),
        client: header('x-mandate-client', 'Header carrying the client id upstream.'),
        scopes: header('x-mandate-scopes', 'Header carrying the granted scopes upstream.'),
        decision_id: header('x-mandate-decision-id', 'Header carrying the decision id upstream.'),
      },
      {
        default: {},
        description:
          'Headers mandate sets for the upstream on allow; incoming copies are always removed. Names must differ from each other.',
      },
    ),
    routes: Type.Array(routeSchema, {
      default: [],
      description:
        '`{method, path, action, resource?, tenant?}`: method (list, or `*`) and path template (`{id}` one segment, last `{rest*}`) to action/resource.',
    }),
    path_parameters: oneOf(['reject', 'allow'], {
      default: 'reject',
      description:
        '`reject`: a path with `;` in a segment (raw or `%3B`) maps to no route, since servers that strip `;parameters` read `/x/admin;y` as `/x/admin`; `allow`: `;` is an ordinary character (see docs/envoy-request-hardening.md).',
    }),
    unmapped: Type.Optional(
      oneOf(['deny', 'derive'], {
        'x-default': '`deny` (`derive` in compat mode)',
        description:
          '`deny`: 403 `route_unmapped`; `derive`: policy decides `http.<method>` on `{type: http_path, id: <path>}`.',
      }),
    ),
    dry_run: section(
      {
        grpc: bool({ default: false, description: 'Shadow mode for the gRPC ext_authz listener.' }),
        http: bool({ default: false, description: 'Shadow mode for HTTP ext_authz.' }),
        tenants: strList({
          default: [],
          description: 'Shadow mode for requests whose verified token names one of these tenants.',
        }),
      },
      {
        default: {},
        description: 'Shadow mode: decide and audit (`dry_run: true`), then always allow.',
      },
    ),
    on_error: oneOf(['deny', 'error_response'], {
      default: 'deny',
      description:
        "mandate failure: `deny` (a denial with the reason: gRPC denied 503, HTTP 403, never an HTTP 5xx, which Envoy's `http_service` counts as its own failure) or `error_response` (gRPC UNAVAILABLE / HTTP 503: Envoy's failure mode applies).",
    }),
    compat: section(
      {
        enabled: bool({
          default: false,
          description:
            "OPA-Envoy compatibility: evaluate `compat.entrypoint` over OPA-Envoy's input instead of base AND tenant.",
        }),
        dir: Type.Optional(
          str({
            'x-default': '`<policies.dir>/envoy`',
            description:
              'Folder of the compatibility policy (Rego and data; `*_test.rego` skipped).',
          }),
        ),
        entrypoint: str({
          default: 'envoy/authz/allow',
          pattern: '^[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)+$',
          errorMessage: { pattern: 'must be a rule path such as envoy/authz/allow' },
          description:
            "Rule whose value decides (a boolean or OPA-Envoy's result object), as a path: `envoy/authz/allow` is `data.envoy.authz.allow`.",
        }),
        parse_body: bool({
          default: true,
          description:
            "Fill `parsed_body` from JSON, form-urlencoded and multipart bodies (`false`: left out, as OPA-Envoy's `skip_request_body_parse`).",
        }),
      },
      { default: {}, description: 'OPA-Envoy compatibility mode.' },
    ),
  },
  { default: {}, description: 'Envoy / Istio ext_authz adapters (see [Envoy](envoy.md)).' },
);
