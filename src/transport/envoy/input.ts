// The request as both Envoy adapters see it, and the OPA-Envoy input document built from it.
import { DEFAULT_MAX_NESTING_DEPTH, nestingMessage, nestsDeeperThan } from '../../lib/nesting.js';
import { goParseQuery, goUnescape, UrlDecodeError } from './go-url.js';
import { JsonBodyError, parseJsonExactly } from './json-exact.js';
import { MultipartError, parseMediaType, parseMultipartForm } from './multipart-form.js';

/** One HTTP request Envoy asks about, normalised from either ext_authz transport. */
export interface EnvoyCall {
  readonly method: string;
  /** Path and query as the client sent them (not decoded). */
  readonly path: string;
  /** Lower-case header names; Envoy has merged repeated headers. */
  readonly headers: Readonly<Record<string, string>>;
  readonly host: string;
  /** The original request's scheme (`https`, `http`), for a DPoP proof's `htu`. */
  readonly scheme: string;
  /** Envoy's request id (x-request-id), or empty. */
  readonly requestId: string;
  /** The body Envoy forwarded (possibly partial), as text; undefined when it sent none. */
  readonly body: string | undefined;
  /** True when Envoy says it sent only part of the body. */
  readonly partialBody: boolean;
  /**
   * True when the body came as bytes that are not UTF-8 (read into `body` with replacement
   * characters, so `body` is not what the upstream will read).
   */
  readonly bodyNotUtf8?: boolean;
  /**
   * The `attributes` document as OPA-Envoy renders the AttributeContext (envoy-protojson.ts); the
   * compatibility input's path, headers and principal are read from it, as OPA-Envoy reads them.
   */
  readonly attributes: Readonly<Record<string, unknown>>;
  /** Which listener the call came through. */
  readonly transport: 'envoy_grpc' | 'envoy_http';
}

/** The input document of OPA-Envoy, or why OPA-Envoy would refuse the request (it answers 400). */
export type CompatDocument =
  | { readonly ok: true; readonly input: Readonly<Record<string, unknown>> }
  | { readonly ok: false; readonly message: string };

/** What OPA-Envoy puts in `input.version` for ext_authz v3. */
const VERSION = Object.freeze({ ext_authz: 'v3', encoding: 'protojson' });

