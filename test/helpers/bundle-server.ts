// A real local bundle server (node:http) speaking OPA's protocol: ETag / If-None-Match / 304, optional long polling.
import { createHash } from 'node:crypto';
import {
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  createServer,
} from 'node:http';
import type { AddressInfo } from 'node:net';

export interface BundleServer {
  /** `http://127.0.0.1:<port>` (the port is kept across stop() / start()). */
  readonly url: string;
  /** Serves `bytes` at `path` with a fresh ETag; long polls waiting on `path` are answered at once. */
  publish(path: string, bytes: Uint8Array): void;
  /** Every request so far: path and headers. */
  readonly requests: { path: string; headers: IncomingHttpHeaders; status: number }[];
  /** Answer every request with this status instead (e.g. 500); undefined to serve again. */
  failWith(status: number | undefined): void;
  /** Close the listener (connections refused) / listen again on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface BundleServerOptions {
  /** Answer with OPA's long-polling content type and hold `Prefer: wait=N` requests. */
  readonly longPolling?: boolean;
}

const LONG_POLL_TYPE = 'application/vnd.openpolicyagent.bundles';

export async function startBundleServer(options: BundleServerOptions = {}): Promise<BundleServer> {
  const bundles = new Map<string, { bytes: Uint8Array; etag: string }>();
  const waiting = new Map<string, (() => void)[]>();
  const requests: BundleServer['requests'] = [];
  let failure: number | undefined;
  let port = 0;

  const contentType = options.longPolling ? LONG_POLL_TYPE : 'application/gzip';

  function handler(req: IncomingMessage, res: ServerResponse) {
    const path = req.url ?? '/';
    const answer = (status: number) => {
      requests.push({ path, headers: req.headers, status });
      return status;
    };
    if (failure !== undefined) {
      res.writeHead(answer(failure)).end('failing on purpose');
      return;
    }
    const respond = () => {
      const bundle = bundles.get(path);
      if (bundle === undefined) {
        res.writeHead(answer(404)).end('no such bundle');
        return;
      }
      if (req.headers['if-none-match'] === bundle.etag) {
        res
          .writeHead(answer(304), {
            etag: bundle.etag,
            ...(options.longPolling && { 'content-type': LONG_POLL_TYPE }),
          })
          .end();
        return;
      }
      res
        .writeHead(answer(200), {
          etag: bundle.etag,
          'content-type': contentType,
          'content-length': bundle.bytes.length,
        })
        .end(Buffer.from(bundle.bytes));
    };
    const wait = /wait=(\d+)/.exec(String(req.headers['prefer'] ?? ''))?.[1];
    const current = bundles.get(path);
    if (
      options.longPolling &&
      wait !== undefined &&
      current !== undefined &&
      req.headers['if-none-match'] === current.etag
    ) {
      // Hold the request until the bundle changes or the wait runs out.
      const list = waiting.get(path) ?? [];
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        respond();
      };
      const timer = setTimeout(finish, Number(wait) * 1000);
      list.push(finish);
      waiting.set(path, list);
      req.on('close', () => clearTimeout(timer));
      return;
    }
    respond();
  }

  let server: Server | undefined;

  /** Listens on the kept port; a no-op while already listening. */
  async function listen(): Promise<void> {
    if (server?.listening) return;
    const next = createServer(handler);
    await new Promise<void>((resolve, reject) => {
      next.once('error', reject);
      next.listen(port, '127.0.0.1', () => {
        next.off('error', reject);
        resolve();
      });
    });
    port = (next.address() as AddressInfo).port;
    server = next;
  }
  await listen();

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    publish(path, bytes) {
      const etag = `"${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}"`;
      bundles.set(path, { bytes, etag });
      for (const finish of waiting.get(path) ?? []) finish();
      waiting.delete(path);
    },
    failWith(status) {
      failure = status;
    },
    async stop() {
      const current = server;
      if (!current?.listening) return;
      current.closeAllConnections();
      await new Promise<void>((resolve) => current.close(() => resolve()));
    },
    start: listen,
    async close() {
      for (const list of waiting.values()) for (const finish of list) finish();
      const current = server;
      if (!current?.listening) return;
      current.closeAllConnections();
      await new Promise<void>((resolve) => current.close(() => resolve()));
    },
  };
}
