// Polls a bundle server the way OPA's downloader does: ETag / If-None-Match, 304, random delay, back-off, long polling.
//
// Between polls it waits a random time in [min, max] delay. After an error it backs off from 100 ms
// by a factor of 1.6 per retry (±20 % jitter) up to the max delay, as OPA's DefaultBackoff. With
// `long_polling_timeout_seconds` set, each request carries `Prefer: wait=N`; while the server
// answers with `Content-Type: application/vnd.openpolicyagent.bundles` (on 200 and 304 alike) the
// next request is sent at once, the server holding it until something changes. An answer without
// that type turns long polling off for good and periodic polling takes over, as in OPA.

import { fetchWithDeadline, type FetchLike } from '../lib/fetch-deadline.js';

/** OPA's content type that tells a client the server supports long polling. */
export const LONG_POLL_CONTENT_TYPE = 'application/vnd.openpolicyagent.bundles';

/** Refuse bundle downloads larger than this. */
export const MAX_DOWNLOAD_BYTES = 256 * 1024 * 1024;

export interface BundlePollerOptions {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  /** Long-poll wait asked of the server, seconds; undefined: periodic polling only. */
  readonly longPollingTimeoutSeconds?: number;
  /** Per-request timeout, milliseconds (a long poll gets its wait on top). */
  readonly timeoutMs: number;
  /** ETag of the bundle already active (e.g. the persisted one), sent as If-None-Match. */
  readonly etag?: string;
  /** Activates a downloaded bundle; a rejection counts as an error of that poll (the ETag is kept, as OPA does). */
  onBundle(bytes: Uint8Array, etag: string | undefined): Promise<void>;
  /** Told about every poll's outcome. */
  onResult?(result: PollResult): void;
  /** Test seams. */
  readonly fetch?: FetchLike;
  readonly random?: () => number;
}

export type PollResult =
  | { readonly kind: 'activated'; readonly etag?: string }
  | { readonly kind: 'not_modified' }
  | { readonly kind: 'error'; readonly stage: 'download' | 'activation'; readonly error: unknown };

export interface BundlePollerStatus {
  readonly url: string;
  readonly etag?: string;
  readonly longPolling: boolean;
  /** Consecutive failed polls. */
  readonly retries: number;
  readonly lastRequestAt?: number;
  readonly lastSuccessfulRequestAt?: number;
  readonly lastDownloadAt?: number;
}

export interface BundlePoller {
  /** One poll now (used at start, before the loop). Never throws; see the result. */
  pollOnce(): Promise<PollResult>;
  /** Starts the loop; the first poll waits one delay (start-up already polled once). */
  start(): void;
  stop(): Promise<void>;
  status(): BundlePollerStatus;
}

/** OPA's DefaultBackoff: base 100 ms, factor 1.6, jitter 0.2, capped at `maxMs`. */
export function backoffMs(
  retries: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const base = 100;
  let delay = base * 1.6 ** retries;
  delay = Math.min(delay, maxMs);
  delay += delay * 0.2 * (random() * 2 - 1);
  return Math.max(0, Math.min(delay, maxMs));
}

class DownloadError extends Error {
  override readonly name = 'DownloadError';
}

/** Reads one answer: 304 (keeps the ETag unless a new one is sent), 200 (bounded body) or a DownloadError. */
async function readAnswer(
  response: Response,
  etag: string | undefined,
): Promise<{ bytes?: Uint8Array; etag?: string; longPoll: boolean }> {
  const longPoll = response.headers.get('content-type') === LONG_POLL_CONTENT_TYPE;
  if (response.status === 304) {
    const tag = response.headers.get('etag') ?? etag;
    return { ...(tag !== undefined && { etag: tag }), longPoll };
  }
  if (response.status !== 200) {
    if (response.status === 404) throw new DownloadError('server replied with not found');
    if (response.status === 401) throw new DownloadError('server replied with not authorized');
    throw new DownloadError(`server replied with HTTP ${response.status}`);
  }
  const length = Number(response.headers.get('content-length') ?? 0);
  if (length > MAX_DOWNLOAD_BYTES) {
    throw new DownloadError(`bundle of ${length} bytes exceeds ${MAX_DOWNLOAD_BYTES}`);
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.byteLength > MAX_DOWNLOAD_BYTES) throw new DownloadError('bundle too large');
  const tag = response.headers.get('etag') ?? undefined;
  return { bytes, ...(tag !== undefined && { etag: tag }), longPoll };
}

