// The `proxy:` config section: the plain HTTP upstream `mandate proxy` guards and the routes mapping its requests to actions.
import type { Static } from '@sinclair/typebox';
import { resolveRoutes, type EnvoyRouteConfig, type PathParameters } from './envoy.js';
import { ConfigError } from './errors.js';
import { absoluteHttpUrl } from './http-url.js';
import type { proxySchema } from './schema/proxy.js';
import type { ListenAddress } from './types.js';

export interface ProxyConfig {
  /**
   * Where allowed requests go: an http(s) URL without query or fragment. Its path, when not `/`,
   * is put before each forwarded path (`http://svc:3000/api` sends `/v1/x` to `/api/v1/x`).
   */
  readonly upstream: string;
  /** The proxy's listen address. Default 127.0.0.1:8191. */
  readonly listen: ListenAddress;
  /**
   * Method + path template → action, resource and tenant, with `envoy.routes`' syntax and
   * matching. A request no route maps is denied (403 `route_unmapped`), never forwarded.
   */
  readonly routes: readonly EnvoyRouteConfig[];
  /** As `envoy.path_parameters`: whether a `;` in a path segment may match a route. Default `reject`. */
  readonly pathParameters: PathParameters;
  /**
   * Longest the upstream may stay silent, milliseconds: connecting, before its answer starts
   * (504 then) or while it streams (the answer is cut). Default 30000.
   */
  readonly upstreamTimeoutMs: number;
}

type ProxyFile = Static<typeof proxySchema>;

/** An http(s) URL without userinfo, query or fragment (those would be sent, or mean nothing, on every request). */
function upstreamUrl(key: string, value: string): string {
  const url = absoluteHttpUrl(key, value);
  if (url.search !== '' || url.hash !== '' || value.includes('?') || value.includes('#')) {
    throw new ConfigError(key, 'must have no query or fragment');
  }
  if (url.username !== '' || url.password !== '') {
    throw new ConfigError(key, 'must not carry credentials');
  }
  return value;
}

/** Resolves `proxy:`; `parseListen` is the loader's own `host:port` parser, passed in. */
export function resolveProxy(
  raw: ProxyFile,
  parseListen: (key: string, text: string) => ListenAddress,
): ProxyConfig {
  return {
    upstream: upstreamUrl('proxy.upstream', raw.upstream),
    listen: parseListen('proxy.listen', raw.listen),
    routes: resolveRoutes('proxy.routes', raw.routes, raw.path_parameters),
    pathParameters: raw.path_parameters,
    upstreamTimeoutMs: raw.upstream_timeout_ms,
  };
}
