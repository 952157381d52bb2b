// Talks HTTP to the authorization server with a deadline per attempt and a bounded number of retries.
import type { AsFailure } from './errors.js';

export interface AsHttpOptions {
  /** Deadline of one attempt, milliseconds. */
  readonly timeoutMs: number;
  /** Extra attempts after a network error, a timeout or a 5xx; a 4xx is an answer and is never retried. */
  readonly retries: number;
  /** Pause before the first retry, milliseconds; doubled for each further one. */
  readonly retryBackoffMs: number;
  /** Seam for tests and custom agents. Default: the global fetch. */
  readonly fetch?: typeof fetch;
}

/** The AS answered: any status, its body parsed as JSON when it was JSON. */
export interface AsAnswer {
  readonly ok: true;
  readonly status: number;
  readonly body: unknown;
}

export type AsHttpResult = AsAnswer | ({ readonly ok: false } & AsFailure);

/** Token responses and metadata documents are small; a larger answer is not one of them. */
const MAX_RESPONSE_BYTES = 256 * 1024;

export interface PreparedForm {
  readonly form: URLSearchParams;
  readonly headers: Record<string, string>;
}

export interface AsHttp {
  /**
   * POSTs `application/x-www-form-urlencoded`. `prepare` runs once per attempt, so credentials that
   * must not be replayed (a client assertion's `jti`) are fresh on a retry.
   */
  postForm(url: string, prepare: () => Promise<PreparedForm>): Promise<AsHttpResult>;
  getJson(url: string): Promise<AsHttpResult>;
}

export function createAsHttp(options: AsHttpOptions): AsHttp {
  const doFetch = options.fetch ?? fetch;

  async function once(url: string, init: RequestInit): Promise<AsHttpResult> {
    let response: Response;
    try {
      response = await doFetch(url, {
        ...init,
        redirect: 'error',
        signal: AbortSignal.timeout(options.timeoutMs),
      });
    } catch (err) {
      return failureOf(err, url, options.timeoutMs);
    }
    let text: string | undefined;
    try {
      text = await readBounded(response);
    } catch (err) {
      return failureOf(err, url, options.timeoutMs, response.status);
    }
    if (text === undefined) {
      return {
        ok: false,
        code: 'as_invalid_response',
        message: `the authorization server sent more than ${MAX_RESPONSE_BYTES} bytes`,
        asStatus: response.status,
      };
    }
    let body: unknown = undefined;
    if (text.length > 0 && /json/i.test(response.headers.get('content-type') ?? '')) {
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
    }
    return { ok: true, status: response.status, body };
  }

  async function withRetries(url: string, init: () => Promise<RequestInit>): Promise<AsHttpResult> {
    let result: AsHttpResult = await once(url, await init());
    for (let attempt = 0; attempt < options.retries && retryable(result); attempt++) {
      await sleep(options.retryBackoffMs * 2 ** attempt);
      result = await once(url, await init());
    }
    if (result.ok && result.status >= 500) {
      return {
        ok: false,
        code: 'as_unavailable',
        message: `the authorization server answered ${result.status}`,
        asStatus: result.status,
        ...oauthErrorOf(result.body),
      };
    }
    return result;
  }

  return {
    postForm(url, prepare) {
      return withRetries(url, async () => {
        const { form, headers } = await prepare();
        return {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            accept: 'application/json',
            ...headers,
          },
          body: form.toString(),
        };
      });
    },
    getJson(url) {
      return withRetries(url, async () => ({
        method: 'GET',
        headers: { accept: 'application/json' },
      }));
    },
  };
}

function retryable(result: AsHttpResult): boolean {
  return result.ok ? result.status >= 500 : true;
}

/** The OAuth error members of an error body (RFC 6749 §5.2), when present. */
export function oauthErrorOf(body: unknown): { asError?: string } {
  if (typeof body !== 'object' || body === null) return {};
  const error = (body as Record<string, unknown>)['error'];
  return typeof error === 'string' && error.length > 0 && error.length <= 128
    ? { asError: error }
    : {};
}

function failureOf(
  err: unknown,
  url: string,
  timeoutMs: number,
  status?: number,
): { ok: false } & AsFailure {
  const name = (err as { name?: string } | undefined)?.name;
  const origin = safeOrigin(url);
  if (name === 'TimeoutError' || name === 'AbortError') {
    return {
      ok: false,
      code: 'as_timeout',
      message: `the authorization server at ${origin} did not answer within ${timeoutMs} ms`,
      ...(status !== undefined ? { asStatus: status } : {}),
    };
  }
  const cause = (err as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  const detail = cause?.code ?? cause?.message ?? (err as Error | undefined)?.message ?? 'error';
  return {
    ok: false,
    code: 'as_unavailable',
    message: `the authorization server at ${origin} could not be reached (${detail})`,
    ...(status !== undefined ? { asStatus: status } : {}),
  };
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}

/** The body as text, or undefined when it is larger than {@link MAX_RESPONSE_BYTES}. */
async function readBounded(response: Response): Promise<string | undefined> {
  const length = Number(response.headers.get('content-length') ?? '0');
  if (length > MAX_RESPONSE_BYTES) {
    await response.body?.cancel();
    return undefined;
  }
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    // Leaving the loop cancels the stream, so the rest is never read.
    if (total > MAX_RESPONSE_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms).unref()) : Promise.resolve();
}
