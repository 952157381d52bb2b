// input.attributes for an HTTP ext_authz call: what Envoy's gRPC CheckRequest would have said about the same request, as far as HTTP mode can know it.

/** What the HTTP ext_authz route knows about the original request. */
export interface HttpModeRequest {
  readonly method: string;
  /** Path and query of the original request (the route prefix already removed). */
  readonly path: string;
  /** Lower-case names, repeated values joined, hop-by-hop headers of Envoy's call removed. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer | undefined;
  /** When mandate received the call, milliseconds since the epoch. */
  readonly receivedAtMs: number;
}

/**
 * Over gRPC Envoy sends the original request's headers with HTTP/2 pseudo-headers (`:authority`
 * rather than `host`, `:method`, `:path`), and fills `host`, `method`, `path`, `id`, `scheme`,
 * `size`, `body` and the request `time`; those are rebuilt here. The peers, `protocol`, and
 * metadata are not in an HTTP ext_authz call and are left out rather than guessed: a policy that
 * relies on them denies (Envoy's connection to mandate is not the client's, so its address and
 * protocol would be wrong, not merely approximate).
 */
export function httpModeAttributes(req: HttpModeRequest): Record<string, unknown> {
  const { host, ...rest } = req.headers;
  const headers: Record<string, string> = {
    ...(host !== undefined ? { ':authority': host } : {}),
    ':method': req.method,
    ':path': req.path,
    ...rest,
  };
  const http: Record<string, unknown> = {};
  const set = (key: string, value: string | number | undefined) => {
    if (value !== undefined && value !== '' && value !== 0) http[key] = value;
  };
  set('id', req.headers['x-request-id']);
  set('method', req.method);
  http['headers'] = headers;
  set('path', req.path);
  set('host', host);
  set('scheme', req.headers['x-forwarded-proto']);
  set('size', req.body?.length);
  set(
    'body',
    req.body !== undefined && req.body.length > 0 ? req.body.toString('utf8') : undefined,
  );
  const seconds = Math.floor(req.receivedAtMs / 1000);
  const nanos = (req.receivedAtMs % 1000) * 1_000_000;
  return {
    request: {
      time: { ...(seconds !== 0 ? { seconds } : {}), ...(nanos !== 0 ? { nanos } : {}) },
      http,
    },
  };
}
