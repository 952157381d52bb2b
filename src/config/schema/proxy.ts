// Schema of the `proxy:` section: a plain HTTP upstream `mandate proxy` guards, with method + path routes as in `envoy.routes`.
import { Type } from '@sinclair/typebox';
import { int, oneOf, section, str } from './build.js';
import { routeSchema } from './envoy.js';

/** The `proxy:` section as written in the file. */
export const proxySchema = section(
  {
    upstream: str({
      description:
        'The HTTP service `mandate proxy` forwards allowed requests to, an http(s) URL; a path in it is put before every forwarded path. No query or fragment.',
    }),
    listen: str({
      default: '127.0.0.1:8191',
      pattern: '^(?:\\[[^\\]]+\\]|[^:]+):\\d{1,5}$',
      errorMessage: { pattern: 'must be host:port, got {value}' },
      description: "The proxy's address, `host:port`.",
    }),
    routes: Type.Array(routeSchema, {
      minItems: 1,
      description:
        '`{method, path, action, resource?, tenant?}` as in `envoy.routes`; a request no route maps is denied 403 `route_unmapped`.',
    }),
    path_parameters: oneOf(['reject', 'allow'], {
      default: 'reject',
      description:
        'As `envoy.path_parameters`: `reject` maps no path with `;` in a segment (raw or `%3B`), `allow` reads `;` as an ordinary character (see docs/proxy.md).',
    }),
    upstream_timeout_ms: int(100, 600_000, {
      default: 30_000,
      description:
        'Longest the upstream may stay silent (connecting, answering, streaming), milliseconds: 504 when no answer had started, else the answer is cut.',
    }),
  },
  {
    description:
      'A plain HTTP service guarded by `mandate proxy`: every request is decided by its route (see docs/proxy.md).',
  },
);
