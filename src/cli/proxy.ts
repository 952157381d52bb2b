// `mandate proxy`: run the MCP proxy in front of the upstream MCP server in config (`mcp:`), stop on SIGTERM/SIGINT.
import type { MandateConfig } from '../config/types.js';
import { operationalLogger, stopOnSignals } from './run-until-signalled.js';
import { startMcpProxy } from '../compose/mcp-proxy.js';

export async function proxy(config: MandateConfig): Promise<void> {
  const logger = operationalLogger(config);
  const running = await startMcpProxy(config, logger);
  const host = running.host.includes(':') ? `[${running.host}]` : running.host;
  logger.info(
    {
      listen: `http://${host}:${running.port}`,
      upstream: config.mcp?.upstream,
      resources: config.mcp?.resources.map((r) => ({ uri: r.uri, path: r.path })),
    },
    'mandate proxy is serving',
  );
  stopOnSignals(logger, (graceMs) => running.stop(graceMs));
}
