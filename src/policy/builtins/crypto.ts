// crypto.* digests and HMACs (hex output over the UTF-8 bytes of strings), as OPA's topdown computes them.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { JsBuiltin } from '../builtins.js';
import { guarded, stringOperand } from './host-builtin.js';

const digest = (algorithm: string): JsBuiltin =>
  guarded((value: unknown) => createHash(algorithm).update(stringOperand(value, 1)).digest('hex'));

const hmac = (algorithm: string): JsBuiltin =>
  guarded((value: unknown, key: unknown) => {
    const text = stringOperand(value, 1);
    return createHmac(algorithm, stringOperand(key, 2)).update(text).digest('hex');
  });

/** The crypto builtins; x509 and private-key parsing are not among them (see docs/opa-envoy-builtins.md). */
export function createCryptoBuiltins(): Record<string, JsBuiltin> {
  return {
    'crypto.md5': digest('md5'),
    'crypto.sha1': digest('sha1'),
    'crypto.sha256': digest('sha256'),
    'crypto.hmac.md5': hmac('md5'),
    'crypto.hmac.sha1': hmac('sha1'),
    'crypto.hmac.sha256': hmac('sha256'),
    'crypto.hmac.sha512': hmac('sha512'),
    'crypto.hmac.equal': guarded((left: unknown, right: unknown) => {
      const a = Buffer.from(stringOperand(left, 1));
      const b = Buffer.from(stringOperand(right, 2));
      return a.length === b.length && timingSafeEqual(a, b);
    }),
  };
}
