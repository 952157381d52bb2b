// The decision pipeline's components in start order (dev issuer, revocation, policies, keys, compat, audit) and the decider over them.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { AuditSink } from '../audit/sink.js';
import type { MandateConfig } from '../config/types.js';
import { createDecider } from '../core/decide.js';
import type { Decider } from '../core/decision.js';
import { createMetrics, type Metrics } from '../metrics/registry.js';
import type { CompatPolicy } from '../policy/compat-types.js';
import { createCompatPolicy } from '../policy/compat-unit.js';
import type { PolicyEngine } from '../policy/types.js';
import { loadOrCreateDevSigner, type DevSigner } from '../token/dev-signer.js';
import { createJwksFetchLog } from '../token/jwks-log.js';
import type { TokenVerifier } from '../token/types.js';
import { createTokenVerifier } from '../token/verifier.js';
import { composeInOrder, createLifecycle, type Lifecycle } from './lifecycle.js';
import { createPolicies, type PolicySetup } from './policy.js';
import { createRevocation, type RevocationSetup } from './revocation.js';

/** The pipeline and the components under it, started: what `serve` and `mandate check` share. */
export interface DecisionCore<A extends AuditSink = AuditSink> {
  readonly decider: Decider;
  readonly verifier: TokenVerifier;
  readonly policy: PolicyEngine;
  readonly policies: PolicySetup;
  readonly revocation: RevocationSetup;
  readonly compat?: CompatPolicy;
  readonly audit: A;
  readonly metrics: Metrics;
  readonly devSigner?: DevSigner;
  /**
   * Subscribes to changes of the policies in force (a reload, a bundle, a failure, a removal);
   * returns the unsubscribe function.
   */
  onPolicyChange(listener: () => void): () => void;
}

/**
 * Starts the pipeline's components on `lifecycle`, in order: the revocation store first, so a
 * damaged snapshot stops start-up before anything else runs. `startAudit` starts the audit
 * destination (the configured audit log for `serve`, a capture for `mandate check`).
 */
export async function startDecisionCore<A extends AuditSink>(
  config: MandateConfig,
  logger: Logger,
  lifecycle: Lifecycle,
  startAudit: (metrics: Metrics) => Promise<A>,
): Promise<DecisionCore<A>> {
  const metrics = createMetrics();
  const devSigner = await prepareDevIssuer(config);
  const revocation = createRevocation(config, metrics, logger);
  await lifecycle.start({
    name: 'revocations',
    start: () => revocation.start(),
    stop: () => revocation.store.stop(),
    status: () => revocation.store.status(),
  });
  const policies = createPolicies(config, metrics, logger);
  const policy = policies.engine;
  await lifecycle.start({
    name: 'policies',
    start: () => policy.start(),
    stop: () => policy.stop(),
    status: () => policy.status(),
  });
  const verifier = createVerifier(config, metrics, logger);
  await lifecycle.start({
    name: 'keys',
    start: () => verifier.start(),
    stop: () => verifier.stop(),
    status: () => verifier.status(),
  });
  const compat = createCompat(config, logger);
  if (compat) {
    await lifecycle.start({
      name: 'compat_policy',
      start: async () => {
        await compat.start();
        logger
          .child({ component: 'compat-policy' })
          .info(
            { revision: compat.revision(), entrypoint: config.envoy.compat.entrypoint },
            'policy loaded',
          );
      },
      stop: () => compat.stop(),
      status: () => compat.status(),
    });
  }
  const audit = await startAudit(metrics);
  const decider = createDecider({
    verifier,
    policy,
    audit,
    tenancy: config.tenancy,
    metrics,
    maxNestingDepth: config.limits.maxNestingDepth,
    ...(compat ? { compat } : {}),
    revocation: revocation.store,
    onError: (err) => logger.error({ err }, 'decision failed with an internal error'),
  });
  return {
    decider,
    verifier,
    policy,
    policies,
    revocation,
    ...(compat ? { compat } : {}),
    audit,
    metrics,
    ...(devSigner ? { devSigner } : {}),
    onPolicyChange: (listener) => policy.onChange(listener),
  };
}

/** Writes the dev signer's public keys where the dev issuer's jwks_file points. */
async function prepareDevIssuer(config: MandateConfig): Promise<DevSigner | undefined> {
  if (!config.dev.enabled) return undefined;
  const signer = await loadOrCreateDevSigner(config.dev.stateDir);
  const devIssuer = config.issuers.find((i) => i.issuer === config.dev.issuer);
  if (devIssuer?.keys.kind === 'jwks_file') {
    await mkdir(dirname(devIssuer.keys.path), { recursive: true });
    await writeFile(devIssuer.keys.path, JSON.stringify(signer.publicJwks, null, 2));
  }
  return signer;
}

/** The data-plane token verifier, its cache and key fetches counted in the metrics and logged. */
function createVerifier(config: MandateConfig, metrics: Metrics, logger: Logger): TokenVerifier {
  const cacheHits = metrics.tokenCache.labels('hit');
  const cacheMisses = metrics.tokenCache.labels('miss');
  const logJwksFetch = createJwksFetchLog(logger.child({ component: 'keys' }));
  return createTokenVerifier({
    issuers: config.issuers,
    token: config.token,
    observer: {
      cacheHit: () => cacheHits.inc(),
      cacheMiss: () => cacheMisses.inc(),
      jwksFetch: (issuer, detail) => {
        metrics.jwksFetches.inc({ issuer, result: detail.result });
        logJwksFetch(issuer, detail);
      },
    },
  });
}

/** The OPA-Envoy compatibility policy (compiled when started), when `envoy.compat.enabled`. */
function createCompat(config: MandateConfig, logger: Logger): CompatPolicy | undefined {
  const { compat } = config.envoy;
  if (!compat.enabled) return undefined;
  const log = logger.child({ component: 'compat-policy' });
  return createCompatPolicy({
    dir: compat.dir,
    entrypoint: compat.entrypoint,
    ...(config.policies.opaPath !== undefined ? { opaPath: config.policies.opaPath } : {}),
    onError: (error) =>
      log.error({ error }, 'compatibility policy failed or gave no usable result; denied'),
  });
}

/** A started decision core on its own lifecycle, for in-process use without listeners. */
export interface OpenDecisionCore<A extends AuditSink> extends DecisionCore<A> {
  /** Stops its components in reverse start order. */
  stop(): Promise<void>;
}

/**
 * The same pipeline `serve` builds (revocation with the configured store, policies, keys, the
 * OPA-Envoy compatibility policy), started without listeners: what `mandate check` decides with.
 * `audit` receives the decision records instead of the configured audit log. A component that
 * fails to start stops those started before it, and the promise rejects.
 */
export async function openDecisionCore<A extends AuditSink>(
  config: MandateConfig,
  logger: Logger,
  audit: A,
): Promise<OpenDecisionCore<A>> {
  const lifecycle = createLifecycle((name, err) =>
    logger.error({ err, component: name }, 'component failed to stop'),
  );
  const core = await composeInOrder(lifecycle, (started) =>
    startDecisionCore(config, logger, started, async () => audit),
  );
  return { ...core, stop: () => lifecycle.stop(0) };
}
