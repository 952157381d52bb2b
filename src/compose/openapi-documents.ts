// Builds both listeners' apps with every optional route group and inert dependencies, to read their OpenAPI documents.
import type { FastifyInstance } from 'fastify';
import { DEFAULT_EGRESS_HTTP_PREFIX } from '../config/exchange.js';
import { defaultConfig } from '../config/load.js';
import { buildAdminApp } from '../transport/admin/app.js';
import { auditAdminRoutes } from '../transport/admin/decisions.js';
import { policyAdminRoutes } from '../transport/admin/policies.js';
import { revocationAdminRoutes } from '../transport/admin/revocations.js';
import { buildHttpApp } from '../transport/http/app.js';

/** The two listeners' documents, as `npm run openapi` writes them to docs/. */
export interface OpenApiDocuments {
  readonly http: Record<string, unknown>;
  readonly admin: Record<string, unknown>;
}

/**
 * Dependencies that are never called: building the apps only registers routes, and nothing here
 * serves a request. Anything that does touch one fails loudly instead of answering.
 */
const inert = new Proxy(
  {},
  {
    get(_target, key) {
      if (key === 'then') return undefined;
      throw new Error(
        `openapi-documents: dependency used while describing routes (${String(key)})`,
      );
    },
  },
) as never;

/**
 * The HTTP and admin apps as `mandate serve` builds them with every route group present (metrics,
 * token exchange, Envoy HTTP ext_authz for ingress and egress), prefixes at their defaults. Call
 * `ready()` before reading routes; close them afterwards.
 */
export function buildDescribedApps(): { http: FastifyInstance; admin: FastifyInstance } {
  const config = defaultConfig();
  const envoyOptions = {
    prefix: config.envoy.httpPrefix,
    bodyLimitBytes: config.envoy.httpBodyLimitBytes,
  };
  const http = buildHttpApp(
    {
      decider: inert,
      readiness: inert,
      metrics: { registry: inert } as never,
      exchanger: inert,
      envoy: { authorizer: inert, options: envoyOptions },
      egress: {
        authorizer: inert,
        options: { ...envoyOptions, prefix: DEFAULT_EGRESS_HTTP_PREFIX },
      },
    },
    { bodyLimitBytes: config.http.bodyLimitBytes },
  );
  const admin = buildAdminApp({
    authenticator: inert,
    readiness: inert,
    policy: inert,
    routes: [
      auditAdminRoutes(inert),
      revocationAdminRoutes({
        store: inert,
        lifetime: inert,
        audit: inert,
        clockSkewSeconds: config.revocation.clockSkewSeconds,
        bodyLimitBytes: config.revocation.bodyLimitBytes,
      }),
      policyAdminRoutes(inert),
    ],
  });
  return { http, admin };
}

/** Both listeners' OpenAPI documents. */
export async function openApiDocuments(): Promise<OpenApiDocuments> {
  const { http, admin } = buildDescribedApps();
  try {
    await Promise.all([http.ready(), admin.ready()]);
    return {
      http: http.swagger() as unknown as Record<string, unknown>,
      admin: admin.swagger() as unknown as Record<string, unknown>,
    };
  } finally {
    await Promise.all([http.close(), admin.close()]);
  }
}

/** Where `npm run openapi` writes each listener's document, relative to the repository root. */
export const OPENAPI_FILES = {
  http: 'docs/openapi.json',
  admin: 'docs/openapi-admin.json',
} as const satisfies Record<keyof OpenApiDocuments, string>;

/** The committed form of a document: two-space JSON and a final newline (prettier leaves it alone). */
export function openApiText(document: Record<string, unknown>): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}
