// Server reflection as a real client uses it: the pinned grpcurl, with no .proto files, against a running sidecar.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sidecar, startSidecar } from '../helpers/sidecar.js';
import { ROUTES_YAML } from '../integration/envoy-config.js';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const grpcurlPath = resolve(root, '.tools/grpcurl');

let sidecar: Sidecar;

beforeAll(async () => {
  if (!existsSync(grpcurlPath)) {
    throw new Error('.tools/grpcurl is missing: run `node scripts/ensure-grpcurl.mjs` (needs Go)');
  }
  sidecar = await startSidecar({ yaml: ROUTES_YAML });
});
afterAll(() => sidecar?.stop());

async function grpcurl(...args: string[]): Promise<string> {
  const { stdout } = await run(grpcurlPath, ['-plaintext', ...args], { timeout: 20_000 });
  return stdout;
}

describe('gRPC server reflection, through grpcurl', () => {
  it('lists every service', async () => {
    const services = (await grpcurl(sidecar.grpcTarget, 'list')).trim().split('\n');
    expect(services.sort()).toEqual([
      'envoy.service.auth.v3.Authorization',
      'grpc.health.v1.Health',
      'mandate.v1.Authorizer',
    ]);
  });

  it('describes messages that use well-known types (google.protobuf.Struct)', async () => {
    const text = await grpcurl(sidecar.grpcTarget, 'describe', 'mandate.v1.CheckRequest');
    expect(text).toContain('.google.protobuf.Struct context');
  });

  it('answers health checks without proto files (map fields resolve)', async () => {
    const health = JSON.parse(
      await grpcurl('-d', '{}', sidecar.grpcTarget, 'grpc.health.v1.Health/Check'),
    );
    expect(health).toEqual({ status: 'SERVING' });
    const text = await grpcurl(sidecar.grpcTarget, 'describe', 'grpc.health.v1.Health');
    expect(text).toContain('rpc Check');
  });

  it('calls Check with a real token and gets the decision', async () => {
    const token = await sidecar.token({ claims: { scope: 'contacts.read' } });
    const body = JSON.stringify({
      token,
      action: 'contacts.read',
      context: { note: 'from grpcurl' },
    });
    const answer = JSON.parse(
      await grpcurl('-d', body, sidecar.grpcTarget, 'mandate.v1.Authorizer/Check'),
    );
    expect(answer.allow).toBe(true);
    expect(answer.decisionId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('describes Envoy ext_authz types down to their imports', async () => {
    const text = await grpcurl(
      sidecar.grpcTarget,
      'describe',
      'envoy.service.auth.v3.AttributeContext.HttpRequest',
    );
    expect(text).toContain('map<string, string> headers');
  });
});

describe('the committed descriptor set', () => {
  it('is what the .proto files compile to (run `npm run gen` after editing them)', async () => {
    await run(process.execPath, [resolve(root, 'scripts/gen-descriptors.mjs'), '--check'], {
      cwd: root,
    });
  });
});
