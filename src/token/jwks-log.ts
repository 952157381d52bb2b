// Operational log lines for JWKS fetches: a rate-limited WARN per issuer while fetches fail, INFO when keys arrive.
import type { Logger } from 'pino';
import type { JwksFetchDetail } from './observer.js';

/** At most one failure line per issuer in this window; the rest are counted into the next one. */
const WARN_INTERVAL_MS = 60_000;

/**
 * Returns a `jwksFetch` hook that logs: every failure while an issuer is down would flood the log
 * (a hanging issuer fails every few seconds at start-up), so failures are logged on the first one
 * and then once a minute with the number left out; keys arriving (first load, a recovery, a new
 * set of kids) are logged once each.
 */
export function createJwksFetchLog(
  logger: Logger,
  now: () => number = Date.now,
): (issuer: string, detail: JwksFetchDetail) => void {
  const byIssuer = new Map<string, { lastWarnMs: number; suppressed: number; failing: boolean }>();
  return (issuer, detail) => {
    let state = byIssuer.get(issuer);
    if (state === undefined) {
      state = { lastWarnMs: Number.NEGATIVE_INFINITY, suppressed: 0, failing: false };
      byIssuer.set(issuer, state);
    }
    if (detail.result === 'ok') {
      if (state.failing || detail.changed) {
        logger.info(
          { issuer, keys: detail.keys, ...(state.failing && { recovered: true }) },
          'JWKS keys loaded',
        );
      }
      state.failing = false;
      state.suppressed = 0;
      state.lastWarnMs = Number.NEGATIVE_INFINITY;
      return;
    }
    state.failing = true;
    const t = now();
    if (t - state.lastWarnMs < WARN_INTERVAL_MS) {
      state.suppressed++;
      return;
    }
    logger.warn(
      {
        issuer,
        error: detail.error,
        ...(state.suppressed > 0 && { failuresNotLogged: state.suppressed }),
      },
      detail.hasKeys
        ? 'JWKS fetch failed; serving the last good keys'
        : 'JWKS fetch failed; tokens of this issuer are refused until keys load',
    );
    state.lastWarnMs = t;
    state.suppressed = 0;
  };
}
