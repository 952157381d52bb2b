// Composition of admin authentication: the static tokens, plus admin JWTs when `admin.jwt` is configured.
import type { Logger } from 'pino';
import type { MandateConfig } from '../config/types.js';
import { createJwksFetchLog } from '../token/jwks-log.js';
import { NOOP_TOKEN_OBSERVER } from '../token/observer.js';
import { createTokenVerifier } from '../token/verifier.js';
import {
  createStaticAdminAuthenticator,
  type AdminAuthenticator,
} from '../transport/admin/auth.js';
import { createAdminAuthenticator } from '../transport/admin/jwt-auth.js';

export interface AdminAuthSetup {
  readonly authenticator: AdminAuthenticator;
  /** Starts the admin issuer's key refresh. */
  start(): Promise<void>;
  /** Stops the admin issuer's key refresh. */
  stop(): Promise<void>;
}

/**
 * Builds the admin authenticator; `start()` fetches the admin issuer's keys when `admin.jwt` is
 * configured (the composition root starts and stops it like any component).
 */
export function createAdminAuth(
  config: MandateConfig,
  adminTokens: readonly string[],
  logger?: Logger,
): AdminAuthSetup {
  const jwt = config.admin.jwt;
  const staticTokens = createStaticAdminAuthenticator(adminTokens);
  if (jwt === undefined) {
    return { authenticator: staticTokens, start: async () => {}, stop: async () => {} };
  }
  // Its own verifier: admin keys, audiences and cache are never shared with data-plane tokens.
  const verifier = createTokenVerifier({
    issuers: [jwt.issuer],
    token: config.token,
    ...(logger && {
      observer: {
        ...NOOP_TOKEN_OBSERVER,
        jwksFetch: createJwksFetchLog(logger.child({ component: 'admin-keys' })),
      },
    }),
  });
  return {
    authenticator: createAdminAuthenticator(staticTokens, {
      verifier,
      requiredScope: jwt.requiredScope,
      tenantClaim: jwt.tenantClaim,
    }),
    start: () => verifier.start(),
    stop: () => verifier.stop(),
  };
}
