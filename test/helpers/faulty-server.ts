// A real HTTP server on port 0 whose answer can be switched to a fault: a status, a hang, a stalled body, garbage.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How the server answers the next requests. */
export type Fault =
  | { readonly kind: 'serve' }
  | { readonly kind: 'status'; readonly status: number }
  /** Accepts the connection, reads the request, never answers. */
  | { readonly kind: 'hang' }
  /** Sends 200 and its headers, then never sends the body. */
  | { readonly kind: 'stall_body' }
  | { readonly kind: 'body'; readonly body: string; readonly contentType?: string };

export interface FaultyServer {
  readonly url: string;
  /** Requests received so far, in any mode. */
  readonly requests: number;
  /** Requests held open right now (hang or stalled body). */
  readonly hanging: number;
  set(fault: Fault): void;
  close(): Promise<void>;
}

/** `serve` answers a request when the fault is `{ kind: 'serve' }`. */
export async function startFaultyServer(
  serve: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void,
  initial: Fault = { kind: 'serve' },
): Promise<FaultyServer> {
  let fault = initial;
  let requests = 0;
  let hanging = 0;
  const server = createServer((req, res) => {
    requests++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      switch (fault.kind) {
        case 'serve':
          return serve(req, res, Buffer.concat(chunks));
        case 'status':
          return void res.writeHead(fault.status, { 'content-type': 'text/plain' }).end('fault');
        case 'hang':
          hanging++;
          res.on('close', () => hanging--);
          return;
        case 'stall_body':
          hanging++;
          res.on('close', () => hanging--);
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
          res.write('{');
          return;
        case 'body':
          return void res
            .writeHead(200, { 'content-type': fault.contentType ?? 'application/json' })
            .end(fault.body);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    get hanging() {
      return hanging;
    },
    set(next) {
      fault = next;
    },
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `global.gc` without starting node with --expose-gc: collects what the composite-signal bug needs collected. */
export async function collectGarbage(): Promise<void> {
  const { setFlagsFromString } = await import('node:v8');
  const { runInNewContext } = await import('node:vm');
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
}
