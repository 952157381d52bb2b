// How long a stream the proxy opened for a caller may stay open: no longer than the token that was decided for it.

/** setTimeout's largest delay; a later deadline is no deadline (the stream ends long before). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Milliseconds from `nowMs` until the token's `exp`, or undefined when it has none readable (an
 * opaque token) or it is too far away to time. Read without checking the signature: it is only
 * called on a token the pipeline has just verified and allowed.
 */
export function streamDeadlineMs(token: string | undefined, nowMs: number): number | undefined {
  const payload = token?.split('.')[1];
  if (payload === undefined) return undefined;
  let exp: unknown;
  try {
    exp = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown }).exp;
  } catch {
    return undefined;
  }
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return undefined;
  const ms = Math.max(0, exp * 1000 - nowMs);
  return ms > MAX_TIMER_MS ? undefined : ms;
}