/** Waits `ms`, or less when the signal aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Creates a poller; nothing is fetched before pollOnce() or start(). */
export function createBundlePoller(options: BundlePollerOptions): BundlePoller {
  const random = options.random ?? Math.random;
  let etag = options.etag;
  let longPolling = options.longPollingTimeoutSeconds !== undefined;
  let retries = 0;
  let running = false;
  let loop: Promise<void> | undefined;
  let abort: AbortController | undefined;
  let lastRequestAt: number | undefined;
  let lastSuccessfulRequestAt: number | undefined;
  let lastDownloadAt: number | undefined;

  async function download(
    signal: AbortSignal,
  ): Promise<{ bytes?: Uint8Array; etag?: string; longPoll: boolean }> {
    const headers: Record<string, string> = { ...options.headers };
    if (etag !== undefined) headers['if-none-match'] = etag;
    if (longPolling && options.longPollingTimeoutSeconds !== undefined) {
      headers['prefer'] = `wait=${options.longPollingTimeoutSeconds}`;
    }
    const waitMs = longPolling ? (options.longPollingTimeoutSeconds ?? 0) * 1000 : 0;
    lastRequestAt = Date.now();
    try {
      return await fetchWithDeadline(
        options.url,
        { headers },
        {
          // The whole download, body included, within the timeout (plus a long poll's wait).
          timeoutMs: options.timeoutMs + waitMs,
          signal,
          ...(options.fetch ? { fetch: options.fetch } : {}),
        },
        (response) => readAnswer(response, etag),
      );
    } catch (cause) {
      if (cause instanceof DownloadError) throw cause;
      throw new DownloadError(`request failed: ${(cause as Error).message}`, { cause });
    }
  }

  async function pollOnce(signal: AbortSignal = new AbortController().signal): Promise<PollResult> {
    let result: PollResult;
    try {
      const response = await download(signal);
      lastSuccessfulRequestAt = Date.now();
      if (!response.longPoll) longPolling = false;
      if (response.bytes === undefined) {
        etag = response.etag;
        result = { kind: 'not_modified' };
      } else {
        lastDownloadAt = Date.now();
        // The ETag is remembered even when activation fails: the same bad bundle is not re-fetched.
        etag = response.etag;
        try {
          await options.onBundle(response.bytes, response.etag);
          result = {
            kind: 'activated',
            ...(response.etag !== undefined && { etag: response.etag }),
          };
        } catch (error) {
          result = { kind: 'error', stage: 'activation', error };
        }
      }
    } catch (error) {
      // As OPA: a failed download forgets the ETag, so the next request is unconditional.
      etag = undefined;
      result = { kind: 'error', stage: 'download', error };
    }
    retries = result.kind === 'error' ? retries + 1 : 0;
    options.onResult?.(result);
    return result;
  }

  function delayAfter(result: PollResult): number {
    if (result.kind === 'error') return backoffMs(retries - 1, options.maxDelayMs, random);
    if (longPolling) return 0;
    return options.minDelayMs + (options.maxDelayMs - options.minDelayMs) * random();
  }

  return {
    pollOnce: () => pollOnce(),
    start() {
      if (running) return;
      running = true;
      abort = new AbortController();
      const signal = abort.signal;
      loop = (async () => {
        let delay = longPolling ? 0 : delayAfter({ kind: 'not_modified' });
        if (retries > 0) delay = backoffMs(retries - 1, options.maxDelayMs, random);
        while (running) {
          await sleep(delay, signal);
          if (!running) break;
          delay = delayAfter(await pollOnce(signal));
        }
      })();
    },
    async stop() {
      running = false;
      abort?.abort();
      await loop;
      loop = undefined;
    },
    status() {
      return {
        url: options.url,
        ...(etag !== undefined && { etag }),
        longPolling,
        retries,
        ...(lastRequestAt !== undefined && { lastRequestAt }),
        ...(lastSuccessfulRequestAt !== undefined && { lastSuccessfulRequestAt }),
        ...(lastDownloadAt !== undefined && { lastDownloadAt }),
      };
    },
  };
}
