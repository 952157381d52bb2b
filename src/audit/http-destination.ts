// The http destination: records go through the on-disk spool, then to the collector as gzip JSON arrays (OPA's upload protocol), with back-off.
import type { AuditSinkConfig } from '../config/types.js';
import type { FetchLike } from '../lib/fetch-deadline.js';
import type { ComponentStatus } from '../lib/lifecycle.js';
import type { AuditDestination, AuditDestinationEvents } from './destination.js';
import { createUploader } from './http-upload.js';
import { createSpool, type SpoolBatch, type SpoolStats } from './spool/index.js';

export type HttpDestinationConfig = Extract<AuditSinkConfig, { driver: 'http' }>;

export interface HttpDestinationOptions extends AuditDestinationEvents {
  readonly config: HttpDestinationConfig;
  /** mandate's version, for the User-Agent. */
  readonly version: string;
  /** Injected for tests of timing; default `fetch`. */
  readonly fetch?: FetchLike;
}

/** Extra observability of an http destination, read by the metrics updater and the status. */
export interface HttpDestinationStats {
  readonly spoolBytes: number;
  readonly spoolRecords: number;
  readonly oldestUndeliveredSeconds: number;
  readonly consecutiveFailures: number;
}

export interface HttpAuditDestination extends AuditDestination {
  stats(): HttpDestinationStats;
}

/** Wakes a sleeping loop early; one sleeper at a time. */
interface Waker {
  wake(): void;
  /** Sleeps up to `ms`, or until `wake()`. */
  pause(ms: number): Promise<void>;
}

function createWaker(): Waker {
  let wakeUp: (() => void) | undefined;
  return {
    wake() {
      const w = wakeUp;
      wakeUp = undefined;
      w?.();
    },
    pause(ms) {
      return new Promise((resolve) => {
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          if (wakeUp === done) wakeUp = undefined;
          resolve();
        }
        wakeUp = done;
      });
    },
  };
}

/** The `http` driver of a `sinks` entry: spooled on disk, then uploaded. */
export function createHttpDestination(options: HttpDestinationOptions): HttpAuditDestination {
  const { config } = options;
  const { wake, pause } = createWaker();
  const spool = createSpool(config.spool, {
    onDropped: (n) => options.onRecords?.('dropped', n),
    onError: (err, what) => options.onError?.(err, what),
    // Only a loop waiting for a first record or a full batch needs waking; otherwise its timer
    // (the batch delay) comes first, and waking it on every write would only cost.
    onAppended: () => {
      if (waitingForData || spool.bytes() >= config.batchMaxBytes) wake();
    },
  });
  const failClosed = config.onFull === 'fail_closed';
  const uploader = createUploader(config, options.version, options.fetch);

  let text = '';
  let count = 0;
  let refused = 0;
  let started = false;
  let stopped = false;
  let flushing = false;
  let failures = 0;
  let loopDone: Promise<void> = Promise.resolve();
  let waitingForData = false;

  const full = () => spool.usedBytes() >= config.spool.maxBytes;

  async function loop(): Promise<void> {
    while (!stopped) {
      const { bytes, oldestMs } = spool.stats();
      if (bytes === 0) {
        waitingForData = true;
        await pause(flushing ? 50 : 60_000);
        waitingForData = false;
        continue;
      }
      const age = oldestMs === undefined ? 0 : Date.now() - oldestMs;
      if (!flushing && bytes < config.batchMaxBytes && age < config.batchMaxDelayMs) {
        await pause(config.batchMaxDelayMs - age);
        continue;
      }
      let batch: SpoolBatch | undefined;
      try {
        batch = await spool.readBatch(config.batchMaxBytes);
      } catch (err) {
        options.onError?.(err as Error, 'spool read');
        await pause(config.backoffMinMs);
        continue;
      }
      if (!batch) {
        await pause(50);
        continue;
      }
      if (batch.invalid > 0) options.onRecords?.('dropped', batch.invalid);
      if (batch.count === 0 || (await uploader.upload(batch))) {
        await spool.ack(batch);
        if (batch.count > 0) options.onRecords?.('delivered', batch.count);
        if (failures > 0) failures = 0;
        continue;
      }
      spool.release();
      failures++;
      if (failures === 1 || failures % 10 === 0) {
        options.onError?.(new Error(uploader.lastFailure() ?? 'upload failed'), 'upload');
      }
      await pause(backoffMs(config, failures));
    }
  }

  return {
    name: config.name,
    driver: 'http',
    format: 'opa',
    add(record, line) {
      // Over the bound in fail-closed mode only records admitted before it was reached are kept:
      // an allowed decision was answered, so its record must land; a denial can be let go.
      if (failClosed && (record as { allow?: unknown }).allow !== true && full()) {
        refused++;
        return;
      }
      text += line;
      count++;
    },
    commit() {
      if (refused > 0) {
        options.onRecords?.('dropped', refused);
        refused = 0;
      }
      if (count === 0) return;
      if (stopped) {
        options.onRecords?.('dropped', count);
      } else {
        const incoming = Buffer.byteLength(text);
        if (!failClosed) spool.makeRoom(incoming);
        if (!failClosed && spool.usedBytes() + incoming > config.spool.maxBytes) {
          // Nothing left to free (the disk is failing and lines are piling up in memory).
          options.onRecords?.('dropped', count);
        } else {
          spool.append(text, count);
          options.onRecords?.('written', count);
        }
      }
      text = '';
      count = 0;
    },
    admits() {
      if (!failClosed) return true;
      return started && !full() && !spool.writeFailing();
    },
    async start() {
      await spool.open();
      started = true;
      loopDone = loop();
    },
    flush: () => spool.flush(),
    // The spool fdatasyncs in flush() unless spool.fsync is never. flush() also resolves while a
    // write is failing (it is retried): that is not on disk, so it must not count as written.
    async sync() {
      await spool.flush();
      if (spool.writeFailing())
        throw new Error(`audit sink ${config.name}: the spool cannot be written`);
    },
    async close(deadline) {
      if (!started) return;
      await spool.flush();
      flushing = true;
      wake();
      while (Date.now() < deadline && spool.bytes() > 0) {
        await new Promise((r) => setTimeout(r, 20));
      }
      stopped = true;
      uploader.abort(new Error('shutting down'));
      wake();
      await loopDone;
      await spool.close();
    },
    stats: () => httpStats(spool.stats(), failures),
    status: () =>
      httpStatus(spool.stats(), {
        started,
        failClosed,
        full: full(),
        failures,
        lastFailure: uploader.lastFailure(),
      }),
  };
}

