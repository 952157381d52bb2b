// The HTTP app as `serve` builds it (real pipeline from compose, real JWKS endpoint, shipped policies), for inject() tests.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { createDecisionRecordMaker, type DecisionFacts } from '../../src/audit/decision-record.js';
import type { AuditRecord } from '../../src/audit/record.js';
import { openDecisionCore, type OpenDecisionCore } from '../../src/compose/core.js';
import { parseConfig } from '../../src/config/load.js';
import { createReadiness, type Readiness } from '../../src/lib/readiness.js';
import { createEnvoyAuthorizer } from '../../src/transport/envoy/authz.js';
import { buildHttpApp } from '../../src/transport/http/app.js';
import { createRouteTable } from '../../src/transport/route-table.js';
import { startJwksServer, type JwksServer } from './jwks-server.js';
import { POLICIES_DIR } from './sidecar.js';
import { AUDIENCE, ISSUER, createTestKey, signToken, type SignOptions } from './tokens.js';

export interface HttpAppFixture {
  readonly app: FastifyInstance;
  readonly readiness: Readiness;
  /** Decision records the pipeline wrote. */
  readonly records: AuditRecord[];
  /** A token of the trusted issuer; defaults: user-1 in tenant acme_inc via agent-1. */
  token(options?: SignOptions): Promise<string>;
  close(): Promise<void>;
}

/** `bodyLimitBytes` and `maxNestingDepth` are the HTTP listener's options, small here so tests can pass them. */
export async function startHttpApp(
  options: { bodyLimitBytes: number; maxNestingDepth: number } = {
    bodyLimitBytes: 4096,
    maxNestingDepth: 4,
  },
): Promise<HttpAppFixture> {
  const key = await createTestKey('ES256');
  const jwks: JwksServer = await startJwksServer([key.jwk]);
  const dir = mkdtempSync(join(tmpdir(), 'mandate-http-app-'));
  const config = parseConfig(
    `
issuers:
  - issuer: "${ISSUER}"
    jwks_uri: "${jwks.url}"
    audiences: ["${AUDIENCE}"]
    algorithms: ["ES256"]
    token_types: ["at+jwt"]
policies: { dir: "${POLICIES_DIR}" }
`,
    { baseDir: dir },
  );
  const records: AuditRecord[] = [];
  const decisionRecords = createDecisionRecordMaker();
  let core: OpenDecisionCore<{
    write(r: AuditRecord): void;
    writeDecision(facts: DecisionFacts): void;
    flush(): Promise<void>;
    close(): Promise<void>;
  }>;
  try {
    core = await openDecisionCore(config, pino({ level: 'silent' }), {
      write: (r: AuditRecord) => void records.push(r),
      writeDecision: (facts: DecisionFacts) => void records.push(decisionRecords.recordOf(facts)),
      flush: async () => {},
      close: async () => {},
    });
  } catch (err) {
    await jwks.close();
    throw err;
  }
  const readiness = createReadiness({
    keys: core.verifier,
    policies: core.policy,
    revocations: core.revocation.store,
  });
  const app = buildHttpApp(
    {
      decider: core.decider,
      readiness,
      metrics: core.metrics,
      envoy: {
        authorizer: createEnvoyAuthorizer({
          decider: core.decider,
          config: config.envoy,
          routes: createRouteTable(config.envoy.routes),
          compat: false,
        }),
        options: {
          prefix: config.envoy.httpPrefix,
          bodyLimitBytes: config.envoy.httpBodyLimitBytes,
        },
      },
    },
    options,
  );
  await app.ready();
  return {
    app,
    readiness,
    records,
    token: (o: SignOptions = {}) =>
      signToken(key, { ...o, claims: { tenant: 'acme_inc', ...o.claims } }),
    async close() {
      await app.close();
      await core.stop();
      await jwks.close();
    },
  };
}
