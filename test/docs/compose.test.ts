// docker-compose.yml and examples/envoy/mandate.yaml fit together: the config compose mounts loads, trusts the dev-as compose starts, and runs locally too.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfigFile } from '../../src/config/load.js';

const ROOT = resolve(import.meta.dirname, '../..');

interface Service {
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  network_mode?: string;
}
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, Service>;
};

/** The host file behind a container path, through the service's bind mounts. */
function hostPath(service: Service, containerPath: string): string {
  for (const volume of service.volumes ?? []) {
    const [host, target] = volume.split(':') as [string, string];
    if (containerPath.startsWith(`${target}/`)) {
      return join(ROOT, host, containerPath.slice(target.length + 1));
    }
  }
  throw new Error(`${containerPath} is not mounted`);
}

describe('docker-compose.yml', () => {
  const mandate = compose.services['mandate'] as Service;
  const devAs = compose.services['dev-as'] as Service;

  it("mandate's config loads and trusts the dev-as issuer, whose JWKS it can reach", () => {
    const env = mandate.environment ?? {};
    const file = hostPath(mandate, env['MANDATE_CONFIG'] as string);
    const config = loadConfigFile(file, { env });
    const command = devAs.command ?? [];
    const issuer = command[command.indexOf('--issuer') + 1] as string;
    const trusted = config.issuers.find((i) => i.issuer === issuer);
    expect(trusted, `an issuer ${issuer}`).toBeDefined();
    // 127.0.0.1 inside mandate's container is dev-as only when they share a network.
    if (new URL(issuer).hostname === '127.0.0.1')
      expect(devAs.network_mode).toBe('service:mandate');
    expect(config.policies.dir).toBe('/app/policies');
    expect(config.listen.admin).toEqual({ host: '0.0.0.0', port: 8182 });
  });

  it('publishes the HTTP, gRPC, admin and dev-as ports', () => {
    const published = (mandate.ports ?? []).map((p) => p.split(':').at(-1));
    expect(published).toEqual(expect.arrayContaining(['8181', '9191', '8182', '9400']));
  });
});

describe('examples/envoy/mandate.yaml', () => {
  it('loads outside a container: policies and state in the repository', () => {
    const config = loadConfigFile(join(ROOT, 'examples/envoy/mandate.yaml'), { env: {} });
    expect(config.policies.dir).toBe(join(ROOT, 'policies'));
    expect(existsSync(join(config.policies.dir, 'base'))).toBe(true);
    expect(config.dev.stateDir).toBe(join(ROOT, '.mandate'));
    expect(config.listen.http.host).toBe('127.0.0.1');
    expect(config.issuers.map((i) => i.issuer)).toContain('http://127.0.0.1:9400');
  });
});
