// Uploads one spooled batch to the collector: gzip, POST with the configured headers and a deadline, and a short reason when it fails.
import { promisify } from 'node:util';
import { gzip as gzipCallback, constants as zlibConstants } from 'node:zlib';
import { fetchWithDeadline, type FetchLike } from '../lib/fetch-deadline.js';
import type { HttpDestinationConfig } from './http-destination.js';
import type { SpoolBatch } from './spool/index.js';

const gzip = promisify(gzipCallback);

/** One upload at a time to the collector (OPA's upload protocol: a gzip JSON array). */
export interface Uploader {
  /** True when the collector took the batch (2xx); false with `lastFailure()` set otherwise. */
  upload(batch: SpoolBatch): Promise<boolean>;
  /** Why the last upload failed (a status, a timeout, a network error code); never record content. */
  lastFailure(): string | undefined;
  /** Aborts the upload in flight, if any (shutdown). */
  abort(reason: Error): void;
}

/** An uploader for `config.url`; `fetch` is a seam for tests. */
export function createUploader(
  config: HttpDestinationConfig,
  version: string,
  fetch: FetchLike | undefined,
): Uploader {
  let failure: string | undefined;
  let inFlight: AbortController | undefined;
  return {
    async upload(batch) {
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
              'user-agent': `mandate/${version}`,
            },
            body,
          },
          {
            timeoutMs: config.timeoutMs,
            signal: controller.signal,
            ...(fetch ? { fetch } : {}),
          },
          async (res) => {
            await res.arrayBuffer().catch(() => undefined);
            return res.status;
          },
        );
        if (status >= 200 && status < 300) return true;
        failure = `collector answered ${status}`;
        return false;
      } catch (err) {
        if ((err as Error).name === 'TimeoutError') {
          failure = 'upload timed out';
          return false;
        }
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        failure = cause?.code ?? cause?.message ?? (err as Error).message;
        return false;
      } finally {
        inFlight = undefined;
      }
    },
    lastFailure: () => failure,
    abort(reason) {
      inFlight?.abort(reason);
    },
  };
}
