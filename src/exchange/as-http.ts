// Talks HTTP to the authorization server with a deadline per attempt and a bounded number of retries.
import { fetchWithDeadline, readTextLimited, type FetchLike } from '../lib/fetch-deadline.js';
import type { AsFailure } from './errors.js';

export interface AsHttpOptions {
  /** Deadline of one attempt, milliseconds. */
  readonly timeoutMs: number;
  /** Extra attempts after a network error, a timeout or a 5xx; a 4xx is an answer and is never retried. */
  readonly retries: number;
  /** Pause before the first retry, milliseconds; doubled for each further one. */
  readonly retryBackoffMs: number;
  /** Seam for tests and custom agents. Default: the global fetch. */
  readonly fetch?: FetchLike;
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
  async function once(url: string, init: RequestInit): Promise<AsHttpResult> {
    let answer: { status: number; contentType: string; text: string | undefined };
    try {
      // Headers and body within one deadline: an AS that stalls mid-body is a timeout too.
      answer = await fetchWithDeadline(
        url,
        { ...init, redirect: 'error' },
        { timeoutMs: options.timeoutMs, ...(options.fetch ? { fetch: options.fetch } : {}) },
        async (response) => {
          try {
            return {
              status: response.status,
              contentType: response.headers.get('content-type') ?? '',
              text: await readTextLimited(response, MAX_RESPONSE_BYTES),
            };
          } catch (err) {
            throw new BodyError(err, response.status);
          }
        },
      );
    } catch (err) {
      if (err instanceof BodyError) return failureOf(err.cause, url, options.timeoutMs, err.status);
      return failureOf(err, url, options.timeoutMs);
    }
    const { status, contentType, text } = answer;
    if (text === undefined) {
      return {
        ok: false,
        code: 'as_invalid_response',
        message: `the authorization server sent more than ${MAX_RESPONSE_BYTES} bytes`,
        asStatus: status,
      };
    }
    let body: unknown = undefined;
    if (text.length > 0 && /json/i.test(contentType)) {
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
    }
    return { ok: true, status, body };
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

/** A failure while reading the body: the status had arrived and is worth reporting. */
class BodyError extends Error {
  constructor(
    override readonly cause: unknown,
    readonly status: number,
  ) {
    super('body read failed');
  }
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms).unref()) : Promise.resolve();
}
