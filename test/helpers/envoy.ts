// Plays Envoy in tests: gRPC ext_authz Check built from mandate's Envoy protos, and HTTP ext_authz calls.
import { credentials, type ServiceError } from '@grpc/grpc-js';
import {
  AuthorizationClient,
  CheckRequest,
  type CheckResponse,
} from '../../src/gen/envoy/service/auth/v3/external_auth.js';

export interface EnvoyRequest {
  readonly method: string;
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly host?: string;
  /** The original request's scheme in Envoy's attributes; default https. */
  readonly scheme?: string;
  readonly id?: string;
}

export function envoyClient(target: string): AuthorizationClient {
  return new AuthorizationClient(target, credentials.createInsecure());
}

/** A CheckRequest as Envoy's HTTP filter sends it (lower-case headers, peers, time, protocol). */
export function checkRequest(req: EnvoyRequest): CheckRequest {
  return CheckRequest.fromPartial({
    attributes: {
      source: {
        address: { socketAddress: { address: '203.0.113.7', portValue: 53122 } },
        principal: 'spiffe://cluster.local/ns/default/sa/agent',
      },
      destination: { address: { socketAddress: { address: '10.0.0.5', portValue: 8080 } } },
      request: {
        time: { seconds: Date.parse('2026-11-28T09:00:00.000Z') / 1000, nanos: 0 },
        http: {
          id: req.id ?? 'req-envoy-1',
          method: req.method,
          path: req.path,
          host: req.host ?? 'api.example.com',
          scheme: req.scheme ?? 'https',
          protocol: 'HTTP/1.1',
          headers: {
            ':authority': req.host ?? 'api.example.com',
            ':method': req.method,
            ':path': req.path,
            ...req.headers,
          },
          ...(req.body !== undefined ? { body: req.body, size: Buffer.byteLength(req.body) } : {}),
        },
      },
      contextExtensions: { virtual_host: 'api' },
    },
  });
}

/** Calls Check; resolves with the response or rejects with the gRPC error. */
export function envoyCheck(client: AuthorizationClient, req: EnvoyRequest | CheckRequest) {
  const message = 'method' in req ? checkRequest(req) : req;
  return new Promise<CheckResponse>((resolve, reject) =>
    client.check(message, (err: ServiceError | null, res?: CheckResponse) =>
      err || !res ? reject(err) : resolve(res),
    ),
  );
}

/** Header values of a HeaderValueOption list, by name. */
export function headerMap(
  options: readonly { header?: { key: string; value: string } | undefined }[] | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const o of options ?? []) if (o.header) out[o.header.key] = o.header.value;
  return out;
}

/** Envoy's HTTP ext_authz call: the original method and path under the prefix, headers, body. */
export async function envoyHttp(
  baseUrl: string,
  req: EnvoyRequest,
  prefix = '/envoy/authz',
): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(`${baseUrl}${prefix}${req.path}`, {
    method: req.method,
    headers: { ...(req.id ? { 'x-request-id': req.id } : {}), ...req.headers },
    ...(req.body !== undefined ? { body: req.body } : {}),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}
