// The Kubernetes guide's manifest is valid YAML, and the mandate config it ships loads as written.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/config/load.js';

const guide = readFileSync(resolve(import.meta.dirname, '../../docs/kubernetes.md'), 'utf8');
const manifest = /<!-- kubernetes -->\s*```yaml\n([\s\S]*?)```/.exec(guide)?.[1] ?? '';
const documents = parseAllDocuments(manifest).map((doc) => doc.toJS() as unknown);

/** The value at a path of keys and indexes in parsed YAML, or undefined. */
function at(value: unknown, ...path: (string | number)[]): unknown {
  return path.reduce<unknown>(
    (node, key) =>
      node !== null && typeof node === 'object'
        ? (node as Record<string, unknown>)[key]
        : undefined,
    value,
  );
}
const ofKind = (kind: string) => documents.find((doc) => at(doc, 'kind') === kind);

describe('docs/kubernetes.md', () => {
  it('ships a ConfigMap whose mandate.yaml loads, with the admin listener on loopback', () => {
    const config = parseConfig(String(at(ofKind('ConfigMap'), 'data', 'mandate.yaml')), {
      env: { MANDATE_ADMIN_TOKENS: 'k8s-secret-admin-token-0123456789abcdef' },
    });
    expect(config.listen.admin.host).toBe('127.0.0.1');
    expect(config.revocation.store).toMatchObject({ driver: 'redis' });
  });

  it('probes /ready and /health on the mandate container, on the port the config listens on', () => {
    const containers = at(ofKind('Deployment'), 'spec', 'template', 'spec', 'containers');
    const mandate = (containers as unknown[]).find((c) => at(c, 'name') === 'mandate');
    expect(at(mandate, 'readinessProbe', 'httpGet', 'path')).toBe('/ready');
    expect(at(mandate, 'livenessProbe', 'httpGet', 'path')).toBe('/health');
    expect(at(mandate, 'ports', 0, 'containerPort')).toBe(8181);
  });
});
