// Bundles from a real local bundle server and from files: OPA's polling protocol, signatures, persistence, outages.
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BundleSourceConfig, PolicyConfig } from '../../src/config/policies.js';
import { buildUnitBundle } from '../../src/policy/bundle-build.js';
import { bundleFiles } from '../../src/policy/bundle-format.js';
import { signBundle, verifyBundleSignature } from '../../src/policy/bundle-signing.js';
import { createPolicyEngine } from '../../src/policy/engine.js';
import { locateOpa } from '../../src/policy/opa-cli.js';
import { readTar } from '../../src/policy/tar-reader.js';
import { writeTar } from '../../src/policy/tar-writer.js';
import type { PolicyEngine } from '../../src/policy/types.js';
import { type UnitCompiler, createUnitCompiler } from '../../src/policy/unit-compiler.js';
import { readUnitSnapshot } from '../../src/policy/unit-sources.js';
import { type BundleServer, startBundleServer } from '../helpers/bundle-server.js';
import { makePolicyDir, policyInput, personSubject, recordingLogger } from './fixtures.js';

const run = promisify(execFile);

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PRIVATE_PEM = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const PUBLIC_PEM = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const KEYS = { k1: { algorithm: 'RS256', key: PUBLIC_PEM } };

const input = policyInput('contacts.read', personSubject(['contacts.read']));

/** A base that allows unless data.denied lists the action; data decides, so revisions are easy to tell apart. */
function baseFiles(version: string, denied: string[] = []) {
  return {
    'policy.rego': `package mandate.base\n\ndefault allow := false\n\nallow if not input.action in data.denied\n\ndecision := {"allow": allow, "reasons": [{"code": "policy_denied", "message": data.version}]}\n`,
    'data.json': JSON.stringify({ version, denied }),
  };
}

let compiler: UnitCompiler;
const cleanups: (() => Promise<unknown>)[] = [];
const engines: PolicyEngine[] = [];

beforeAll(async () => {
  compiler = await createUnitCompiler();
});

