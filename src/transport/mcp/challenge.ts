// RFC 6750 / RFC 9449 / RFC 9728 `WWW-Authenticate` challenges as the MCP authorization spec asks for them.
import { metadataUrlOf } from '../resource-metadata.js';

/** Never asked for in a challenge: a refresh token is the client's choice, not a resource's need. */
const NEVER_CHALLENGED = 'offline_access';

/** RFC 6750 §3 and RFC 9449 §7.1 error codes a challenge may carry. */
export type ChallengeError =
  'invalid_token' | 'insufficient_scope' | 'invalid_request' | 'invalid_dpop_proof';

export interface ChallengeParams {
  readonly resourceUri: string;
  readonly scopes: readonly string[];
  readonly error?: ChallengeError;
  readonly description?: string;
  /**
   * The `DPoP` scheme's accepted proof algorithms (RFC 9449 §7.1 `algs`): set, the challenge uses
   * the `DPoP` scheme; unset, `Bearer`.
   */
  readonly dpopAlgorithms?: readonly string[];
}

/** A quoted-string value: mandate's own text, with `"` and `\` escaped (RFC 7230 §3.2.6). */
function quoted(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`).replace(/[\r\n]/g, ' ')}"`;
}

/**
 * `Bearer resource_metadata="…", scope="…"` (401 without `error` when no token came, RFC 6750 §3.1),
 * with `error` and `error_description` otherwise; the scopes never include `offline_access`. With
 * `dpopAlgorithms`, the same in the `DPoP` scheme with `algs` (RFC 9449 §7.1).
 */
export function bearerChallenge(params: ChallengeParams): string {
  const parts = [`resource_metadata=${quoted(metadataUrlOf(params.resourceUri))}`];
  const scopes = [...new Set(params.scopes)].filter((s) => s !== NEVER_CHALLENGED);
  if (scopes.length > 0) parts.push(`scope=${quoted(scopes.join(' '))}`);
  if (params.error !== undefined) parts.push(`error=${quoted(params.error)}`);
  if (params.description !== undefined) {
    parts.push(`error_description=${quoted(params.description)}`);
  }
  if (params.dpopAlgorithms === undefined) return `Bearer ${parts.join(', ')}`;
  parts.push(`algs=${quoted(params.dpopAlgorithms.join(' '))}`);
  return `DPoP ${parts.join(', ')}`;
}
