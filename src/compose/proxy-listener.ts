// The listener component of `mandate proxy`'s servers (MCP and plain HTTP): listen, and on stop drain, then cut streams still open.
import type { Server } from 'node:http';
import type { ListenAddress } from '../config/types.js';

/**
 * Listens on `address` (a failure names the config `key`); on stop, refuses new connections,
 * closes idle ones, and cuts those still open after `graceMs` (a stream may never end by itself).
 */
export function proxyListenerComponent(
  name: string,
  key: string,
  server: Server,
  address: ListenAddress,
) {
  return {
    name,
    start: () =>
      new Promise<void>((resolve, reject) => {
        const failed = (err: Error) =>
          reject(
            new Error(`${key}: cannot listen on ${address.host}:${address.port}: ${err.message}`),
          );
        server.once('error', failed);
        server.listen(address.port, address.host, () => {
          server.off('error', failed);
          resolve();
        });
      }),
    stop: async (graceMs: number) => {
      if (!server.listening) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const cut = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(cut);
    },
  };
}
