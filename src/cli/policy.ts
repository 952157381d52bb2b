// `mandate policy test|check|fmt|build`: the policy author's loop, with the real opa and the runtime's own builtins.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { buildUnitBundle } from '../policy/bundle-build.js';
import type { BundleSigner } from '../policy/bundle-signing.js';
import { TENANTS_DIR } from '../policy/conventions.js';
import { mergeDataFiles } from '../policy/data-files.js';
import { PolicyError, describeThrown } from '../policy/errors.js';
import { mapSettledLimited } from '../policy/map-limited.js';
import { createOpaCli } from '../policy/opa-cli.js';
import { createUnitCompiler } from '../policy/unit-compiler.js';
import { type UnitSnapshot, listTenants, readUnitSnapshot } from '../policy/unit-sources.js';
import { UsageError } from './usage-error.js';

/** Where the commands write: stdout and stderr. */
export interface PolicyIo {
  readonly env: NodeJS.ProcessEnv;
  out(text: string): void;
  err(text: string): void;
}

export const POLICY_USAGE = `usage:
  mandate policy test  [dir] [--tenant T]          run the Rego unit tests (*_test.rego) of base and every tenant
  mandate policy check [dir] [--tenant T] [--write-capabilities FILE]
                                                   compile every unit with the builtins mandate really has
  mandate policy fmt   [dir] [--check]             format Rego with opa fmt (--check: list, change nothing)
  mandate policy build [dir] -o OUT [--tenant T] [--revision R]
                       [--signing-key PEM] [--signing-alg RS256] [--signing-keyid default] [--scope S]
                                                   one OPA bundle per unit: OUT/base.tar.gz, OUT/tenants/<id>.tar.gz
  dir defaults to $MANDATE_POLICIES_DIR, else ./policies. Exit 0 ok, 1 failures, 2 usage.`;

interface Unit {
  readonly kind: 'base' | 'tenant';
  readonly tenant?: string;
  /** `base` or `tenants/<id>`, relative to the policy directory. */
  readonly path: string;
}

function policyDir(dir: string | undefined, env: NodeJS.ProcessEnv): string {
  return resolve(dir ?? env['MANDATE_POLICIES_DIR'] ?? 'policies');
}

/** The flags of `mandate policy test|check|fmt|build`, as declared in program.ts. */
export interface PolicyFlags {
  readonly tenant?: string;
  readonly 'write-capabilities'?: string;
  readonly check?: boolean;
  readonly out?: string;
  readonly revision?: string;
  readonly 'signing-key'?: string;
  readonly 'signing-alg'?: string;
  readonly 'signing-keyid'?: string;
  readonly scope?: string;
}

async function unitsOf(dir: string, tenant: string | undefined): Promise<Unit[]> {
  if (tenant !== undefined) {
    const known = await listTenants(dir);
    if (!known.includes(tenant))
      throw new UsageError(`--tenant: no folder ${join(dir, TENANTS_DIR, tenant)}`);
    return [{ kind: 'tenant', tenant, path: `${TENANTS_DIR}/${tenant}` }];
  }
  const tenants = await listTenants(dir);
  return [
    { kind: 'base', path: 'base' },
    ...tenants.map((t) => ({ kind: 'tenant' as const, tenant: t, path: `${TENANTS_DIR}/${t}` })),
  ];
}

interface OpaTestResult {
  readonly location?: { readonly file?: string; readonly row?: number };
  readonly package?: string;
  readonly name?: string;
  readonly fail?: boolean;
  readonly error?: { readonly message?: string } | string;
  readonly skip?: boolean;
}

