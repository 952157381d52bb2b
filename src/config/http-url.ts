// Reads a config value that must be an absolute http(s) URL, naming the key when it is not.
import { ConfigError } from './errors.js';

/** `value` as a URL; a ConfigError naming `key` when it is not an absolute http: or https: URL. */
export function absoluteHttpUrl(key: string, value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(key, 'must be an absolute http(s) URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError(key, 'must be an absolute http(s) URL');
  }
  return url;
}
