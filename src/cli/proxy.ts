// `mandate proxy`: run the MCP proxy in front of the upstream MCP server in config (`mcp:`), stop on SIGTERM/SIGINT.
import pino from 'pino';
import type { MandateConfig } from '../config/types.js';
import { startMcpProxy } from '../compose/mcp-proxy.js';

const SHUTDOWN_GRACE_MS = 10_000;

export async function proxy(config: MandateConfig): Promise<void> {
  // Operational logs go to stderr; stdout carries audit records only.
  const logger = pino(
    { level: config.logLevel, base: { service: 'mandate' } },
    pino.destination(2),
  );
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
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) return;
    signalled = true;
    logger.info({ signal }, 'shutting down');
    const forced = setTimeout(() => process.exit(1), SHUTDOWN_GRACE_MS + 5000);
    forced.unref();
    running.stop(SHUTDOWN_GRACE_MS).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
