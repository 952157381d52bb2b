// Config test fixtures: the smallest issuers section a config needs, and the ConfigError a load throws.
import { ConfigError } from '../../src/config/errors.js';

/** One issuer with a JWKS URL and an audience: enough for a config to load. */
export const MINIMAL_ISSUERS = `
issuers:
  - issuer: https://as.example.com
    jwks_uri: https://as.example.com/.well-known/jwks.json
    audiences: [crm-api]
`;

/** The ConfigError `fn` throws; any other outcome fails the test. */
export function configErrorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

/** The message of the ConfigError `fn` throws. */
export function configMessageOf(fn: () => unknown): string {
  return configErrorOf(fn).message;
}
