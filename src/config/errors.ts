// The one error type for bad configuration: it always names the offending key.

export class ConfigError extends Error {
  /** Dotted path of the offending key, e.g. `issuers[0].audiences`. */
  readonly key: string;
  constructor(key: string, problem: string) {
    super(`config: ${key}: ${problem}`);
    this.name = 'ConfigError';
    this.key = key;
  }
}
