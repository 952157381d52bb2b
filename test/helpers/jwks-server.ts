// A real JWKS endpoint for tests: serves a mutable key set on port 0, counts requests, can fail on demand.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';

export interface JwksServer {
  /** URL of the JWKS document. */
  readonly url: string;
  /** Requests served so far (including failed ones). */
  readonly requests: number;
  /** Replaces the published keys. */
  setKeys(keys: readonly JWK[]): void;
  /** Answers every request with this status (e.g. 500) until called with undefined. */
  setFailure(status: number | undefined): void;
  /** Delays every answer, to make concurrent fetches overlap or to trip a timeout. */
  setDelay(ms: number): void;
  /** Accepts every request and never answers it (until closed), while on. */
  setHang(on: boolean): void;
  /** Serves this raw body (instead of the key set) with status 200. */
  setRawBody(body: string | undefined): void;
  close(): Promise<void>;
}

export async function startJwksServer(initialKeys: readonly JWK[] = []): Promise<JwksServer> {
  let keys = initialKeys;
  let failure: number | undefined;
  let delayMs = 0;
  let rawBody: string | undefined;
  let hang = false;
  let requests = 0;

  const server = createServer((_req, res) => {
    requests++;
    if (hang) return;
    const answer = () => {
      if (failure !== undefined) {
        res.writeHead(failure, { 'content-type': 'text/plain' }).end('failing on purpose');
        return;
      }
      res
        .writeHead(200, { 'content-type': 'application/jwk-set+json' })
        .end(rawBody ?? JSON.stringify({ keys }));
    };
    if (delayMs > 0) setTimeout(answer, delayMs);
    else answer();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    get requests() {
      return requests;
    },
    setKeys(next) {
      keys = next;
    },
    setFailure(status) {
      failure = status;
    },
    setDelay(ms) {
      delayMs = ms;
    },
    setHang(on) {
      hang = on;
    },
    setRawBody(body) {
      rawBody = body;
    },
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    },
  };
}
