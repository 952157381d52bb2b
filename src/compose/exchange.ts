// Composition of token exchange: the exchanger built from `exchange:`, its metrics, and its link to revocation.
import type { Logger } from 'pino';
import type { AuditSink } from '../audit/sink.js';
import type { ExchangeConfig } from '../config/exchange.js';
import type { MandateConfig } from '../config/types.js';
import type { Decider } from '../core/decision.js';
import {
  createTokenExchanger,
  type ExchangeObserver,
  type TokenExchanger,
} from '../exchange/exchanger.js';
import { createExchangeMetrics } from '../exchange/metrics.js';
import type { Metrics } from '../metrics/registry.js';
import type { RevocationChecker } from '../revocation/types.js';
import type { TokenVerifier } from '../token/types.js';
import type { EnvoyAuthorizer } from '../transport/envoy/authz.js';
import { createEgressAuthorizer, routeByMode } from '../transport/envoy/egress.js';
import type { Lifecycle } from './lifecycle.js';

export interface ExchangeSetupDeps {
  readonly decider: Decider;
  readonly verifier: TokenVerifier;
  readonly audit: AuditSink;
  readonly metrics: Metrics;
  /** Cached exchanges of subjects a revocation matches are dropped (see TokenExchangerDeps.isRevoked). */
  readonly revocations?: RevocationChecker;
  /** Subscribes to changes of the policies in force; returns the unsubscribe function. */
  readonly onPolicyChange?: (listener: () => void) => () => void;
  /** The lifecycle component's name. Default `exchange`. */
  readonly name?: string;
  /** Metrics of exchanges; several exchangers share one. Default: registered on `metrics` here. */
  readonly observer?: ExchangeObserver;
}

/**
 * Builds and starts the exchanger as the lifecycle's `exchange` component when `exchange:` is
 * configured. A private key that cannot be read rejects (a configuration mistake); an unreachable
 * authorization server does not: exchanges fail with `as_unavailable` and the status says so,
 * while checks go on.
 */
export async function startExchange(
  config: MandateConfig,
  deps: ExchangeSetupDeps,
  logger: Logger,
  lifecycle: Lifecycle,
): Promise<TokenExchanger | undefined> {
  const exchange = config.exchange;
  if (exchange === undefined) return undefined;
  let exchanger: TokenExchanger | undefined;
  let unsubscribe = () => {};
  await lifecycle.start({
    name: deps.name ?? 'exchange',
    start: async () => {
      const log = logger.child({ component: deps.name ?? 'exchange' });
      exchanger = await buildExchanger(exchange, deps, log);
      // A cached exchange carries the decision that allowed it; new policy must not keep serving it.
      const cache = exchanger.cache;
      unsubscribe = deps.onPolicyChange?.(() => cache.clear()) ?? unsubscribe;
      await exchanger.start();
      const status = exchanger.status();
      if (status.state !== 'OK') log.warn({ status }, 'token exchange is not ready yet');
    },
    stop: async () => {
      unsubscribe();
      await exchanger?.stop();
    },
    status: () => exchanger?.status() ?? { state: 'NOT_READY', message: 'not started' },
  });
  return exchanger;
}

/** The exchanger, not started: its private key is read here (a bad key rejects). */
async function buildExchanger(
  exchange: ExchangeConfig,
  deps: ExchangeSetupDeps,
  log: Logger,
): Promise<TokenExchanger> {
  const revocations = deps.revocations;
  return createTokenExchanger(exchange, {
    decider: deps.decider,
    verifier: deps.verifier,
    audit: deps.audit,
    observer: deps.observer ?? createExchangeMetrics(deps.metrics.registry),
    onError: (err) => log.error({ err }, 'token exchange failed with an internal error'),
    ...(revocations
      ? { isRevoked: (subject) => revocations.match(subject, subject.claims) !== undefined }
      : {}),
  });
}

/**
 * Envoy egress mode: when `exchange.egress` maps destination hosts, gRPC ext_authz calls marked with
 * the `mandate_mode: egress` context extension are answered by exchanging; the rest go to `ingress`.
 */
export function withEgress(
  ingress: EnvoyAuthorizer,
  config: MandateConfig,
  exchanger: TokenExchanger | undefined,
): EnvoyAuthorizer {
  const egress = egressAuthorizer(config, exchanger);
  return egress ? routeByMode(ingress, egress) : ingress;
}

/** The egress authorizer alone (for the HTTP ext_authz form under its own prefix), when egress is configured. */
export function egressAuthorizer(
  config: MandateConfig,
  exchanger: TokenExchanger | undefined,
): EnvoyAuthorizer | undefined {
  const routes = config.exchange?.egress ?? {};
  if (exchanger === undefined || Object.keys(routes).length === 0) return undefined;
  // The outbound token is read from the same headers as on ingress (`envoy.token_headers`).
  return createEgressAuthorizer({ exchanger, routes, tokenHeaders: config.envoy.tokenHeaders });
}
