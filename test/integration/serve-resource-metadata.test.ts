// `mandate serve` with `mcp.resources`: its HTTP listener serves the RFC 9728 metadata the MCP proxy serves, for services that call the Check API themselves.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { metadataRoutes } from '../../src/transport/resource-metadata.js';
import { startJwksServer, type JwksServer } from '../helpers/jwks-server.js';
import { startInProcess, testConfigYaml, type InProcessSidecar } from '../helpers/sidecar.js';
import { AUDIENCE, ISSUER, createTestKey } from '../helpers/tokens.js';

function configYaml(jwks: JwksServer, audit: string, more: string) {
  return testConfigYaml({
    issuer: ISSUER,
    jwksUri: jwks.url,
    audience: AUDIENCE,
    audit: `{ sink: file, path: "${audit}" }`,
    more,
  });
}

const MCP = `mcp:
  resources:
    - uri: https://api.example.com/crm
      authorization_servers: [https://as.example.com]
      scopes_supported: [crm.read]
      resource_name: CRM
      dpop_bound_access_tokens_required: true
    - uri: https://api.example.com/billing/
      authorization_servers: [https://as.example.com]
      dpop_signing_alg_values_supported: [ES256]
`;

describe('serve with mcp.resources', () => {
  let jwks: JwksServer;
  let sidecar: InProcessSidecar;
  let bare: InProcessSidecar;

  beforeAll(async () => {
    const key = await createTestKey('ES256');
    jwks = await startJwksServer([key.jwk]);
    const dir = mkdtempSync(join(tmpdir(), 'mandate-serve-prm-'));
    const audit = join(dir, 'audit.jsonl');
    sidecar = await startInProcess(
      parseConfig(configYaml(jwks, audit, MCP), { baseDir: dir }),
      audit,
    );
    const other = join(dir, 'other.jsonl');
    bare = await startInProcess(parseConfig(configYaml(jwks, other, ''), { baseDir: dir }), other);
  });
  afterAll(async () => {
    await sidecar?.stop();
    await bare?.stop();
    await jwks?.close();
  });

  it('serves each resource at its path-suffixed well-known path, as the proxy does', async () => {
    const config = parseConfig(configYaml(jwks, '/tmp/x', MCP));
    const expected = metadataRoutes(config.mcp?.resources ?? []);
    expect([...expected.keys()].sort()).toEqual([
      '/.well-known/oauth-protected-resource',
      '/.well-known/oauth-protected-resource/billing',
      '/.well-known/oauth-protected-resource/crm',
    ]);
    for (const [path, document] of expected) {
      const res = await fetch(`${sidecar.httpUrl}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      expect(await res.json()).toEqual(document);
    }
    const crm = await fetch(`${sidecar.httpUrl}/.well-known/oauth-protected-resource/crm`);
    expect(await crm.json()).toEqual({
      resource: 'https://api.example.com/crm',
      authorization_servers: ['https://as.example.com'],
      scopes_supported: ['crm.read'],
      bearer_methods_supported: ['header'],
      resource_name: 'CRM',
      dpop_signing_alg_values_supported: expect.arrayContaining(['ES256', 'RS256', 'EdDSA']),
      dpop_bound_access_tokens_required: true,
    });
    // The bare path names the first resource (a client that found no suffixed document falls back).
    const first = await fetch(`${sidecar.httpUrl}/.well-known/oauth-protected-resource`);
    expect(((await first.json()) as { resource: string }).resource).toBe(
      'https://api.example.com/crm',
    );
  });

  it('answers HEAD, and 404 for a resource it does not know', async () => {
    const head = await fetch(`${sidecar.httpUrl}/.well-known/oauth-protected-resource/crm`, {
      method: 'HEAD',
    });
    expect(head.status).toBe(200);
    const unknown = await fetch(`${sidecar.httpUrl}/.well-known/oauth-protected-resource/other`);
    expect(unknown.status).toBe(404);
  });

  it("answers a browser client's CORS preflight for any origin, as the document is public", async () => {
    for (const path of [
      '/.well-known/oauth-protected-resource/crm',
      '/.well-known/oauth-protected-resource',
    ]) {
      const res = await fetch(`${sidecar.httpUrl}${path}`, {
        method: 'OPTIONS',
        headers: {
          origin: 'https://app.example',
          'access-control-request-method': 'GET',
          'access-control-request-headers': 'mcp-protocol-version',
        },
      });
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      expect(res.headers.get('access-control-allow-methods')).toContain('GET');
      expect(res.headers.get('access-control-allow-headers')).toContain('mcp-protocol-version');
    }
  });

  it('serves no metadata without mcp.resources', async () => {
    const res = await fetch(`${bare.httpUrl}/.well-known/oauth-protected-resource`);
    expect(res.status).toBe(404);
  });
});
