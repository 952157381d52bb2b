// Runs the official MCP conformance suite's server scenarios (installed by scripts/ensure-mcp-conformance.mjs) against an MCP server, directly and through mandate proxy, and compares the checks.
import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startBearerShim } from './bearer-shim.js';
import { freePort, startMcpProxyUnderTest } from './mcp-proxy.js';
import { POLICIES_DIR } from './sidecar.js';

const ROOT = resolve(import.meta.dirname, '../..');
/** The suite needs Node >= 22; mandate supports Node 20, so it runs on the Node 24 in .tools/. */
const NODE24 = join(ROOT, '.tools/node24/bin/node');
const CONFORMANCE = join(
  ROOT,
  '.tools/mcp-conformance/node_modules/@modelcontextprotocol/conformance/dist/index.js',
);

/** One check of one scenario, as the suite writes it to checks.json. */
export interface Check {
  readonly id: string;
  readonly status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | 'SKIPPED';
  readonly errorMessage?: string;
}

/** Checks by scenario. */
export type Results = Map<string, Check[]>;

/** The checks a scenario wrote; one that wrote none (the run was cut off) counts as one failed check. */
function checksIn(dir: string): Check[] {
  try {
    return JSON.parse(readFileSync(join(dir, 'checks.json'), 'utf8')) as Check[];
  } catch {
    return [
      { id: 'checks-written', status: 'FAILURE', errorMessage: 'the scenario wrote no checks' },
    ];
  }
}

/**
 * Runs every server scenario (`--suite all`) against `url` and reads the checks each wrote. A run
 * past `timeoutMs` is killed: the scenarios it finished still count, the one it was in fails.
 */
export function runSuite(url: string, timeoutMs = 90_000): Promise<Results> {
  for (const needed of [NODE24, CONFORMANCE]) {
    if (!existsSync(needed)) {
      const why = `${needed} is missing: run \`node scripts/ensure-mcp-conformance.mjs\` (npm test's pretest does)`;
      return Promise.reject(new Error(why));
    }
  }
  const outDir = mkdtempSync(join(tmpdir(), 'mandate-conformance-'));
  return new Promise((done, fail) => {
    execFile(
      NODE24,
      [CONFORMANCE, 'server', '--suite', 'all', '--url', url, '--output-dir', outDir],
      { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (error) => {
        // The suite exits 1 when any scenario fails; only a run that wrote nothing is an error.
        const results: Results = new Map();
        for (const dir of readdirSync(outDir)) {
          const scenario = dir.replace(/^server-/, '').replace(/-\d{4}-\d\d-\d\dT[\d-]+Z$/, '');
          results.set(scenario, checksIn(join(outDir, dir)));
        }
        if (results.size === 0) fail(error ?? new Error(`the suite wrote nothing for ${url}`));
        else done(results);
      },
    );
  });
}

/** Whether any check of a scenario failed. */
export function failed(checks: readonly Check[] | undefined): boolean {
  return checks === undefined || checks.some((c) => c.status === 'FAILURE');
}

/** Scenarios with a failed check. */
export function failingScenarios(results: Results): string[] {
  return [...results].filter(([, checks]) => failed(checks)).map(([scenario]) => scenario);
}

/**
 * `scenario: check …` for each check worse through the proxy than directly: a check that did not
 * fail directly must not fail (or go missing) through the proxy, and a success must stay one.
 */
export function regressions(direct: Results, proxied: Results): string[] {
  const worse: string[] = [];
  for (const [scenario, checks] of direct) {
    const through = proxied.get(scenario) ?? [];
    for (const check of checks) {
      if (check.status === 'FAILURE') continue;
      const other = through.find((c) => c.id === check.id);
      const regressed =
        other === undefined ||
        other.status === 'FAILURE' ||
        (check.status === 'SUCCESS' && other.status !== 'SUCCESS');
      if (regressed) {
        worse.push(
          `${scenario}: ${check.id} ${check.status} directly, ${other?.status ?? 'missing'} through the proxy` +
            (other?.errorMessage ? ` (${other.errorMessage})` : ''),
        );
      }
    }
  }
  return worse;
}

/** The tenant of the suite's token, whose policy allows every MCP message. */
export const CONFORMANCE_TENANT = 'conformance';

/** The base policy and a tenant that allows every MCP message (the base still asks for its scopes). */
export function allowAllPolicies(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-conformance-policies-'));
  cpSync(join(POLICIES_DIR, 'base'), join(dir, 'base'), { recursive: true });
  mkdirSync(join(dir, 'tenants', CONFORMANCE_TENANT), { recursive: true });
  writeFileSync(
    join(dir, 'tenants', CONFORMANCE_TENANT, 'decision.rego'),
    'package mandate.tenant\n\ndecision := {"allow": true, "reasons": []}\n',
  );
  return dir;
}

export interface Comparison {
  readonly direct: Results;
  readonly proxied: Results;
}

/**
 * Runs the suite against `upstream` directly, then through mandate proxy in front of it. The suite
 * sends no token, so it reaches the proxy through a shim that adds one (scopes mcp.tools,
 * mcp.resources, mcp.prompts, for a tenant whose policy allows everything); the shim passes Host
 * and Origin on as the suite sent them, and the proxy allows the shim's name as a gateway's.
 */
export async function compareThroughProxy(upstream: string): Promise<Comparison> {
  const direct = await runSuite(upstream);
  const port = await freePort();
  let token = '';
  const shim = await startBearerShim(`http://127.0.0.1:${port}`, () => token);
  const target = await startMcpProxyUnderTest({
    upstream,
    port,
    policiesDir: allowAllPolicies(),
    mcpYaml: `  allowed_hosts: ["${shim.host}"]\n  allowed_origins: ["${shim.url}"]\n`,
  });
  try {
    token = await target.token('mcp.tools mcp.resources mcp.prompts', {
      claims: {
        tenant: CONFORMANCE_TENANT,
        sub: 'conformance-user',
        client_id: 'conformance',
        act: undefined,
      },
    });
    return { direct, proxied: await runSuite(`${shim.url}/mcp`) };
  } finally {
    await shim.close();
    await target.stop();
  }
}