async function test(
  values: PolicyFlags,
  positional: string | undefined,
  io: PolicyIo,
): Promise<number> {
  const dir = policyDir(positional, io.env);
  const units = await unitsOf(dir, values.tenant);
  const opa = createOpaCli(
    io.env['MANDATE_OPA_PATH'] ? { opaPath: io.env['MANDATE_OPA_PATH'] } : {},
  );
  let passed = 0;
  let failed = 0;
  const results = await mapSettledLimited(units, 2, (unit) =>
    opa.run(['test', '--format', 'json', unit.path], { cwd: dir }),
  );
  units.forEach((unit, index) => {
    const settled = results[index]!;
    if (settled.status === 'rejected') throw settled.reason;
    const { stdout, stderr, code } = settled.value;
    let parsed: OpaTestResult[] | undefined;
    try {
      parsed = JSON.parse(stdout) as OpaTestResult[];
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined || !Array.isArray(parsed)) {
      if (code === 0 || /no test(s| cases) found/i.test(`${stdout}${stderr}`)) {
        io.out(`- ${unit.path}: no tests\n`);
        return;
      }
      failed++;
      io.out(`✗ ${unit.path}: opa test failed\n${indent(`${stdout}${stderr}`.trim())}\n`);
      return;
    }
    const bad = parsed.filter((r) => r.fail === true || r.error !== undefined);
    const ok = parsed.filter((r) => !r.fail && r.error === undefined && !r.skip).length;
    passed += ok;
    failed += bad.length;
    if (parsed.length === 0) io.out(`- ${unit.path}: no tests\n`);
    else if (bad.length === 0) io.out(`✓ ${unit.path}: ${ok} passed\n`);
    else {
      io.out(`✗ ${unit.path}: ${ok} passed, ${bad.length} failed\n`);
      for (const result of bad) {
        const where = result.location?.file
          ? `${result.location.file}:${result.location.row ?? 0}: `
          : '';
        const error = typeof result.error === 'string' ? result.error : result.error?.message;
        io.out(
          `    ${where}${result.package ?? ''}.${result.name ?? ''}${error ? `: ${error}` : ' failed'}\n`,
        );
      }
    }
  });
  io.out(
    `policy tests ${failed === 0 ? 'ok' : 'FAILED'} (${units.length} unit${units.length === 1 ? '' : 's'}): ${passed} passed, ${failed} failed\n`,
  );
  return failed === 0 ? 0 : 1;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
}

function describeFailure(error: unknown): string {
  if (error instanceof PolicyError && error.problems.length > 0) {
    const lines = error.problems.map((p) => `${p.file}:${p.line}: ${p.kind}: ${p.text}`);
    if (error.builtins.length > 0) {
      lines.push(`not available to Wasm policies in mandate: ${error.builtins.join(', ')}`);
    }
    return lines.join('\n');
  }
  return describeThrown(error);
}

async function snapshotOrFail(
  dir: string,
  unit: Unit,
): Promise<{ snapshot?: UnitSnapshot; error?: unknown }> {
  try {
    const snapshot = await readUnitSnapshot(dir, unit.kind, unit.tenant);
    mergeDataFiles(snapshot.id, snapshot.dataFiles);
    return { snapshot };
  } catch (error) {
    return { error };
  }
}

async function check(
  values: PolicyFlags,
  positional: string | undefined,
  io: PolicyIo,
): Promise<number> {
  const dir = policyDir(positional, io.env);
  const units = await unitsOf(dir, values.tenant);
  const compiler = await createUnitCompiler(
    io.env['MANDATE_OPA_PATH'] ? { opaPath: io.env['MANDATE_OPA_PATH'] } : {},
  );
  if (values['write-capabilities'] !== undefined) {
    const target = resolve(values['write-capabilities']);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, await readFile(compiler.capabilities.path));
    io.err(`capabilities written to ${target}\n`);
  }
  let failures = 0;
  const snapshots = await Promise.all(units.map((unit) => snapshotOrFail(dir, unit)));
  const ready: UnitSnapshot[] = [];
  units.forEach((unit, index) => {
    const { snapshot, error } = snapshots[index]!;
    if (snapshot === undefined) {
      failures++;
      io.out(`✗ ${unit.path}\n${indent(describeFailure(error))}\n`);
    } else ready.push(snapshot);
  });
  // Tenants compile in packs (fast); a unit that fails is compiled alone for its own messages.
  const base = ready.filter((s) => s.kind === 'base');
  const tenants = ready.filter((s) => s.kind === 'tenant');
  const outcome = new Map<string, unknown>();
  for (const snapshot of base) {
    await compiler.compileSolo(snapshot).then(
      () => outcome.set(snapshot.id, undefined),
      (error: unknown) => outcome.set(snapshot.id, error),
    );
  }
  const chunks: UnitSnapshot[][] = [];
  for (let i = 0; i < tenants.length; i += 32) chunks.push(tenants.slice(i, i + 32));
  const packs = await mapSettledLimited(chunks, 2, (chunk) => compiler.compilePack(chunk));
  packs.forEach((settled, index) => {
    if (settled.status === 'rejected') throw settled.reason;
    for (const snapshot of chunks[index]!)
      outcome.set(snapshot.id, settled.value.failures.get(snapshot.id));
  });
  for (const snapshot of ready) {
    const error = outcome.get(snapshot.id);
    if (error === undefined) io.out(`✓ ${snapshot.path}\n`);
    else {
      failures++;
      io.out(`✗ ${snapshot.path}\n${indent(describeFailure(error))}\n`);
    }
  }
  io.out(
    `policy check ${failures === 0 ? 'ok' : 'FAILED'}: ${units.length - failures} of ${units.length} unit(s) compile (opa ${compiler.opaVersion}, mandate's runtime builtins)\n`,
  );
  return failures === 0 ? 0 : 1;
}

