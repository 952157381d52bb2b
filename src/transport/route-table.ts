// Maps an HTTP method + path to the action and resource to authorize, through a segment trie: O(path segments).
import { segmentKey, type EnvoyRouteConfig, type PathParameters } from '../config/envoy.js';

/** What a request maps to. */
export interface RouteMatch {
  readonly action: string;
  readonly resource?: { readonly type: string; readonly id?: string };
  /** The tenant the route names (from a capture), when the route says where it is. */
  readonly tenant?: string;
  /** The path template that matched, e.g. `/v1/contacts/{id}` (for audit context and debugging). */
  readonly template: string;
  /** Captured path segments, percent-decoded. */
  readonly params: Readonly<Record<string, string>>;
}

export interface RouteTable {
  /**
   * The route for `method` and `path` (query ignored), or undefined. Paths with `.` or `..`
   * segments (also as `..;x`), empty segments, encoded slashes, backslashes (raw or encoded), control characters,
   * double-encoded escapes, a `#` or undecodable escapes never match: a proxy should normalise them
   * first, and a mapping must not be reachable through a spelling the upstream reads differently.
   * For the same reason a `;` in a segment never matches (unless `pathParameters` is `allow`), and
   * neither does a path holding another spelling of a route's literal segment (see {@link segmentKey}).
   */
  match(method: string, path: string): RouteMatch | undefined;
}

/** How the table is built. */
export interface RouteTableOptions {
  /**
   * `reject` (default): a segment holding `;` (raw or `%3B`) never matches, since servers that
   * strip path parameters (servlet containers, Spring) read `/x/admin;y` as `/x/admin`. `allow`: a
   * `;` is an ordinary character, but a segment is still never taken for a capture when its part
   * before `;` spells a literal there (and an empty part before `;` never matches).
   */
  readonly pathParameters?: PathParameters;
}

interface Node {
  readonly literals: Map<string, Node>;
  /** {@link segmentKey} of every literal child: the spellings some upstream reads as that literal. */
  readonly literalKeys: Set<string>;
  param?: { readonly name: string; readonly node: Node };
  /** A final `{name*}` capture: matches the rest of the path, possibly empty. */
  rest?: { readonly name: string; readonly byMethod: Map<string, EnvoyRouteConfig> };
  /** Routes ending exactly here, by upper-case method or `*`. */
  readonly byMethod: Map<string, EnvoyRouteConfig>;
}

function newNode(): Node {
  return { literals: new Map(), literalKeys: new Set(), byMethod: new Map() };
}

/** The walk's answer when a segment is another spelling of a literal: the whole match fails. */
const AMBIGUOUS = Symbol('ambiguous');

interface Found {
  readonly route: EnvoyRouteConfig;
  readonly names: string[];
}

const CAPTURE = /^\{([A-Za-z_][A-Za-z0-9_]*)(\*?)\}$/;

function addMethods(byMethod: Map<string, EnvoyRouteConfig>, route: EnvoyRouteConfig): void {
  for (const method of route.methods) {
    // The first route listed wins, as in a config read top to bottom.
    if (!byMethod.has(method)) byMethod.set(method, route);
  }
}

