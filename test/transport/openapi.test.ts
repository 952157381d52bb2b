// The OpenAPI documents: every registered route with its method and request schemas, the committed copies current, served on both listeners.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStaticAdminAuthenticator } from '../../src/transport/admin/auth.js';
import { buildAdminApp } from '../../src/transport/admin/app.js';
import { buildHttpApp } from '../../src/transport/http/app.js';
import {
  OPENAPI_FILES,
  buildDescribedApps,
  openApiDocuments,
  openApiText,
} from '../../src/compose/openapi-documents.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Operation {
  readonly parameters?: readonly { in: string; name: string; schema: unknown }[];
  readonly requestBody?: { content: Record<string, { schema: unknown }> };
}
type Document = { paths: Record<string, Record<string, Operation>> };

/** fastify's `/v1/revocations/:id` and `/prefix/*` as OpenAPI writes them. */
const openApiPath = (url: string) => url.replace(/:(\w+)/g, '{$1}').replace(/\*$/, '{*}');

/** Builds the described apps, recording every route fastify registers (onRoute sees them all). */
async function recordRoutes() {
  const apps = buildDescribedApps();
  const routes = { http: [] as RouteOptions[], admin: [] as RouteOptions[] };
  for (const listener of ['http', 'admin'] as const) {
    const app: FastifyInstance = apps[listener];
    app.addHook('onRoute', (route) => void routes[listener].push(route));
    await app.ready();
  }
  const documents = {
    http: apps.http.swagger() as unknown as Document,
    admin: apps.admin.swagger() as unknown as Document,
  };
  await Promise.all([apps.http.close(), apps.admin.close()]);
  return { routes, documents };
}

describe('OpenAPI documents', () => {
  let recorded: Awaited<ReturnType<typeof recordRoutes>>;
  beforeAll(async () => {
    recorded = await recordRoutes();
  });

  for (const listener of ['http', 'admin'] as const) {
    it(`lists every ${listener} route with its method and request schemas`, () => {
      const routes = recorded.routes[listener];
      const { paths } = recorded.documents[listener];
      expect(routes.length).toBeGreaterThan(5);
      const gets = new Set(
        routes.filter((r) => [r.method].flat().includes('GET')).map((r) => r.url),
      );
      let checked = 0;
      for (const route of routes) {
        for (const method of [route.method].flat()) {
          // fastify adds HEAD beside each GET by itself; QUERY has no place in an OpenAPI 3.1 path item.
          if (method === 'QUERY') continue;
          const operation = paths[openApiPath(route.url)]?.[method.toLowerCase()];
          if (operation === undefined && method === 'HEAD' && gets.has(route.url)) continue;
          expect(operation, `${method} ${route.url}`).toBeDefined();
          checked += 1;

          const schema = (route.schema ?? {}) as Record<string, { properties?: object }>;
          if (schema['body'] !== undefined) {
            expect(operation!.requestBody?.content['application/json']?.schema).toEqual(
              schema['body'],
            );
          } else {
            expect(operation!.requestBody, `${method} ${route.url} body`).toBeUndefined();
          }
          for (const [part, place] of [
            ['querystring', 'query'],
            ['params', 'path'],
          ] as const) {
            const declared = Object.entries(schema[part]?.properties ?? {});
            const documented = (operation!.parameters ?? []).filter((p) => p.in === place);
            const wildcard = place === 'path' && route.url.endsWith('*') ? 1 : 0;
            expect(documented.length, `${method} ${route.url} ${place}`).toBe(
              declared.length + wildcard,
            );
            for (const [name, propertySchema] of declared) {
              expect(documented.find((p) => p.name === name)?.schema).toEqual(propertySchema);
            }
          }
        }
      }
      // And nothing in the document that is not a route.
      const documented = Object.values(paths).reduce((n, item) => n + Object.keys(item).length, 0);
      expect(documented).toBe(checked);
    });
  }

  it('matches the committed docs/openapi*.json (run `npm run openapi` after changing a route)', async () => {
    const documents = await openApiDocuments();
    for (const [listener, file] of Object.entries(OPENAPI_FILES)) {
      const committed = readFileSync(`${ROOT}/${file}`, 'utf8');
      expect(committed, `${file} is stale: run npm run openapi`).toBe(
        openApiText(documents[listener as keyof typeof OPENAPI_FILES]),
      );
    }
  });
});

describe('GET /openapi.json', () => {
  const inert = {} as never;
  let http: FastifyInstance;
  let admin: FastifyInstance;
  beforeAll(async () => {
    http = buildHttpApp(
      { decider: inert, readiness: inert, exchanger: inert },
      { bodyLimitBytes: 1024 },
    );
    admin = buildAdminApp({
      authenticator: createStaticAdminAuthenticator(['admin-token']),
      readiness: inert,
      policy: inert,
    });
    await Promise.all([http.ready(), admin.ready()]);
  });
  afterAll(async () => {
    await Promise.all([http.close(), admin.close()]);
  });

  it('serves the HTTP listener its document, without credentials', async () => {
    const reply = await http.inject({ method: 'GET', url: '/openapi.json' });
    expect(reply.statusCode).toBe(200);
    expect(reply.headers['content-type']).toMatch(/^application\/json/);
    const document = reply.json() as Document & { openapi: string };
    expect(document.openapi).toBe('3.1.0');
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(['/v1/check', '/v1/exchange', '/health', '/ready', '/openapi.json']),
    );
  });

  it('serves the admin listener its document behind the admin token, like every admin route', async () => {
    const anonymous = await admin.inject({ method: 'GET', url: '/openapi.json' });
    expect(anonymous.statusCode).toBe(401);
    const reply = await admin.inject({
      method: 'GET',
      url: '/openapi.json',
      headers: { authorization: 'Bearer admin-token' },
    });
    expect(reply.statusCode).toBe(200);
    expect(Object.keys((reply.json() as Document).paths)).toEqual(['/openapi.json', '/v1/status']);
  });
});
