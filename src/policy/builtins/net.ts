// net.cidr_is_valid: whether a string is a CIDR Go's net.ParseCIDR accepts (IPv4 or IPv6 address, prefix length).
import { isIPv4, isIPv6 } from 'node:net';
import type { JsBuiltin } from '../builtins.js';

/** Go's net.ParseCIDR: an address without a zone, `/`, and decimal digits (leading zeros allowed) within the address size. */
export function isCidr(text: string): boolean {
  const slash = text.indexOf('/');
  if (slash < 0) return false;
  const address = text.slice(0, slash);
  const prefix = text.slice(slash + 1);
  if (!/^\d+$/.test(prefix) || prefix.length > 8) return false;
  const bits = isIPv4(address) ? 32 : isIPv6(address) && !address.includes('%') ? 128 : 0;
  return bits > 0 && Number(prefix) <= bits;
}

/** The net builtins mandate implements (cidr_contains and cidr_intersects are native to the Wasm). */
export function createNetBuiltins(): Record<string, JsBuiltin> {
  // Any operand type is allowed: a non-string is simply not a CIDR.
  return { 'net.cidr_is_valid': (value: unknown) => typeof value === 'string' && isCidr(value) };
}
