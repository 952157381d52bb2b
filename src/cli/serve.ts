// `mandate serve`: start the sidecar, print where it listens (and a working curl in dev mode), stop on SIGTERM/SIGINT.
import type { MandateConfig } from '../config/types.js';
import { operationalLogger, stopOnSignals } from './run-until-signalled.js';
import { startServer, type RunningServer } from '../compose/server.js';

export async function serve(config: MandateConfig): Promise<void> {
  const logger = operationalLogger(config);
  const server = await startServer(config, logger);
  const httpUrl = `http://${formatHost(server.http.host)}:${server.http.port}`;
  logger.info(
    {
      http: httpUrl,
      grpc: `${server.grpc.host}:${server.grpc.port}`,
      admin: `http://${formatHost(server.admin.host)}:${server.admin.port}`,
      policies: server.core.policy.revisions(),
    },
    'mandate is serving',
  );
  await printDevBanner(config, server, httpUrl);

  stopOnSignals(logger, (graceMs) => server.stop(graceMs));
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

async function printDevBanner(
  config: MandateConfig,
  server: RunningServer,
  httpUrl: string,
): Promise<void> {
  const signer = server.core.devSigner;
  if (!signer) return;
  const token = await signer.mint({
    issuer: config.dev.issuer,
    audience: config.dev.audience,
    sub: 'user_8421',
    tenant: 'acme_inc',
    tenantClaim: config.tenancy.claim,
    scope: 'contacts.read tickets.write',
    clientId: 'agent-1',
    ttlSeconds: 3600,
  });
  const line = '='.repeat(78);
  process.stderr.write(
    [
      line,
      '  DEV MODE: mandate trusts its own dev issuer with a locally generated key.',
      `  Issuer ${config.dev.issuer}, key in ${config.dev.stateDir}. Never run this in production;`,
      '  start with --config (or MANDATE_CONFIG) to configure real issuers.',
      line,
      '  Try a real check (token valid for 1 hour):',
      '',
      `  curl -s ${httpUrl}/v1/check -H 'content-type: application/json' \\`,
      `    -H 'authorization: Bearer ${token}' \\`,
      `    -d '{"action":"tickets.comment","resource":{"type":"ticket","id":"T-1"},"tenant":"acme_inc"}'`,
      '',
      `  Admin API: http://${formatHost(server.admin.host)}:${server.admin.port} with the bearer token in ${config.dev.stateDir}/admin-token`,
      '',
      '  (`npm link` puts mandate on your PATH; else run node dist/cli/main.js)',
      '  Mint more: mandate token mint --sub user_8421 --tenant acme_inc --scope "contacts.read" --client agent-1',
      line,
      '',
    ].join('\n'),
  );
}
