// The http destination: records go through the on-disk spool, then to the collector as gzip JSON arrays (OPA's upload protocol), with back-off.
import { promisify } from 'node:util';
import { gzip as gzipCallback, constants as zlibConstants } from 'node:zlib';
import type { AuditSinkConfig } from '../config/types.js';
import { fetchWithDeadline, type FetchLike } from '../lib/fetch-deadline.js';
import type { ComponentStatus } from '../lib/lifecycle.js';
import type { AuditDestination, AuditDestinationEvents } from './destination.js';
import { createSpool, type SpoolBatch } from './spool/index.js';

const gzip = promisify(gzipCallback);

type HttpDestinationConfig = Extract<AuditSinkConfig, { driver: 'http' }>;

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

/** The `http` driver of a `sinks` entry: spooled on disk, then uploaded. */
export function createHttpDestination(options: HttpDestinationOptions): HttpAuditDestination {
  const { config } = options;
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

  let text = '';
  let count = 0;
  let refused = 0;
  let started = false;
  let stopped = false;
  let flushing = false;
  let failures = 0;
  let lastFailure: string | undefined;
  let inFlight: AbortController | undefined;
  let loopDone: Promise<void> = Promise.resolve();
  let wakeUp: (() => void) | undefined;
  let waitingForData = false;

  function wake(): void {
    const w = wakeUp;
    wakeUp = undefined;
    w?.();
  }

  /** Sleeps up to `ms`, or until new records, a flush or stop wake the loop. */
  function pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        if (wakeUp === done) wakeUp = undefined;
        resolve();
      }
      wakeUp = done;
    });
  }

  const full = () => spool.usedBytes() >= config.spool.maxBytes;

  async function upload(batch: SpoolBatch): Promise<boolean> {
    const body = await gzip(batch.body, {
      level: zlibConstants.Z_BEST_SPEED,
    });
    const controller = new AbortController();
    inFlight = controller;
    try {
      const status = await fetchWithDeadline(
        config.url,
        {
          method: 'POST',
          headers: {
            ...config.headers,
            'content-type': 'application/json',
            'content-encoding': 'gzip',
            'user-agent': `mandate/${options.version}`,
          },
          body,
        },
        {
          timeoutMs: config.timeoutMs,
          signal: controller.signal,
          ...(options.fetch ? { fetch: options.fetch } : {}),
        },
        async (res) => {
          await res.arrayBuffer().catch(() => undefined);
          return res.status;
        },
      );
      if (status >= 200 && status < 300) return true;
      lastFailure = `collector answered ${status}`;
      return false;
    } catch (err) {
      if ((err as Error).name === 'TimeoutError') {
        lastFailure = 'upload timed out';
        return false;
      }
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      lastFailure = cause?.code ?? cause?.message ?? (err as Error).message;
      return false;
    } finally {
      inFlight = undefined;
    }
  }

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
      if (batch.count === 0 || (await upload(batch))) {
        await spool.ack(batch);
        if (batch.count > 0) options.onRecords?.('delivered', batch.count);
        if (failures > 0) failures = 0;
        continue;
      }
      spool.release();
      failures++;
      if (failures === 1 || failures % 10 === 0) {
        options.onError?.(new Error(lastFailure ?? 'upload failed'), 'upload');
      }
      // Exponential back-off with jitter, so a fleet of sidecars does not retry in step.
      const ceiling = Math.min(
        config.backoffMaxMs,
        config.backoffMinMs * 2 ** Math.min(failures - 1, 30),
      );
      await pause(ceiling / 2 + Math.random() * (ceiling / 2));
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
      inFlight?.abort(new Error('shutting down'));
      wake();
      await loopDone;
      await spool.close();
    },
    stats() {
      const s = spool.stats();
      return {
        spoolBytes: s.bytes + s.pendingBytes,
        spoolRecords: s.records,
        oldestUndeliveredSeconds: s.oldestMs === undefined ? 0 : (Date.now() - s.oldestMs) / 1000,
        consecutiveFailures: failures,
      };
    },
    status(): ComponentStatus {
      const s = spool.stats();
      const detail = {
        spool_bytes: s.bytes + s.pendingBytes,
        spool_records: s.records,
        oldest_undelivered_seconds:
          s.oldestMs === undefined ? 0 : Math.round((Date.now() - s.oldestMs) / 1000),
      };
      if (!started) return { state: 'NOT_READY', message: 'spool not open yet', detail };
      if (failClosed && (full() || s.writeError !== undefined)) {
        return {
          state: 'ERROR',
          message: s.writeError
            ? `spool cannot be written (${s.writeError}): checks are denied with audit_unavailable`
            : 'spool full: checks are denied with audit_unavailable until the collector catches up',
          detail,
        };
      }
      if (failures > 0 || s.writeError !== undefined) {
        return {
          state: 'WARN',
          message: s.writeError
            ? `spool write failing: ${s.writeError}`
            : `collector unreachable (${lastFailure ?? 'upload failed'}); records wait in the spool`,
          detail,
        };
      }
      return { state: 'OK', detail };
    },
  };
}
