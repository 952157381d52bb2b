// The plain HTTP part of `mandate proxy`: the route table and forwarder for `proxy:`, and its listener, deciding with the core's pipeline.
import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import type { ProxyConfig } from '../config/proxy.js';
import type { Decider } from '../core/decision.js';
import type { StreamGuard } from '../core/stream-guard.js';
import { createHttpForwarder } from '../transport/proxy/forward.js';
import { createHttpProxy } from '../transport/proxy/proxy.js';
import { createRouteTable } from '../transport/route-table.js';
import type { Lifecycle } from './lifecycle.js';
import { proxyListenerComponent } from './proxy-listener.js';

/**
 * Starts the listener guarding `proxy.upstream`. Tokens are verified as `mandate serve` verifies
 * them (each issuer's own `audiences`), so the core's decider is used as it is; `streams` cuts an
 * answer still streaming once its token is revoked.
 */
export async function startHttpProxyListener(
  proxy: ProxyConfig,
  decider: Decider,
  streams: StreamGuard,
  logger: Logger,
  lifecycle: Lifecycle,
): Promise<Server> {
  const forwarder = createHttpForwarder({
    upstream: proxy.upstream,
    timeoutMs: proxy.upstreamTimeoutMs,
  });
  const log = logger.child({ component: 'http-proxy' });
  const handler = createHttpProxy({
    decider,
    routes: createRouteTable(proxy.routes, { pathParameters: proxy.pathParameters }),
    forwarder,
    streams,
    onError: (err) => log.error({ err }, 'http proxy failed while handling a request'),
  });
  const server = createServer((req, res) => handler.handle(req, res));
  const listener = proxyListenerComponent('listen.proxy', 'proxy.listen', server, proxy.listen);
  await lifecycle.start({
    ...listener,
    stop: async (graceMs: number) => {
      await listener.stop(graceMs);
      forwarder.close();
    },
  });
  return server;
}