/** Builds the trie. Templates are validated by the config reader; a malformed one throws TypeError. */
export function createRouteTable(
  routes: readonly EnvoyRouteConfig[],
  options: RouteTableOptions = {},
): RouteTable {
  const pathParameters = options.pathParameters ?? 'reject';
  const root = newNode();
  for (const route of routes) {
    let node: Node | undefined = root;
    const segments = route.path === '/' ? [] : trimSlash(route.path).slice(1).split('/');
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i] as string;
      const capture = CAPTURE.exec(segment);
      if (capture?.[2] === '*') {
        if (i !== segments.length - 1) throw new TypeError(`${route.path}: {name*} must be last`);
        node.rest ??= { name: capture[1] as string, byMethod: new Map() };
        addMethods(node.rest.byMethod, route);
        node = undefined;
        break;
      }
      if (capture) {
        // Two templates that differ only in a capture's name share the node; the first name wins.
        node.param ??= { name: capture[1] as string, node: newNode() };
        node = node.param.node;
      } else {
        let next = node.literals.get(segment);
        if (next === undefined) {
          next = newNode();
          node.literals.set(segment, next);
          node.literalKeys.add(segmentKey(segment));
        }
        node = next;
      }
    }
    if (node) addMethods(node.byMethod, route);
  }

  function pick(byMethod: Map<string, EnvoyRouteConfig>, method: string) {
    return byMethod.get(method) ?? byMethod.get('*');
  }

  /**
   * Depth-first: a literal beats a capture beats a rest capture at every level. A segment that is
   * not a literal here but is one to a lenient upstream (`ADMIN`, `admin;x` beside `admin`) ends
   * the whole match: the upstream may follow that literal while a capture here would take it, so
   * the path has two readings. The walk reaches such a node before trying any capture above it,
   * since it descends through the exactly-spelled literals first.
   */
  function walk(
    node: Node,
    segments: readonly string[],
    i: number,
    method: string,
    params: string[],
  ): Found | typeof AMBIGUOUS | undefined {
    if (i === segments.length) {
      const route = pick(node.byMethod, method);
      if (route) return { route, names: [] };
    } else {
      const segment = segments[i] as string;
      const literal = node.literals.get(segment);
      if (literal) {
        // A match or an ambiguity below ends the walk alike.
        const found = walk(literal, segments, i + 1, method, params);
        if (found) return found;
      } else if (node.literalKeys.size > 0 && node.literalKeys.has(segmentKey(segment))) {
        return AMBIGUOUS;
      }
      if (node.param) {
        params.push(segment);
        const found = walk(node.param.node, segments, i + 1, method, params);
        if (found === AMBIGUOUS) return found;
        if (found) {
          found.names.unshift(node.param.name);
          return found;
        }
        params.pop();
      }
    }
    if (node.rest) {
      const route = pick(node.rest.byMethod, method);
      if (route) {
        params.push(segments.slice(i).join('/'));
        return { route, names: [node.rest.name] };
      }
    }
    return undefined;
  }

  return {
    match(method, rawPath) {
      const segments = splitPath(rawPath, pathParameters);
      if (segments === undefined) return undefined;
      const upper = method.toUpperCase();
      const values: string[] = [];
      const found = walk(root, segments, 0, upper, values);
      if (found === undefined || found === AMBIGUOUS) return undefined;
      const params: Record<string, string> = {};
      found.names.forEach((name, k) => {
        params[name] = values[k] as string;
      });
      const fill = (template: string) =>
        template.replace(/\{([^}]*)\}/g, (_m, name: string) =>
          name === 'method' ? upper.toLowerCase() : (params[name] ?? ''),
        );
      const { route } = found;
      const resource = route.resource
        ? {
            type: fill(route.resource.type),
            ...(route.resource.id !== undefined ? { id: fill(route.resource.id) } : {}),
          }
        : undefined;
      return {
        action: fill(route.action),
        ...(resource ? { resource } : {}),
        ...(route.tenant !== undefined ? { tenant: fill(route.tenant) } : {}),
        template: route.path,
        params,
      };
    },
  };
}

function trimSlash(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

/**
 * Whether a decoded segment holds a character no segment may: `/` or `\\` (Envoy and many servers
 * read a backslash as a slash), or a control such as NUL (C-based upstreams end the path there).
 */
function hasSeparatorOrControl(decoded: string): boolean {
  for (let i = 0; i < decoded.length; i++) {
    const c = decoded.charCodeAt(i);
    if (c === 0x2f || c === 0x5c || c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** An escape still left after decoding once: an upstream that decodes twice reads another path. */
const ESCAPE_LEFT = /%[0-9A-Fa-f]{2}/;

/**
 * Whether a decoded segment could be read as something else by a server behind the proxy: one with
 * `;parameters` unless they are allowed (servers that strip them read `admin;x` as `admin`; `%3B`
 * too, since some decode before stripping); a dot segment or an empty one once its parameters are
 * stripped (`..;x`, `;x`); a separator, a control character, or a second layer of percent-encoding.
 */
function ambiguousSegment(decoded: string, pathParameters: PathParameters): boolean {
  const semicolon = decoded.indexOf(';');
  if (semicolon !== -1 && pathParameters === 'reject') return true;
  const bare = semicolon === -1 ? decoded : decoded.slice(0, semicolon);
  return (
    bare === '' ||
    bare === '.' ||
    bare === '..' ||
    hasSeparatorOrControl(decoded) ||
    (decoded.includes('%') && ESCAPE_LEFT.test(decoded))
  );
}

/**
 * Path → decoded segments; undefined for segments a server could read differently (see
 * {@link ambiguousSegment}), empty segments and bad escapes. `/` is no segment at all.
 */
export function splitPath(
  rawPath: string,
  pathParameters: PathParameters = 'reject',
): string[] | undefined {
  let end = rawPath.length;
  const q = rawPath.indexOf('?');
  if (q !== -1) end = q;
  // A request target has no fragment (RFC 9112 §3.2) and Envoy strips one; a `#` left in the
  // path is a spelling a server behind might resolve (`/a#/../b`), so the path never matches.
  const h = rawPath.indexOf('#');
  if (h !== -1 && h < end) return undefined;
  const path = trimSlash(rawPath.slice(0, end));
  if (!path.startsWith('/')) return undefined;
  if (path === '/') return [];
  const parts = path.slice(1).split('/');
  const out: string[] = [];
  for (const part of parts) {
    // An empty segment (`//`): servers that merge slashes read `/a//b` as `/a/b`, and a capture
    // would take the empty string (an empty id or tenant).
    if (part === '') return undefined;
    let decoded: string;
    try {
      decoded = part.includes('%') ? decodeURIComponent(part) : part;
    } catch {
      return undefined;
    }
    // An encoded slash, a backslash or a dot segment would let one spelling reach another route's resource.
    if (ambiguousSegment(decoded, pathParameters)) return undefined;
    out.push(decoded);
  }
  return out;
}
