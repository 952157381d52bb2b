// `mandate check`: one decision through the pipeline `serve` composes, locally, against a policy directory or built bundles.
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { checkLocally } from '../compose/local-check.js';
import type { BundleSourceConfig } from '../config/policies.js';
import type { MandateConfig } from '../config/types.js';
import type { PolicyOutcome } from '../policy/types.js';
import { UsageError } from './usage-error.js';

export const CHECK_USAGE = `usage: mandate check --token T --action A [--resource TYPE[:ID]] [--tenant T]
                     [--context JSON] [--policies DIR | --bundles DIR] [--explain] [--json] [--config FILE]
  Decides locally with the configured issuers and the policies in DIR (default: the config's
  policies.dir) or the bundles \`mandate policy build\` wrote. Exit 0 allow, 3 deny, 1 error, 2 usage.`;

export interface CheckIo {
  out(text: string): void;
  err(text: string): void;
}

/** The bundles under `dir` as `mandate policy build` lays them out: base.tar.gz, tenants/<id>.tar.gz. */
async function bundlesIn(dir: string): Promise<BundleSourceConfig[]> {
  const sources: BundleSourceConfig[] = [];
  const entries = await readdir(dir).catch(() => {
    throw new UsageError(`--bundles: cannot read ${dir}`);
  });
  if (entries.includes('base.tar.gz')) {
    sources.push({ unit: 'base', source: 'file', path: join(dir, 'base.tar.gz') });
  }
  const tenants = await readdir(join(dir, 'tenants')).catch(() => [] as string[]);
  for (const file of tenants) {
    const tenant = /^(.+)\.tar\.gz$/.exec(file)?.[1];
    if (tenant !== undefined) {
      sources.push({
        unit: `tenants/${tenant}`,
        tenant,
        source: 'file',
        path: join(dir, 'tenants', file),
      });
    }
  }
  if (sources.length === 0)
    throw new UsageError(`--bundles: no base.tar.gz or tenants/*.tar.gz in ${dir}`);
  return sources;
}

function parseResource(text: string | undefined) {
  if (text === undefined) return undefined;
  const colon = text.indexOf(':');
  return colon === -1 ? { type: text } : { type: text.slice(0, colon), id: text.slice(colon + 1) };
}

function layerLines(name: string, layer: PolicyOutcome['base'] | undefined): string[] {
  if (layer === undefined) return [`  ${name}: not evaluated`];
  return [
    `  ${name}: ${layer.allow ? 'allow' : 'deny'} (revision ${layer.revision}, ${(layer.evalNs / 1000).toFixed(1)} µs)`,
    ...layer.reasons.map((r) => `    ${r.code}: ${r.message}`),
  ];
}

/** `mandate check`'s flags, as declared in program.ts. */
export interface CheckFlags {
  readonly token?: string;
  readonly action?: string;
  readonly resource?: string;
  readonly tenant?: string;
  readonly context?: string;
  readonly policies?: string;
  readonly bundles?: string;
  readonly explain?: boolean;
  readonly json?: boolean;
}

/** The --explain layers in JSON: snake_case like the rest of the answer. */
function layersToWire(layers: PolicyOutcome | undefined) {
  if (layers === undefined) return undefined;
  const wire = (layer: PolicyOutcome['base'] | undefined) =>
    layer === undefined
      ? undefined
      : {
          allow: layer.allow,
          reasons: layer.reasons,
          revision: layer.revision,
          eval_ns: layer.evalNs,
          ...(layer.failed && { failed: true }),
        };
  return {
    allow: layers.allow,
    decided_by: layers.decidedBy,
    reasons: layers.reasons,
    base: wire(layers.base),
    tenant: wire(layers.tenant),
  };
}

/** Runs the check; returns the exit code. `config` is the resolved configuration. */
export async function checkCommand(
  values: CheckFlags,
  config: MandateConfig,
  io: CheckIo,
): Promise<number> {
  if (values.token === undefined || values.action === undefined) {
    throw new UsageError(`--token and --action are required\n\n${CHECK_USAGE}`);
  }
  if (values.policies !== undefined && values.bundles !== undefined) {
    throw new UsageError('--policies and --bundles exclude each other');
  }
  let context: Record<string, unknown> | undefined;
  if (values.context !== undefined) {
    try {
      context = JSON.parse(values.context) as Record<string, unknown>;
    } catch {
      throw new UsageError('--context must be a JSON object');
    }
    if (typeof context !== 'object' || context === null || Array.isArray(context)) {
      throw new UsageError('--context must be a JSON object');
    }
  }

  const policies = {
    ...config.policies,
    watch: false,
    ...(values.policies !== undefined && { dir: resolve(values.policies), bundles: [] }),
    ...(values.bundles !== undefined && { bundles: await bundlesIn(resolve(values.bundles)) }),
  };
  const resource = parseResource(values.resource);
  // The pipeline `serve` runs (revocations from the configured store, the compatibility policy),
  // without listeners; its operational log stays quiet, the answer is what this command prints.
  const { decision, record, layers } = await checkLocally(
    { ...config, policies },
    pino({ level: 'silent' }),
    {
      token: values.token,
      action: values.action,
      ...(resource !== undefined && { resource }),
      ...(values.tenant !== undefined && { tenant: values.tenant }),
      ...(context !== undefined && { context }),
    },
    { explain: values.explain === true },
  );
  if (values.json) {
    io.out(
      `${JSON.stringify(
        {
          allow: decision.allow,
          reasons: decision.reasons,
          ...(decision.decidedBy !== undefined && { decided_by: decision.decidedBy }),
          ...(decision.subject !== undefined && { subject: decision.subject }),
          ...(record?.policy !== undefined && { policy: record.policy }),
          ...(values.explain && { input: record?.input, layers: layersToWire(layers) }),
        },
        null,
        2,
      )}\n`,
    );
  } else {
    const by = decision.decidedBy === undefined ? '' : ` (decided by ${decision.decidedBy})`;
    const lines = [`${decision.allow ? 'ALLOW' : 'DENY'}${by}`];
    for (const reason of decision.reasons) lines.push(`  ${reason.code}: ${reason.message}`);
    if (record?.policy !== undefined) {
      lines.push(
        `  policy: base ${record.policy.base ?? '-'}${
          record.policy.tenant !== undefined
            ? `, tenant ${record.policy.tenant}`
            : decision.decidedBy === 'base' && !decision.allow
              ? ' (tenant not evaluated: base denied)'
              : ', no tenant policy'
        }`,
      );
    }
    if (values.explain) {
      lines.push(
        'input:',
        ...JSON.stringify(record?.input ?? {}, null, 2)
          .split('\n')
          .map((l) => `  ${l}`),
      );
      if (layers !== undefined) {
        lines.push(
          'layers:',
          ...layerLines('base', layers.base),
          ...layerLines('tenant', layers.tenant),
        );
      }
    }
    io.out(`${lines.join('\n')}\n`);
  }
  return decision.allow ? 0 : 3;
}
