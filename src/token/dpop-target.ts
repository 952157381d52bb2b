// A DPoP proof's htu and the request's own target, parsed strictly (RFC 3986) and normalised (§6.2.2, §6.2.3) so they compare by component.
import { isIPv6 } from 'node:net';

/** An http(s) target without query and fragment, normalised: what a proof's `htu` is compared by. */
export interface HttpTarget {
  readonly scheme: 'http' | 'https';
  /** A lower-case reg-name or IPv4 address, or a bracketed IPv6 address in canonical form. */
  readonly host: string;
  /** The explicit port, or the scheme's default. */
  readonly port: number;
  /** Percent-encoding normalised, dot segments removed, `/` when empty. */
  readonly path: string;
}

/** A target, or why there is none. Messages never echo the input: they end up in responses. */
export type TargetResult =
  | { readonly ok: true; readonly target: HttpTarget }
  | { readonly ok: false; readonly message: string };

const DEFAULT_PORTS = { http: 80, https: 443 } as const;

/**
 * RFC 3986 reg-name without pct-encoded (unreserved and sub-delims): no DNS name needs percent
 * escapes, and refusing them keeps one spelling per authority. IPv4 addresses are reg-names too.
 */
const REG_NAME = /^[A-Za-z0-9\-._~!$&'()*+,;=]+$/;
/** `[` IPv6address `]` (checked by isIPv6 after this shape); IPvFuture and zone ids are refused. */
const IP_LITERAL = /^\[[0-9A-Fa-f:.]+\]$/;
const PORT = /^[0-9]{0,5}$/;
/** pchar plus `/`, besides pct-encoded (RFC 3986 §3.3). */
const PATH_CHAR = /[A-Za-z0-9\-._~!$&'()*+,;=:@/]/;
const UNRESERVED = /[A-Za-z0-9\-._~]/;
/** A path of path characters only (no escapes), starting with `/`. */
const SIMPLE_PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/;
/**
 * Whether a path holds what it may never hold, even escaped on the fly: whitespace and controls,
 * and a backslash, which some parsers read as `/`.
 */
function hasForbiddenPathChar(path: string): boolean {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f || c === 0x5c) return true;
  }
  return false;
}

function schemeOf(text: string): 'http' | 'https' | undefined {
  const lower = text.toLowerCase();
  return lower === 'http' || lower === 'https' ? lower : undefined;
}

/** `host[:port]` (RFC 3986 §3.2.2–3.2.3); undefined for anything else (userinfo, paths, spaces, ...). */
function authorityOf(
  text: string,
  scheme: 'http' | 'https',
): { host: string; port: number } | undefined {
  let host: string;
  let port: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close === -1) return undefined;
    host = text.slice(0, close + 1);
    const rest = text.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return undefined;
      port = rest.slice(1);
    }
    if (!IP_LITERAL.test(host) || !isIPv6(host.slice(1, -1))) return undefined;
    // Canonical text (RFC 5952), so `[2001:DB8:0::1]` and `[2001:db8::1]` are one host.
    host = new URL(`http://${host}/`).hostname;
  } else {
    const colon = text.indexOf(':');
    host = colon === -1 ? text : text.slice(0, colon);
    if (colon !== -1) port = text.slice(colon + 1);
    if (!REG_NAME.test(host)) return undefined;
    host = host.toLowerCase();
  }
  if (port !== undefined && !PORT.test(port)) return undefined;
  // RFC 3986 §6.2.3: an empty port is the default one.
  const number = port === undefined || port === '' ? DEFAULT_PORTS[scheme] : Number(port);
  if (number > 65535) return undefined;
  return { host, port: number };
}

/**
 * RFC 3986 §6.2.2.2: hex digits of escapes in upper case, escaped unreserved characters decoded;
 * characters outside the path set (non-ASCII, `"`, `{`, ...) escaped as their UTF-8 bytes, the way
 * clients build URLs. Undefined for a stray `%`, whitespace, controls or `\`.
 */
function normalisedPath(path: string): string | undefined {
  // The usual path has no escapes and no dot segments (which in an absolute path start with `/.`):
  // it is its own normal form.
  if (SIMPLE_PATH.test(path) && !path.includes('/.')) return path;
  if (hasForbiddenPathChar(path)) return undefined;
  let out = '';
  for (let i = 0; i < path.length; i++) {
    const c = path.charAt(i);
    if (c === '%') {
      const hex = path.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
      const decoded = String.fromCharCode(parseInt(hex, 16));
      out += UNRESERVED.test(decoded) ? decoded : `%${hex.toUpperCase()}`;
      i += 2;
    } else if (PATH_CHAR.test(c)) {
      out += c;
    } else {
      const code = path.codePointAt(i) ?? 0;
      if (code > 0xffff) i++;
      // A lone surrogate has no UTF-8 form: not a path.
      if (code >= 0xd800 && code <= 0xdfff) return undefined;
      out += encodeURIComponent(String.fromCodePoint(code));
    }
  }
  return removeDotSegments(out === '' ? '/' : out);
}

/** RFC 3986 §5.2.4, for an absolute path. */
function removeDotSegments(path: string): string {
  const out: string[] = [];
  const segments = path.split('/').slice(1);
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    const last = i === segments.length - 1;
    if (segment === '..') {
      out.pop();
      if (last) out.push('');
    } else if (segment === '.') {
      if (last) out.push('');
    } else {
      out.push(segment ?? '');
    }
  }
  return `/${out.join('/')}`;
}

function targetOf(schemeText: string, authority: string, path: string, what: string): TargetResult {
  const scheme = schemeOf(schemeText);
  if (scheme === undefined) return { ok: false, message: `${what} scheme is not http or https` };
  const parsed = authorityOf(authority, scheme);
  if (parsed === undefined) {
    return { ok: false, message: `${what} authority is not host[:port]` };
  }
  const normal = path === '' ? '/' : path.startsWith('/') ? normalisedPath(path) : undefined;
  if (normal === undefined) return { ok: false, message: `${what} path is not a URI path` };
  return { ok: true, target: { scheme, host: parsed.host, port: parsed.port, path: normal } };
}

/**
 * The request's target from what a transport saw: its scheme, its authority (the Host, `:authority`
 * or a forwarded host) and its path without query. Each part is validated on its own, so no
 * character in one can move the boundary to the next.
 */
export function requestTarget(scheme: string, authority: string, path: string): TargetResult {
  return targetOf(scheme, authority, path, 'the request');
}

/** A proof's `htu`: an absolute http(s) URI; its query and fragment are ignored (RFC 9449 §4.3). */
export function htuTarget(htu: string): TargetResult {
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(?:[?#].*)?$/s.exec(htu);
  if (match === null) return { ok: false, message: 'the DPoP proof htu is not an absolute URI' };
  return targetOf(match[1] ?? '', match[2] ?? '', match[3] ?? '', 'the DPoP proof htu');
}

/** Scheme, host, port and path all equal. */
export function sameTarget(a: HttpTarget, b: HttpTarget): boolean {
  return a.scheme === b.scheme && a.host === b.host && a.port === b.port && a.path === b.path;
}