/** Exponential back-off with jitter after `failures` failed uploads, so a fleet of sidecars does not retry in step. */
function backoffMs(config: HttpDestinationConfig, failures: number): number {
  const ceiling = Math.min(
    config.backoffMaxMs,
    config.backoffMinMs * 2 ** Math.min(failures - 1, 30),
  );
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

function httpStats(s: SpoolStats, failures: number): HttpDestinationStats {
  return {
    spoolBytes: s.bytes + s.pendingBytes,
    spoolRecords: s.records,
    oldestUndeliveredSeconds: s.oldestMs === undefined ? 0 : (Date.now() - s.oldestMs) / 1000,
    consecutiveFailures: failures,
  };
}

/** What the status of an http destination depends on besides its spool. */
interface HttpState {
  readonly started: boolean;
  readonly failClosed: boolean;
  readonly full: boolean;
  readonly failures: number;
  readonly lastFailure: string | undefined;
}

/** NOT_READY before the spool opens; ERROR when fail-closed and denying; WARN while failing; else OK. */
function httpStatus(s: SpoolStats, state: HttpState): ComponentStatus {
  const detail = {
    spool_bytes: s.bytes + s.pendingBytes,
    spool_records: s.records,
    oldest_undelivered_seconds:
      s.oldestMs === undefined ? 0 : Math.round((Date.now() - s.oldestMs) / 1000),
  };
  if (!state.started) return { state: 'NOT_READY', message: 'spool not open yet', detail };
  if (state.failClosed && (state.full || s.writeError !== undefined)) {
    return {
      state: 'ERROR',
      message: s.writeError
        ? `spool cannot be written (${s.writeError}): checks are denied with audit_unavailable`
        : 'spool full: checks are denied with audit_unavailable until the collector catches up',
      detail,
    };
  }
  if (state.failures > 0 || s.writeError !== undefined) {
    return {
      state: 'WARN',
      message: s.writeError
        ? `spool write failing: ${s.writeError}`
        : `collector unreachable (${state.lastFailure ?? 'upload failed'}); records wait in the spool`,
      detail,
    };
  }
  return { state: 'OK', detail };
}
