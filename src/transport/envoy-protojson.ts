// Renders a decoded AttributeContext the way protojson does, so policies see `input.attributes` as OPA-Envoy shows it.
import type { Address } from '../gen/envoy/config/core/v3/address.js';
import type { HeaderMap, Metadata } from '../gen/envoy/config/core/v3/base.js';
import type {
  AttributeContext,
  AttributeContext_HttpRequest,
  AttributeContext_Peer,
} from '../gen/envoy/service/auth/v3/attribute_context.js';

// protojson omits fields at their default value (empty string, 0, false, empty map or list), names
// fields in lowerCamelCase, writes int64 as a string, bytes as base64, enums by name and
// Timestamps as RFC 3339. Only the fields our protos keep are rendered.

type Json = Record<string, unknown>;

function put(out: Json, key: string, value: unknown): void {
  if (value === undefined || value === '' || value === 0 || value === false) return;
  if (typeof value === 'object' && value !== null && Object.keys(value).length === 0) return;
  out[key] = value;
}

function address(a: Address | undefined): Json | undefined {
  if (a === undefined) return undefined;
  const out: Json = {};
  if (a.socketAddress) {
    const s = a.socketAddress;
    const sa: Json = {};
    if (s.protocol !== 0) put(sa, 'protocol', s.protocol === 1 ? 'UDP' : s.protocol);
    put(sa, 'address', s.address);
    // A oneof member is present even at its default, so a port of 0 is still shown.
    if (s.portValue !== undefined) sa['portValue'] = s.portValue;
    if (s.namedPort !== undefined) sa['namedPort'] = s.namedPort;
    put(sa, 'resolverName', s.resolverName);
    put(sa, 'ipv4Compat', s.ipv4Compat);
    out['socketAddress'] = sa;
  }
  if (a.pipe) {
    const p: Json = {};
    put(p, 'path', a.pipe.path);
    put(p, 'mode', a.pipe.mode);
    out['pipe'] = p;
  }
  return out;
}

function peer(p: AttributeContext_Peer | undefined): Json | undefined {
  if (p === undefined) return undefined;
  const out: Json = {};
  put(out, 'address', address(p.address));
  put(out, 'service', p.service);
  put(out, 'labels', p.labels);
  put(out, 'principal', p.principal);
  put(out, 'certificate', p.certificate);
  return out;
}

function metadata(m: Metadata | undefined): Json | undefined {
  if (m === undefined) return undefined;
  const out: Json = {};
  put(out, 'filterMetadata', m.filterMetadata);
  return out;
}

function headerMap(m: HeaderMap | undefined): Json | undefined {
  if (m === undefined) return undefined;
  return {
    ...(m.headers.length > 0
      ? {
          headers: m.headers.map((h) => {
            const out: Json = {};
            put(out, 'key', h.key);
            put(out, 'value', h.value);
            if (h.rawValue.length > 0) out['rawValue'] = Buffer.from(h.rawValue).toString('base64');
            return out;
          }),
        }
      : {}),
  };
}

function http(h: AttributeContext_HttpRequest | undefined): Json | undefined {
  if (h === undefined) return undefined;
  const out: Json = {};
  put(out, 'id', h.id);
  put(out, 'method', h.method);
  put(out, 'headers', h.headers);
  put(out, 'path', h.path);
  put(out, 'host', h.host);
  put(out, 'scheme', h.scheme);
  put(out, 'query', h.query);
  put(out, 'fragment', h.fragment);
  if (h.size !== 0) out['size'] = String(h.size);
  put(out, 'protocol', h.protocol);
  put(out, 'body', h.body);
  if (h.rawBody.length > 0) out['rawBody'] = Buffer.from(h.rawBody).toString('base64');
  put(out, 'headerMap', headerMap(h.headerMap));
  return out;
}

/** `input.attributes` for a decoded CheckRequest. */
export function attributesJson(ctx: AttributeContext | undefined): Json {
  if (ctx === undefined) return {};
  const out: Json = {};
  put(out, 'source', peer(ctx.source));
  put(out, 'destination', peer(ctx.destination));
  if (ctx.request) {
    const req: Json = {};
    if (ctx.request.time) req['time'] = ctx.request.time.toISOString();
    put(req, 'http', http(ctx.request.http));
    out['request'] = req;
  }
  put(out, 'contextExtensions', ctx.contextExtensions);
  put(out, 'metadataContext', metadata(ctx.metadataContext));
  put(out, 'tlsSession', ctx.tlsSession?.sni ? { sni: ctx.tlsSession.sni } : undefined);
  put(out, 'routeMetadataContext', metadata(ctx.routeMetadataContext));
  return out;
}
