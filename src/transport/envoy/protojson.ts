// Renders a decoded AttributeContext the way OPA-Envoy puts it in `input.attributes` (its protobuf-to-map walk, not protojson).
import type { Address } from '../../gen/envoy/config/core/v3/address.js';
import type { HeaderMap, Metadata } from '../../gen/envoy/config/core/v3/base.js';
import type {
  AttributeContext,
  AttributeContext_HttpRequest,
  AttributeContext_Peer,
} from '../../gen/envoy/service/auth/v3/attribute_context.js';
import type { Timestamp } from '../../gen/google/protobuf/timestamp.js';

// OPA-Envoy walks the populated fields of the message, so:
// - a scalar at its default (empty string, 0, false) and an empty map or list are left out, but a
//   message field that is set is shown even when empty (`{}`), and a oneof member even at 0;
// - names are the fields' JSON names (lowerCamelCase);
// - integers of every width (int64 `size` included) and enums are numbers, never strings or names;
// - a Timestamp is the message itself, `{seconds, nanos}` (each left out at 0), not RFC 3339;
// - bytes are base64 strings (the value goes through encoding/json on its way into Rego);
// - google.protobuf.Struct values are plain JSON objects.
// Only the fields our protos keep are rendered (see docs/opa-envoy-differences.md).

type Json = Record<string, unknown>;

/** Sets a scalar, map or list field unless it is at its default. */
function put(out: Json, key: string, value: unknown): void {
  if (value === undefined || value === '' || value === 0 || value === false) return;
  if (Array.isArray(value) && value.length === 0) return;
  if (typeof value === 'object' && value !== null && Object.keys(value).length === 0) return;
  out[key] = value;
}

/** Sets a message field whenever it is present, even with nothing in it. */
function putMessage(out: Json, key: string, value: Json | undefined): void {
  if (value !== undefined) out[key] = value;
}

function bytes(out: Json, key: string, value: Uint8Array): void {
  if (value.length > 0) out[key] = Buffer.from(value).toString('base64');
}

function timestamp(t: Timestamp | undefined): Json | undefined {
  if (t === undefined) return undefined;
  const out: Json = {};
  put(out, 'seconds', t.seconds);
  put(out, 'nanos', t.nanos);
  return out;
}

function address(a: Address | undefined): Json | undefined {
  if (a === undefined) return undefined;
  const out: Json = {};
  if (a.socketAddress) {
    const s = a.socketAddress;
    const sa: Json = {};
    put(sa, 'protocol', s.protocol);
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
  putMessage(out, 'address', address(p.address));
  put(out, 'service', p.service);
  put(out, 'labels', p.labels);
  put(out, 'principal', p.principal);
  put(out, 'certificate', p.certificate);
  return out;
}

function metadata(m: Metadata | undefined): Json | undefined {
  if (m === undefined) return undefined;
  const out: Json = {};
  const filters: Json = {};
  // A map entry whose Struct is absent is an empty Struct.
  for (const [name, struct] of Object.entries(m.filterMetadata)) filters[name] = struct ?? {};
  put(out, 'filterMetadata', filters);
  return out;
}

function headerMap(m: HeaderMap | undefined): Json | undefined {
  if (m === undefined) return undefined;
  const out: Json = {};
  put(
    out,
    'headers',
    m.headers.map((h) => {
      const header: Json = {};
      put(header, 'key', h.key);
      put(header, 'value', h.value);
      bytes(header, 'rawValue', h.rawValue);
      return header;
    }),
  );
  return out;
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
  put(out, 'size', h.size);
  put(out, 'protocol', h.protocol);
  put(out, 'body', h.body);
  bytes(out, 'rawBody', h.rawBody);
  putMessage(out, 'headerMap', headerMap(h.headerMap));
  return out;
}

/** `input.attributes` for a decoded CheckRequest (an empty object when Envoy sent none). */
export function attributesJson(ctx: AttributeContext | undefined): Json {
  if (ctx === undefined) return {};
  const out: Json = {};
  putMessage(out, 'source', peer(ctx.source));
  putMessage(out, 'destination', peer(ctx.destination));
  if (ctx.request) {
    const req: Json = {};
    putMessage(req, 'time', timestamp(ctx.request.time));
    putMessage(req, 'http', http(ctx.request.http));
    out['request'] = req;
  }
  put(out, 'contextExtensions', ctx.contextExtensions);
  putMessage(out, 'metadataContext', metadata(ctx.metadataContext));
  putMessage(out, 'tlsSession', ctx.tlsSession && tlsSession(ctx.tlsSession.sni));
  putMessage(out, 'routeMetadataContext', metadata(ctx.routeMetadataContext));
  return out;
}

function tlsSession(sni: string): Json {
  const out: Json = {};
  put(out, 'sni', sni);
  return out;
}
