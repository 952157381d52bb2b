// The request headers that must mean one thing before a decision: a method override and the credential.
import { bearerTokenOf, dpopTokenOf } from '../bearer.js';

/** A header value read, or why the request is unusable (a `request_invalid` denial). */
export type HeaderReading<T> =
  ({ readonly ok: true } & T) | { readonly ok: false; readonly message: string };

/** An HTTP method is a token (RFC 9110 §9.1, §5.6.2). */
const METHOD_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * The method to decide for: the one a method-override header names (upper-cased), else the
 * request's own. Servers that honour such headers run the method they name, so deciding for the
 * request line's method would let `GET` + `x-http-method-override: DELETE` through as a read.
 * Unusable: a value that is not a method token, several values (Envoy and the HTTP adapter join
 * repeated headers with `,`), or several override headers naming different methods.
 */
export function decidedMethodOf(
  method: string,
  headers: Readonly<Record<string, string>>,
  overrideHeaders: readonly string[],
): HeaderReading<{ readonly method: string; readonly overridden: boolean }> {
  let named: string | undefined;
  let namedBy: string | undefined;
  for (const name of overrideHeaders) {
    const raw = headers[name];
    if (raw === undefined) continue;
    const value = raw.trim();
    if (value.includes(',')) return { ok: false, message: `${name}: more than one method` };
    if (!METHOD_TOKEN.test(value)) {
      return { ok: false, message: `${name}: ${JSON.stringify(value)} is not an HTTP method` };
    }
    const upper = value.toUpperCase();
    if (named !== undefined && upper !== named) {
      return { ok: false, message: `${namedBy} and ${name} name different methods` };
    }
    named = upper;
    namedBy = name;
  }
  return named === undefined
    ? { ok: true, method: method.toUpperCase(), overridden: false }
    : { ok: true, method: named, overridden: true };
}

/** A credential as presented: the token and its scheme. */
export interface PresentedToken {
  readonly token: string;
  readonly scheme: 'bearer' | 'dpop';
}

/** `Bearer <token>` or `DPoP <token>` in one header value, else undefined. */
function credentialOf(value: string): PresentedToken | undefined {
  const bearer = bearerTokenOf(value);
  if (bearer !== undefined) return { token: bearer, scheme: 'bearer' };
  const dpop = dpopTokenOf(value);
  return dpop === undefined ? undefined : { token: dpop, scheme: 'dpop' };
}

/** The credential the headers present, and why they are unusable when they are. */
export interface CredentialReading {
  /** The first credential found: still verified, so a bad one is answered as such. */
  readonly presented: PresentedToken | undefined;
  /** Set when the headers hold several credentials (a `request_invalid` denial). */
  readonly ambiguity?: string;
}

/**
 * The token from the configured headers, in order. Ambiguous when a header holds a credential
 * among several values (a repeated header, joined with `,`: no token contains a comma) or when two
 * headers hold different credentials: mandate would check one and the upstream might read the other.
 */
export function presentedTokenOf(
  headers: Readonly<Record<string, string>>,
  names: readonly string[],
): CredentialReading {
  let presented: PresentedToken | undefined;
  let presentedBy: string | undefined;
  for (const name of names) {
    const value = headers[name];
    if (value === undefined) continue;
    if (value.includes(',')) {
      // `Digest a="1", b="2"` is one credential of another scheme; only a Bearer or DPoP one counts.
      for (const part of value.split(',')) {
        const found = credentialOf(part.trim());
        if (found !== undefined) {
          return { presented: presented ?? found, ambiguity: `${name}: more than one credential` };
        }
      }
      continue;
    }
    const found = credentialOf(value);
    if (found === undefined) continue;
    if (presented === undefined) {
      presented = found;
      presentedBy = name;
    } else if (found.token !== presented.token || found.scheme !== presented.scheme) {
      return { presented, ambiguity: `${presentedBy} and ${name} carry different credentials` };
    }
  }
  return { presented };
}
