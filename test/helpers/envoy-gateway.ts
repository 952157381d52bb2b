// Plays Envoy's HTTP ext_authz filter in front of an upstream: buffers the body (with_request_body, max_request_bytes, allow_partial_message), asks mandate, then forwards or answers with the denial.
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface EnvoyGatewayOptions {
  /** The upstream's origin, e.g. http://127.0.0.1:PORT; the request's path is kept. */
  readonly upstream: string;
  /** `with_request_body.max_request_bytes`: the body forwarded to mandate is cut there. */
  readonly maxRequestBytes: number;
}

export interface EnvoyGateway {
  /** Where clients connect, e.g. http://127.0.0.1:PORT. */
  readonly url: string;
  /** mandate's HTTP ext_authz base, e.g. http://127.0.0.1:PORT/envoy/authz; set before the first request. */
  authzBase: string;
  /** Status of every authorization answer, in order. */
  readonly verdicts: number[];
  close(): Promise<void>;
}

const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'host']);

function clientHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (HOP.has(name) || value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(',') : value;
  }
  return out;
}

/**
 * Starts the gateway on port 0. Like Envoy with `allow_partial_message: true`, a body over
 * `maxRequestBytes` reaches the authorization service cut, with `x-envoy-auth-partial-body: true`;
 * an allowed request goes upstream whole, with the identity headers mandate set and without those
 * it asked to remove; a denial is answered with mandate's status, headers and body.
 */
export async function startEnvoyGateway(options: EnvoyGatewayOptions): Promise<EnvoyGateway> {
  const verdicts: number[] = [];
  const gateway: EnvoyGateway = {
    url: '',
    authzBase: '',
    verdicts,
    close: async () => {},
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const headers = clientHeaders(req);
        const partial = body.length > options.maxRequestBytes;
        const sent = partial ? body.subarray(0, options.maxRequestBytes) : body;
        const authz = await fetch(`${gateway.authzBase}${req.url ?? '/'}`, {
          method: req.method ?? 'GET',
          headers: {
            // Envoy's authorization request carries the buffered body's own length.
            ...Object.fromEntries(Object.entries(headers).filter(([n]) => n !== 'content-length')),
            'x-forwarded-host': req.headers.host ?? '',
            'x-forwarded-proto': 'http',
            ...(partial ? { 'x-envoy-auth-partial-body': 'true' } : {}),
          },
          ...(sent.length > 0 ? { body: sent } : {}),
        });
        verdicts.push(authz.status);
        const answer = Buffer.from(await authz.arrayBuffer());
        if (authz.status !== 200) {
          const out: Record<string, string> = {};
          authz.headers.forEach((value, name) => {
            if (!['content-length', 'connection', 'date', 'keep-alive'].includes(name)) {
              out[name] = value;
            }
          });
          res.writeHead(authz.status, out).end(answer);
          return;
        }
        const upstreamHeaders: Record<string, string> = { ...headers };
        const removed = (authz.headers.get('x-envoy-auth-headers-to-remove') ?? '')
          .split(',')
          .map((h) => h.trim())
          .filter((h) => h.length > 0);
        for (const name of removed) delete upstreamHeaders[name];
        authz.headers.forEach((value, name) => {
          if (name.startsWith('x-mandate-')) upstreamHeaders[name] = value;
        });
        const target = new URL(req.url ?? '/', options.upstream);
        const up = httpRequest(
          target,
          { method: req.method, headers: { ...upstreamHeaders, host: target.host } },
          (upRes) => {
            res.writeHead(upRes.statusCode ?? 502, upRes.headers);
            upRes.pipe(res);
          },
        );
        up.on('error', () => res.destroy());
        up.end(body);
      })().catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(gateway, {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}