async function fmt(
  values: PolicyFlags,
  positional: string | undefined,
  io: PolicyIo,
): Promise<number> {
  const dir = policyDir(positional, io.env);
  const opa = createOpaCli(
    io.env['MANDATE_OPA_PATH'] ? { opaPath: io.env['MANDATE_OPA_PATH'] } : {},
  );
  const listed = await opa.run(['fmt', '--list', '.'], { cwd: dir });
  if (listed.code !== 0) {
    io.err(`${listed.stdout}${listed.stderr}`);
    return 1;
  }
  const files = listed.stdout.split('\n').filter((line) => line.trim() !== '');
  if (files.length === 0) {
    io.out('policy fmt: every file is formatted\n');
    return 0;
  }
  if (values.check) {
    for (const file of files) io.out(`needs formatting: ${relative(dir, resolve(dir, file))}\n`);
    return 1;
  }
  const written = await opa.run(['fmt', '--write', ...files], { cwd: dir });
  if (written.code !== 0) {
    io.err(`${written.stdout}${written.stderr}`);
    return 1;
  }
  for (const file of files) io.out(`formatted ${relative(dir, resolve(dir, file))}\n`);
  return 0;
}

async function build(
  values: PolicyFlags,
  positional: string | undefined,
  io: PolicyIo,
): Promise<number> {
  if (values.out === undefined) throw new UsageError(`-o OUT is required\n\n${POLICY_USAGE}`);
  const dir = policyDir(positional, io.env);
  const out = resolve(values.out);
  const units = await unitsOf(dir, values.tenant);
  let signer: BundleSigner | undefined;
  if (values['signing-key'] !== undefined) {
    // Never undefined: program.ts declares the default.
    const algorithm = values['signing-alg'] as string;
    const key = algorithm.startsWith('HS')
      ? values['signing-key']
      : await readFile(resolve(values['signing-key']), 'utf8').catch(() => {
          throw new UsageError(`--signing-key: cannot read ${values['signing-key']}`);
        });
    signer = {
      key,
      algorithm,
      keyId: values['signing-keyid'] as string,
      ...(values.scope !== undefined && { scope: values.scope }),
    };
  }
  const compiler = await createUnitCompiler(
    io.env['MANDATE_OPA_PATH'] ? { opaPath: io.env['MANDATE_OPA_PATH'] } : {},
  );
  let failures = 0;
  const results = await mapSettledLimited(units, 2, async (unit) => {
    const snapshot = await readUnitSnapshot(dir, unit.kind, unit.tenant);
    const bundle = await buildUnitBundle(compiler, snapshot, {
      ...(values.revision !== undefined && { revision: values.revision }),
      ...(signer !== undefined && { signer }),
    });
    const target = join(out, `${unit.path}.tar.gz`);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, bundle.bytes);
    return { target, revision: bundle.revision };
  });
  units.forEach((unit, index) => {
    const settled = results[index]!;
    if (settled.status === 'fulfilled') {
      io.out(
        `✓ ${relative(process.cwd(), settled.value.target) || settled.value.target} (revision ${settled.value.revision}${signer ? ', signed' : ''})\n`,
      );
    } else {
      failures++;
      io.out(`✗ ${unit.path}\n${indent(describeFailure(settled.reason))}\n`);
    }
  });
  return failures === 0 ? 0 : 1;
}

/** Runs `mandate policy <sub> ...`; returns the exit code. */
export async function policyCommand(
  sub: 'test' | 'check' | 'fmt' | 'build',
  dir: string | undefined,
  values: PolicyFlags,
  io: PolicyIo,
): Promise<number> {
  const run = { test, check, fmt, build }[sub];
  return run(values, dir, io);
}
