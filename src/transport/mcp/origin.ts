// Host and Origin checks against DNS rebinding: only the names the guarded resources are known by.
import type { McpProxyOptions } from './options.js';

export interface OriginGuard {
  /** Undefined when the request may go on, else why it is refused (HTTP 403). */
  refuse(host: string | undefined, origin: string | undefined): string | undefined;
  /** The Origin is one a browser page may call the resources from (the same list `refuse` uses). */
  allowsOrigin(origin: string): boolean;
}

export function createOriginGuard(config: McpProxyOptions): OriginGuard {
  const hosts = new Set(config.allowedHosts);
  const origins = new Set(config.allowedOrigins);
  for (const resource of config.resources) {
    const url = new URL(resource.uri);
    hosts.add(url.host.toLowerCase());
    origins.add(url.origin);
  }
  return {
    refuse(host, origin) {
      if (host === undefined || !hosts.has(host.toLowerCase())) {
        return 'the Host header names no resource this proxy serves';
      }
      // Browsers send Origin on cross-origin requests; other clients usually send none.
      if (origin !== undefined && !origins.has(origin)) {
        return 'the Origin is not allowed to reach this resource';
      }
      return undefined;
    },
    allowsOrigin: (origin) => origins.has(origin),
  };
}
