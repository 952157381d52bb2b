// The one way mandate makes an outbound HTTP request: fetch plus body read under a deadline that always fires.
//
// Why not `AbortSignal.timeout()` combined with `AbortSignal.any()`: on Node 20 the timeout signal
// inside such a composite can be garbage collected before it fires, and the fetch then never ends.
// Here the deadline is a plain timer that this call holds (and clears), it aborts a controller this
// call owns, and it also settles the returned promise itself: even a fetch or a body stream that
// ignores its abort signal cannot keep the caller waiting past the deadline.

/** The `fetch` function's type, for injection seams (tests, proxies). */
export type FetchLike = typeof globalThis.fetch;

export interface DeadlineOptions {
  /** Time for the whole exchange: connect, headers and the body read by `read`. */
  readonly timeoutMs: number;
  /** An outside cancellation (shutdown); its reason becomes the rejection. */
  readonly signal?: AbortSignal;
  /** Default: the global fetch. */
  readonly fetch?: FetchLike;
}

/** A `TimeoutError`, as `AbortSignal.timeout()` would reject with, so callers keep one test for it. */
export function deadlineError(timeoutMs: number): Error {
  return new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError');
}

/**
 * Fetches `url` and hands the response to `read` (which consumes the body), all within
 * `timeoutMs`. Rejects with a `TimeoutError` when the deadline passes, with the outside signal's
 * reason when that aborts first, or with whatever fetch or `read` throws.
 */
export async function fetchWithDeadline<T>(
  url: string | URL,
  init: Omit<RequestInit, 'signal'>,
  options: DeadlineOptions,
  read: (response: Response) => Promise<T>,
): Promise<T> {
  const { timeoutMs, signal: outer } = options;
  const doFetch = options.fetch ?? globalThis.fetch;
  const controller = new AbortController();
  let fail: (reason: unknown) => void = () => {};
  const stopped = new Promise<never>((_resolve, reject) => {
    fail = reject;
  });
  const abort = (reason: unknown) => {
    controller.abort(reason);
    fail(reason);
  };
  const onOuterAbort = () => abort(outer?.reason);
  // A strong reference held until `finally`: nothing can collect this timer before it fires.
  const timer = setTimeout(() => abort(deadlineError(timeoutMs)), timeoutMs);
  if (outer?.aborted) abort(outer.reason);
  else outer?.addEventListener('abort', onOuterAbort, { once: true });
  const work = (async () => {
    const response = await doFetch(url, { ...init, signal: controller.signal });
    try {
      return await read(response);
    } finally {
      // A body `read` left unread (or half read) must not hold the connection open.
      if (controller.signal.aborted || response.bodyUsed === false) {
        await response.body?.cancel().catch(() => undefined);
      }
    }
  })();
  // Once the race is lost the work may still settle: never as an unhandled rejection.
  work.catch(() => undefined);
  try {
    return await Promise.race([work, stopped]);
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onOuterAbort);
    // Ends the request if `read` returned early (or the race was lost) while bytes still flow.
    if (!controller.signal.aborted) controller.abort(new DOMException('done', 'AbortError'));
  }
}

/**
 * Reads a body as UTF-8 text, refusing it once it grows past `maxBytes` instead of buffering it
 * whole first. Returns undefined when it is too large.
 */
export async function readTextLimited(
  response: Response,
  maxBytes: number,
): Promise<string | undefined> {
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > maxBytes) return undefined;
  if (response.body === null) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    // Leaving the loop cancels the stream, so the rest is never read.
    if (total > maxBytes) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
