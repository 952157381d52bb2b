// What every long-running command shares: the operational logger, and a stop on SIGTERM/SIGINT with a deadline.
import pino, { type Logger } from 'pino';
import type { MandateConfig } from '../config/types.js';

/** How long a stop may drain listeners and flush audit before it is cut short. */
const SHUTDOWN_GRACE_MS = 10_000;
/** Past the grace period, how long before the process exits anyway (a stop that hangs). */
const FORCED_EXIT_AFTER_MS = SHUTDOWN_GRACE_MS + 5000;

/** The operational logger: to stderr, since stdout carries audit records only. */
export function operationalLogger(config: MandateConfig): Logger {
  return pino({ level: config.logLevel, base: { service: 'mandate' } }, pino.destination(2));
}

/**
 * On the first SIGTERM or SIGINT, calls `stop` with the grace period and exits 0 once it resolves,
 * 1 if it fails or has not finished well past the grace period. Later signals are ignored.
 */
export function stopOnSignals(logger: Logger, stop: (graceMs: number) => Promise<void>): void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) return;
    signalled = true;
    logger.info({ signal }, 'shutting down');
    const forced = setTimeout(() => process.exit(1), FORCED_EXIT_AFTER_MS);
    forced.unref();
    stop(SHUTDOWN_GRACE_MS).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
