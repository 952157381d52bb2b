// `mandate token mint`: prints an access token signed by the dev issuer, for trying checks by hand.
import type { MandateConfig } from '../config/types.js';
import { parseDuration } from '../lib/duration.js';
import { loadOrCreateDevSigner } from '../token/dev-signer.js';
import { UsageError } from './usage-error.js';

/** `mandate token mint`'s flags, as declared in program.ts. */
export interface TokenMintFlags {
  readonly client?: string;
  readonly sub?: string;
  readonly tenant?: string;
  readonly scope: string;
  readonly ttl: string;
  readonly act?: string[];
  readonly audience?: string;
}

/** Mints the token the flags describe with the dev signer of `config`. */
export async function tokenMint(config: MandateConfig, values: TokenMintFlags): Promise<string> {
  if (!values.client)
    throw new UsageError('--client is required (the OAuth client_id, e.g. agent-1)');
  let ttlSeconds: number;
  try {
    ttlSeconds = parseDuration(values.ttl);
  } catch {
    throw new UsageError(`--ttl: not a duration: ${values.ttl} (use e.g. 90s, 10m, 1h)`);
  }
  const signer = await loadOrCreateDevSigner(config.dev.stateDir);
  return signer.mint({
    issuer: config.dev.issuer,
    audience: values.audience ?? config.dev.audience,
    // A client-credentials token has the client as its subject (RFC 9068 §2.2).
    sub: values.sub ?? values.client,
    ...(values.tenant ? { tenant: values.tenant } : {}),
    tenantClaim: config.tenancy.claim,
    scope: values.scope,
    clientId: values.client,
    ttlSeconds,
    ...(values.act ? { act: values.act } : {}),
  });
}
