// A relay on port 0 that adds `Authorization: Bearer <token>` to every request and passes everything else both ways as is (streams too), for clients that cannot send a token themselves.
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface BearerShim {
  /** The shim's origin, e.g. http://127.0.0.1:PORT; a path on it reaches the same path on the target. */
  readonly url: string;
  /** The `Host` value clients of the shim send (127.0.0.1:PORT). */
  readonly host: string;
  close(): Promise<void>;
}

/**
 * Relays to `target` (an origin): method, path, query, body and every header, `Host` and `Origin`
 * included (the target judges them as a client sent them), plus the bearer token `token()` gives.
 */
export async function startBearerShim(target: string, token: () => string): Promise<BearerShim> {
  const to = new URL(target);
  const server = createServer((req, res) => {
    const headers: IncomingHttpHeaders = { ...req.headers, authorization: `Bearer ${token()}` };
    const out = request(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        res.flushHeaders();
        answer.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    // A client closing its stream (an SSE GET it is done with) closes the relayed one too.
    res.on('close', () => out.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
