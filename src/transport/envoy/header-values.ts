// Which headers mandate may hand Envoy: a field-name token and a value without line breaks or other controls.
import type { HeaderPair } from './response.js';

/** RFC 9110 §5.1 field name (lower-case, as mandate writes them). */
const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

/**
 * Whether a value can be a header value: no control character but HTAB (RFC 9110 §5.5). A CR or
 * LF would split it into another header (or request) at an HTTP/1 upstream; NUL ends C strings.
 */
export function isFieldValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return false;
  }
  return true;
}

/** Whether a name can be a header name. */
export function isFieldName(name: string): boolean {
  return FIELD_NAME.test(name);
}

/** The first header whose name or value cannot be sent, or undefined. */
export function unsendableHeader(pairs: readonly HeaderPair[]): HeaderPair | undefined {
  return pairs.find((h) => !isFieldName(h.name) || !isFieldValue(h.value));
}

/**
 * A value as Node must be given it to send these exact bytes: Node refuses characters above
 * U+00FF, so a UTF-8 value (a subject such as `用户`) is passed as its bytes read as Latin-1 and
 * goes out as the same UTF-8 bytes Envoy's gRPC answer carries.
 */
export function latin1Wire(value: string): string {
  for (let i = 0; i < value.length; i++) {
    if (value.charCodeAt(i) > 0xff) return Buffer.from(value, 'utf8').toString('latin1');
  }
  return value;
}
