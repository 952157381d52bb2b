// `mandate proxy`: guard the upstream MCP server (`mcp:`) and/or plain HTTP service (`proxy:`) in config, stop on SIGTERM/SIGINT.
import type { MandateConfig } from '../config/types.js';
import { operationalLogger, stopOnSignals } from './run-until-signalled.js';
import { startMcpProxy } from '../compose/mcp-proxy.js';

export async function proxy(config: MandateConfig): Promise<void> {
  const logger = operationalLogger(config);
  const running = await startMcpProxy(config, logger);
  const urlOf = (a: { host: string; port: number }) =>
    `http://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
  if (running.mcp !== undefined) {
    logger.info(
      {
        listen: urlOf(running.mcp),
        upstream: config.mcp?.upstream,
        resources: config.mcp?.resources.map((r) => ({ uri: r.uri, path: r.path })),
      },
      'mandate proxy is serving MCP',
    );
  }
  if (running.http !== undefined) {
    logger.info(
      {
        listen: urlOf(running.http),
        upstream: config.proxy?.upstream,
        routes: config.proxy?.routes.length,
      },
      'mandate proxy is serving HTTP',
    );
  }
  stopOnSignals(logger, (graceMs) => running.stop(graceMs));
}