function objectAt(value: unknown, key: string): Record<string, unknown> | undefined {
  const v = (value as Record<string, unknown> | undefined)?.[key];
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

function stringAt(value: Record<string, unknown> | undefined, key: string): string {
  const v = value?.[key];
  return typeof v === 'string' ? v : '';
}

/**
 * `parsed_path` and `parsed_query` from `attributes.request.http.path`: split at the first `?` only
 * (a `#` is data); the path percent-decoded (Go's PathUnescape), its leading slashes trimmed, split
 * on `/` (`/` gives `[""]`); the query read by Go's ParseQuery. Throws UrlDecodeError where Go fails.
 */
export function parsedPathAndQuery(path: string): {
  parsedPath: string[];
  parsedQuery: Record<string, string[]>;
} {
  const q = path.indexOf('?');
  const rawPath = q === -1 ? path : path.slice(0, q);
  const parsedPath = goUnescape(rawPath, false).replace(/^\/+/, '').split('/');
  return { parsedPath, parsedQuery: goParseQuery(q === -1 ? '' : path.slice(q + 1)) };
}

/** Thrown for a body OPA-Envoy would fail to read (the request is refused, not evaluated). */
class BodyError extends Error {}

const INT64_MAX = 2n ** 63n - 1n;

/** Go's strconv.ParseInt on Content-Length; true when it declares more bytes than Envoy sent. */
function declaredLonger(contentLength: string | undefined, body: string): boolean {
  if (contentLength === undefined) return false;
  if (!/^[+-]?\d+$/.test(contentLength)) {
    throw new BodyError(`content-length: ${JSON.stringify(contentLength)} is not an integer`);
  }
  const n = BigInt(contentLength);
  if (n > INT64_MAX || n < -INT64_MAX - 1n) throw new BodyError('content-length: out of range');
  return n !== -1n && n > BigInt(Buffer.byteLength(body));
}

/**
 * `parsed_body` and `truncated_body` as OPA-Envoy derives them from the `headers` attribute:
 * `x-envoy-auth-partial-body: true` or a Content-Length above the bytes sent is a truncated body
 * (not parsed); a content type containing (case-sensitively) application/json,
 * application/x-www-form-urlencoded or multipart/form-data is parsed, any other is null. A body of
 * those types that does not parse throws BodyError.
 */
function parsedBody(
  headers: Record<string, unknown>,
  body: string | undefined,
): { parsed: unknown; truncated: boolean } {
  const header = (name: string) => {
    const v = headers[name];
    return typeof v === 'string' ? v : undefined;
  };
  if (header('x-envoy-auth-partial-body') === 'true') return { parsed: null, truncated: true };
  const type = header('content-type');
  const kind =
    type === undefined
      ? undefined
      : type.includes('application/json')
        ? 'json'
        : type.includes('application/grpc')
          ? undefined // gRPC payloads need service descriptors mandate is not given
          : type.includes('application/x-www-form-urlencoded')
            ? 'form'
            : type.includes('multipart/form-data')
              ? 'multipart'
              : undefined;
  if (kind === undefined || body === undefined || body === '') {
    return { parsed: null, truncated: false };
  }
  if (declaredLonger(header('content-length'), body)) return { parsed: null, truncated: true };
  if (kind === 'json') {
    try {
      return { parsed: parseJsonExactly(body), truncated: false };
    } catch (err) {
      throw err instanceof JsonBodyError ? new BodyError(`body: ${err.message}`) : err;
    }
  }
  if (kind === 'form') {
    try {
      return { parsed: goParseQuery(body), truncated: false };
    } catch (err) {
      throw err instanceof UrlDecodeError ? new BodyError(`body: ${err.message}`) : err;
    }
  }
  const media = parseMediaType(type as string);
  if (media === undefined) throw new BodyError('content-type: malformed media type');
  const boundary = media.params['boundary'];
  if (boundary === undefined) return { parsed: null, truncated: false };
  return { parsed: parseMultipartForm(body, boundary), truncated: false };
}

/**
 * The OPA-Envoy input document: the `attributes`, `version`, `parsed_path`, `parsed_query`, then
 * (unless body parsing is off, when both keys are absent) `parsed_body` and `truncated_body`, and
 * `source_principal` when the source peer has one. A path, query or body OPA-Envoy cannot read
 * gives its reason instead: such a request is refused without evaluating the policy.
 */
export function compatDocumentOf(
  call: EnvoyCall,
  parseBody: boolean,
  maxNestingDepth: number = DEFAULT_MAX_NESTING_DEPTH,
): CompatDocument {
  const http = objectAt(objectAt(call.attributes, 'request'), 'http');
  const input: Record<string, unknown> = { attributes: call.attributes, version: VERSION };
  try {
    const { parsedPath, parsedQuery } = parsedPathAndQuery(stringAt(http, 'path'));
    input['parsed_path'] = parsedPath;
    input['parsed_query'] = parsedQuery;
    if (parseBody) {
      const body = parsedBody(objectAt(http, 'headers') ?? {}, call.body);
      // JSON.parse itself does not recurse on the call stack; what walks the document later does.
      if (nestsDeeperThan(body.parsed, maxNestingDepth)) {
        return { ok: false, message: nestingMessage('body', maxNestingDepth) };
      }
      input['parsed_body'] = body.parsed;
      input['truncated_body'] = body.truncated;
    }
  } catch (err) {
    if (err instanceof UrlDecodeError) {
      return { ok: false, message: `request path: ${err.message}` };
    }
    if (err instanceof BodyError || err instanceof MultipartError) {
      return { ok: false, message: err.message };
    }
    throw err;
  }
  const principal = stringAt(objectAt(call.attributes, 'source'), 'principal');
  if (principal !== '') input['source_principal'] = principal;
  return { ok: true, input };
}
