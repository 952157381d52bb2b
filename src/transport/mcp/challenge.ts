// RFC 6750 / RFC 9728 `WWW-Authenticate` challenges as the MCP authorization spec asks for them.
import { metadataUrlOf } from './metadata.js';

/** Never asked for in a challenge: a refresh token is the client's choice, not a resource's need. */
const NEVER_CHALLENGED = 'offline_access';

/** RFC 6750 §3 error codes a challenge may carry. */
export type ChallengeError = 'invalid_token' | 'insufficient_scope' | 'invalid_request';

export interface ChallengeParams {
  readonly resourceUri: string;
  readonly scopes: readonly string[];
  readonly error?: ChallengeError;
  readonly description?: string;
}

/** A quoted-string value: mandate's own text, with `"` and `\` escaped (RFC 7230 §3.2.6). */
function quoted(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`).replace(/[\r\n]/g, ' ')}"`;
}

/**
 * `Bearer resource_metadata="…", scope="…"` (401 without `error` when no token came, RFC 6750 §3.1),
 * with `error` and `error_description` otherwise; the scopes never include `offline_access`.
 */
export function bearerChallenge(params: ChallengeParams): string {
  const parts = [`resource_metadata=${quoted(metadataUrlOf(params.resourceUri))}`];
  const scopes = [...new Set(params.scopes)].filter((s) => s !== NEVER_CHALLENGED);
  if (scopes.length > 0) parts.push(`scope=${quoted(scopes.join(' '))}`);
  if (params.error !== undefined) parts.push(`error=${quoted(params.error)}`);
  if (params.description !== undefined) {
    parts.push(`error_description=${quoted(params.description)}`);
  }
  return `Bearer ${parts.join(', ')}`;
}