afterEach(async () => {
  await Promise.all(engines.splice(0).map((engine) => engine.stop()));
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

async function bundleOf(version: string, options: { sign?: boolean; denied?: string[] } = {}) {
  const { dir, remove } = await makePolicyDir({ base: baseFiles(version, options.denied) });
  cleanups.push(remove);
  const snapshot = await readUnitSnapshot(dir, 'base');
  const { bytes } = await buildUnitBundle(compiler, snapshot, {
    revision: version,
    ...(options.sign !== false && {
      signer: { key: PRIVATE_PEM, algorithm: 'RS256', keyId: 'k1' },
    }),
  });
  return bytes;
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mandate-bundles-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function urlSource(
  server: BundleServer,
  extra: Partial<BundleSourceConfig> = {},
): BundleSourceConfig {
  return {
    unit: 'base',
    source: 'url',
    url: `${server.url}/bundles/base.tar.gz`,
    headers: { authorization: 'Bearer bundle-reader' },
    polling: { minDelaySeconds: 0.05, maxDelaySeconds: 0.1 },
    timeoutMs: 2000,
    persist: true,
    signing: { keyId: 'k1', excludeFiles: [] },
    ...extra,
  } as BundleSourceConfig;
}

async function startWith(config: Partial<PolicyConfig>, logger = recordingLogger()) {
  const engine = createPolicyEngine({
    config: { dir: join(tmpdir(), 'mandate-no-such-dir'), keys: KEYS, ...config },
    logger,
  });
  engines.push(engine);
  await engine.start();
  return engine;
}

const versionOf = (engine: PolicyEngine) =>
  engine.evaluate(undefined, input).base.reasons[0]?.message;

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('a bundle server', () => {
  let server: BundleServer;
  beforeAll(async () => {
    server = await startBundleServer();
  });
  afterAll(async () => server.close());

  it('serves a signed bundle; 304s keep it; a new ETag brings the new revision', async () => {
    server.publish('/bundles/base.tar.gz', await bundleOf('v1'));
    const engine = await startWith({ bundles: [urlSource(server)], persistDir: await tempDir() });
    expect(versionOf(engine)).toBe('v1');
    expect(engine.revisions().base).toBe('v1');

    await until(() => server.requests.filter((r) => r.status === 304).length >= 2);
    const conditional = server.requests.filter((r) => r.headers['if-none-match'] !== undefined);
    expect(conditional.length).toBeGreaterThan(0);
    expect(server.requests[0]?.headers['authorization']).toBe('Bearer bundle-reader');

    server.publish('/bundles/base.tar.gz', await bundleOf('v2'));
    await until(() => versionOf(engine) === 'v2');
    const [unit] = engine.units();
    expect(unit).toMatchObject({ unit: 'base', state: 'OK', origin: 'bundle', revision: 'v2' });
    expect(unit?.bundle).toMatchObject({
      source: 'url',
      signed: true,
      last_successful_activation: expect.any(String),
    });
    // The admin API shows these objects as they are: snake_case like every JSON mandate answers.
    for (const key of [...Object.keys(unit ?? {}), ...Object.keys(unit?.bundle ?? {})]) {
      expect(key).toMatch(/^[a-z][a-z0-9_]*$/);
    }
  });

  it('rejects a tampered bundle and keeps serving the old one, visible in status', async () => {
    server.publish('/bundles/base.tar.gz', await bundleOf('good'));
    const logger = recordingLogger();
    const engine = await startWith(
      { bundles: [urlSource(server)], persistDir: await tempDir() },
      logger,
    );
    expect(versionOf(engine)).toBe('good');

    // Same signature, different data: the data.json digest no longer matches.
    const files = await readTar((await import('node:zlib')).gunzipSync(await bundleOf('good')));
    const tampered = files.map((file) =>
      file.path === 'data.json'
        ? { path: '/data.json', data: new TextEncoder().encode('{"version":"evil","denied":[]}') }
        : { path: `/${file.path}`, data: file.data },
    );
    server.publish('/bundles/base.tar.gz', gzipSync(await writeTar(tampered)));
    await until(() => engine.units()[0]?.error !== undefined);
    expect(versionOf(engine)).toBe('good');
    expect(engine.units()[0]).toMatchObject({
      state: 'WARN',
      error: {
        code: 'signature_invalid',
        message: expect.stringContaining('data.json: digest mismatch'),
      },
    });
    expect(engine.status().state).toBe('WARN');
    expect(
      logger.lines.some(
        (line) =>
          line.level === 'error' && JSON.stringify(line.fields).includes('signature_invalid'),
      ),
    ).toBe(true);
  });

  it('rejects an unsigned bundle when verification is configured', async () => {
    server.publish('/bundles/base.tar.gz', await bundleOf('signed'));
    const engine = await startWith({ bundles: [urlSource(server)], persistDir: await tempDir() });
    server.publish('/bundles/base.tar.gz', await bundleOf('unsigned', { sign: false }));
    await until(() => engine.units()[0]?.error !== undefined);
    expect(engine.units()[0]?.error?.message).toContain('missing .signatures.json');
    expect(versionOf(engine)).toBe('signed');
  });

  it('starts from the persisted bundle when the server is down at boot, then follows the server again', async () => {
    const persistDir = await tempDir();
    server.publish('/bundles/base.tar.gz', await bundleOf('persisted'));
    const first = await startWith({ bundles: [urlSource(server)], persistDir });
    expect(versionOf(first)).toBe('persisted');
    await first.stop();

    await server.stop();
    try {
      const logger = recordingLogger();
      const engine = await startWith({ bundles: [urlSource(server)], persistDir }, logger);
      expect(versionOf(engine)).toBe('persisted');
      expect(engine.units()[0]?.bundle).toMatchObject({ serving_persisted: true });
      expect(logger.lines.some((line) => line.message === 'serving the persisted bundle')).toBe(
        true,
      );

      server.publish('/bundles/base.tar.gz', await bundleOf('fresh'));
      await server.start();
      await until(() => versionOf(engine) === 'fresh');
    } finally {
      await server.start().catch(() => undefined);
    }
  });

  it('fails to start without a server and without a persisted bundle', async () => {
    await server.stop();
    try {
      const engine = createPolicyEngine({
        config: {
          dir: '/nonexistent',
          keys: KEYS,
          bundles: [urlSource(server)],
          persistDir: await tempDir(),
        },
      });
      await expect(engine.start()).rejects.toMatchObject({ code: 'download_failed' });
    } finally {
      await server.start();
    }
  });

  it('keeps serving when the server goes down later, reporting the failed downloads', async () => {
    server.failWith(undefined);
    server.publish('/bundles/base.tar.gz', await bundleOf('steady'));
    const engine = await startWith({ bundles: [urlSource(server)], persistDir: await tempDir() });
    server.failWith(503);
    try {
      await until(() => engine.units()[0]?.error?.code === 'download_failed');
      expect(engine.units()[0]?.error?.message).toContain('HTTP 503');
      expect(versionOf(engine)).toBe('steady');
      expect(engine.evaluate(undefined, input).allow).toBe(true);
    } finally {
      server.failWith(undefined);
    }
    await until(
      () => engine.units()[0]?.error === undefined || engine.units()[0]?.state === 'OK',
      5000,
    ).catch(() => undefined);
  });
});

describe('long polling', () => {
  it('sends Prefer: wait and picks up a new bundle at once, without waiting for the poll delay', async () => {
    const server = await startBundleServer({ longPolling: true });
    cleanups.push(() => server.close());
    server.publish('/bundles/base.tar.gz', await bundleOf('lp1'));
    const engine = await startWith({
      bundles: [
        urlSource(server, {
          polling: { minDelaySeconds: 60, maxDelaySeconds: 120, longPollingTimeoutSeconds: 5 },
        } as Partial<BundleSourceConfig>),
      ],
      persistDir: await tempDir(),
    });
    expect(versionOf(engine)).toBe('lp1');
    await until(() => server.requests.length >= 2);
    expect(server.requests.at(-1)?.headers['prefer']).toBe('wait=5');
    const published = Date.now();
    server.publish('/bundles/base.tar.gz', await bundleOf('lp2'));
    await until(() => versionOf(engine) === 'lp2', 5000);
    expect(Date.now() - published).toBeLessThan(5000);
  });
});

describe('bundle files', () => {
  it('loads a tenant bundle from disk next to a directory base, and reloads it on change in watch mode', async () => {
    const { dir, remove } = await makePolicyDir({
      base: {
        'policy.rego': 'package mandate.base\n\ndecision := {"allow": true, "reasons": []}\n',
      },
    });
    cleanups.push(remove);
    const tenantDir = await makePolicyDir({
      tenants: {
        acme: {
          'policy.rego':
            'package mandate.tenant\n\ndecision := {"allow": data.open, "reasons": [{"code": "policy_denied", "message": "closed"}]}\n',
          'data.json': '{"open": true}',
        },
      },
    });
    cleanups.push(tenantDir.remove);
    const build = async (open: boolean) => {
      await writeFile(
        join(tenantDir.dir, 'tenants', 'acme', 'data.json'),
        JSON.stringify({ open }),
      );
      return (
        await buildUnitBundle(compiler, await readUnitSnapshot(tenantDir.dir, 'tenant', 'acme'))
      ).bytes;
    };
    const out = await tempDir();
    const file = join(out, 'acme.tar.gz');
    await writeFile(file, await build(true));
    const engine = await startWith({
      dir,
      watch: true,
      watchDebounceMs: 20,
      bundles: [{ unit: 'tenants/acme', tenant: 'acme', source: 'file', path: file }],
    });
    expect(engine.evaluate('acme', input).allow).toBe(true);
    expect(engine.units().find((u) => u.unit === 'tenant:acme')).toMatchObject({
      origin: 'bundle',
      state: 'OK',
    });

    await writeFile(file, await build(false));
    await until(() => engine.evaluate('acme', input).allow === false);
    expect(engine.evaluate('acme', input).reasons).toEqual([
      { code: 'policy_denied', message: 'closed' },
    ]);
  });

  it('fails a tenant closed when its bundle file is not a bundle', async () => {
    const { dir, remove } = await makePolicyDir({
      base: {
        'policy.rego': 'package mandate.base\n\ndecision := {"allow": true, "reasons": []}\n',
      },
    });
    cleanups.push(remove);
    const out = await tempDir();
    await writeFile(join(out, 'bad.tar.gz'), 'not a bundle');
    const engine = await startWith({
      dir,
      bundles: [
        { unit: 'tenants/bad', tenant: 'bad', source: 'file', path: join(out, 'bad.tar.gz') },
      ],
    });
    expect(engine.evaluate('bad', input).allow).toBe(false);
    expect(engine.units().find((u) => u.unit === 'tenant:bad')).toMatchObject({
      state: 'ERROR',
      error: { code: 'bundle_invalid' },
    });
    // Broken at start-up: not ready (the readiness rule), naming the tenant.
    expect(engine.status()).toMatchObject({
      state: 'ERROR',
      message: expect.stringContaining('bad'),
    });
  });
});

describe('signatures, interoperable with opa', () => {
  it("verifies a bundle signed by opa's own `opa build --signing-key`", async () => {
    const { dir, remove } = await makePolicyDir({ base: baseFiles('opa-signed') });
    cleanups.push(remove);
    const out = await tempDir();
    await writeFile(join(out, 'private.pem'), PRIVATE_PEM);
    await run(
      locateOpa(),
      [
        'build',
        '-b',
        'base',
        '-t',
        'wasm',
        '-e',
        'mandate/base/decision',
        '--signing-key',
        join(out, 'private.pem'),
        '--signing-alg',
        'RS256',
        '-o',
        join(out, 'b.tar.gz'),
      ],
      { cwd: dir },
    );
    const files = await readTar(
      (await import('node:zlib')).gunzipSync(await readFile(join(out, 'b.tar.gz'))),
    );
    const signatures = new TextDecoder().decode(
      files.find((f) => f.path === '.signatures.json')!.data,
    );
    await verifyBundleSignature('base', files, signatures, {
      keys: { default: { algorithm: 'RS256', key: PUBLIC_PEM } },
    });
    // One changed byte anywhere fails it.
    const changed = files.map((f) =>
      f.path === 'policy.wasm'
        ? { ...f, data: Uint8Array.from(f.data, (b, i) => (i === 100 ? b ^ 1 : b)) }
        : f,
    );
    await expect(
      verifyBundleSignature('base', changed, signatures, {
        keys: { default: { algorithm: 'RS256', key: PUBLIC_PEM } },
      }),
    ).rejects.toThrow(/policy\.wasm: digest mismatch/);
  });

  it('produces bundles that `opa build --verification-key` accepts', async () => {
    const out = await tempDir();
    await writeFile(join(out, 'public.pem'), PUBLIC_PEM);
    await writeFile(join(out, 'ours.tar.gz'), await bundleOf('ours'));
    const { stderr } = await run(locateOpa(), [
      'build',
      '-b',
      join(out, 'ours.tar.gz'),
      '--verification-key',
      join(out, 'public.pem'),
      '--verification-key-id',
      'k1',
      '-o',
      join(out, 'checked.tar.gz'),
    ]);
    expect(stderr).toBe('');
    // And opa refuses it with another key.
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    await writeFile(join(out, 'other.pem'), other);
    await expect(
      run(locateOpa(), [
        'build',
        '-b',
        join(out, 'ours.tar.gz'),
        '--verification-key',
        join(out, 'other.pem'),
        '--verification-key-id',
        'k1',
        '-o',
        join(out, 'x.tar.gz'),
      ]),
    ).rejects.toThrow();
  });

  it('rejects a file not covered by the signature, a wrong scope, and a second JWT', async () => {
    const files = bundleFiles({
      manifest: { revision: 'r' },
      wasm: new Uint8Array([0, 97, 115, 109]),
      data: { a: 1 },
    });
    const signatures = await signBundle(files, { key: PRIVATE_PEM, keyId: 'k1', scope: 'write' });
    const keys = KEYS;
    await verifyBundleSignature('base', files, signatures, { keys, scope: 'write' });
    const extra = [...files, { path: 'sneaky.rego', data: new TextEncoder().encode('package x') }];
    await expect(
      verifyBundleSignature('base', extra, signatures, { keys, scope: 'write' }),
    ).rejects.toThrow('file sneaky.rego not included in bundle signature');
    await expect(
      verifyBundleSignature('base', files, signatures, { keys, scope: 'read' }),
    ).rejects.toThrow('scope mismatch');
    const jwt = (JSON.parse(signatures) as { signatures: string[] }).signatures[0]!;
    await expect(
      verifyBundleSignature('base', files, JSON.stringify({ signatures: [jwt, jwt] }), {
        keys,
        scope: 'write',
      }),
    ).rejects.toThrow('multiple JWTs');
    await expect(
      verifyBundleSignature('base', files.slice(1), signatures, { keys, scope: 'write' }),
    ).rejects.toThrow('specified in signature but not found');
  });
});
