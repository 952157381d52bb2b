// The request as both Envoy adapters see it, and the OPA-Envoy input document built from it.

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
  /** The `attributes` document as OPA-Envoy renders it (protojson of the AttributeContext). */
  readonly attributes: Readonly<Record<string, unknown>>;
  /** Which listener the call came through. */
  readonly transport: 'envoy_grpc' | 'envoy_http';
}

/** The input document of OPA-Envoy, or the reason the body could not be parsed. */
export type CompatDocument =
  | { readonly ok: true; readonly input: Readonly<Record<string, unknown>> }
  | { readonly ok: false; readonly message: string };

/** What OPA-Envoy puts in `input.version` for ext_authz v3. */
const VERSION = Object.freeze({ ext_authz: 'v3', encoding: 'protojson' });

function decodeLoosely(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** `parsed_path`: the decoded path split on `/`, without the leading slash (`/` gives `[""]`). */
export function parsedPathOf(path: string): string[] {
  const q = path.search(/[?#]/);
  const bare = q === -1 ? path : path.slice(0, q);
  return decodeLoosely(bare).replace(/^\/+/, '').split('/');
}

/** `parsed_query`: every parameter as a list of its values, `+` read as a space. */
export function parsedQueryOf(path: string): Record<string, string[]> {
  const q = path.indexOf('?');
  const out: Record<string, string[]> = {};
  if (q === -1) return out;
  const h = path.indexOf('#', q);
  const params = new URLSearchParams(path.slice(q + 1, h === -1 ? undefined : h));
  for (const [key, value] of params) (out[key] ??= []).push(value);
  return out;
}

function contentLengthExceeds(headers: Readonly<Record<string, string>>, body: string): boolean {
  const declared = headers['content-length'];
  if (declared === undefined || !/^\d+$/.test(declared)) return false;
  return Number(declared) > Buffer.byteLength(body);
}

/**
 * `parsed_body` and `truncated_body`, as OPA-Envoy derives them: JSON and form-urlencoded bodies are
 * parsed; a body Envoy cut short is not parsed and `truncated_body` is true; other types are null.
 */
export function parsedBodyOf(
  call: EnvoyCall,
): { ok: true; parsed: unknown; truncated: boolean } | { ok: false; message: string } {
  const body = call.body;
  const type = (call.headers['content-type'] ?? '').toLowerCase();
  if (body === undefined || body === '') return { ok: true, parsed: null, truncated: false };
  const truncated = call.partialBody || contentLengthExceeds(call.headers, body);
  if (type.includes('application/json')) {
    if (truncated) return { ok: true, parsed: null, truncated: true };
    try {
      return { ok: true, parsed: JSON.parse(body) as unknown, truncated: false };
    } catch (err) {
      return {
        ok: false,
        message: `body: not valid JSON (${(err as Error).message.split('\n')[0]})`,
      };
    }
  }
  if (type.includes('application/x-www-form-urlencoded')) {
    if (truncated) return { ok: true, parsed: null, truncated: true };
    const out: Record<string, string[]> = {};
    for (const [key, value] of new URLSearchParams(body)) (out[key] ??= []).push(value);
    return { ok: true, parsed: out, truncated: false };
  }
  return { ok: true, parsed: null, truncated };
}

/** The OPA-Envoy input document: `attributes`, `parsed_path`, `parsed_query`, `parsed_body`, `truncated_body`, `version`. */
export function compatDocumentOf(call: EnvoyCall, parseBody: boolean): CompatDocument {
  let parsed: unknown = null;
  let truncated = false;
  if (parseBody) {
    const body = parsedBodyOf(call);
    if (!body.ok) return body;
    parsed = body.parsed;
    truncated = body.truncated;
  }
  return {
    ok: true,
    input: {
      attributes: call.attributes,
      parsed_path: parsedPathOf(call.path),
      parsed_query: parsedQueryOf(call.path),
      parsed_body: parsed,
      truncated_body: truncated,
      version: VERSION,
    },
  };
}
