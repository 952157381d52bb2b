// The identity of a decided caller as a proxied upstream receives it: mandate's x-mandate-* headers, shared by the MCP and HTTP proxies.
import type { Decision } from '../core/decision.js';

/** The header names (the ones Envoy mode uses by default). */
export const IDENTITY_HEADERS = {
  subject: 'x-mandate-subject',
  tenant: 'x-mandate-tenant',
  client: 'x-mandate-client',
  scopes: 'x-mandate-scopes',
  act: 'x-mandate-act',
  decisionId: 'x-mandate-decision-id',
} as const;

/** Whether a value can be sent as a header value: no control character but HTAB (RFC 9110 §5.5). */
function isFieldValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return false;
  }
  return true;
}

/** Node sends header strings as Latin-1: a UTF-8 value goes as its bytes, so the upstream reads UTF-8. */
function utf8OnTheWire(value: string): string {
  for (let i = 0; i < value.length; i++) {
    if (value.charCodeAt(i) > 0xff) return Buffer.from(value, 'utf8').toString('latin1');
  }
  return value;
}

/**
 * Sets the decided caller's identity headers on `headers` (whatever a client sent under those
 * names must be gone already). A claim that cannot be a header value is left out rather than
 * split into another header.
 */
export function addIdentityHeaders(headers: Record<string, unknown>, decision: Decision): void {
  const subject = decision.subject;
  const identity: [string, string | undefined][] = [
    [IDENTITY_HEADERS.decisionId, decision.decisionId],
    [IDENTITY_HEADERS.subject, subject?.sub],
    [IDENTITY_HEADERS.tenant, subject?.tenant],
    [IDENTITY_HEADERS.client, subject?.clientId],
    [IDENTITY_HEADERS.scopes, subject?.scopes.join(' ')],
    [IDENTITY_HEADERS.act, subject && subject.act.length > 0 ? subject.act.join(',') : undefined],
  ];
  for (const [name, value] of identity) {
    if (value !== undefined && value !== '' && isFieldValue(value))
      headers[name] = utf8OnTheWire(value);
  }
}
