// The official MCP conformance suite's server scenarios against server-everything, directly and through mandate proxy: whatever passes directly must pass through the proxy.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBearerShim, type BearerShim } from '../../helpers/bearer-shim.js';
import {
  freePort,
  startMcpProxyUnderTest,
  type McpProxyUnderTest,
} from '../../helpers/mcp-proxy.js';
import { POLICIES_DIR } from '../../helpers/sidecar.js';

const ROOT = resolve(import.meta.dirname, '../../..');
/** Installed by scripts/ensure-mcp-conformance.mjs (npm pretest): the suite needs Node >= 22. */
const NODE24 = join(ROOT, '.tools/node24/bin/node');
const CONFORMANCE = join(
  ROOT,
  '.tools/mcp-conformance/node_modules/@modelcontextprotocol/conformance/dist/index.js',
);
const SERVER_EVERYTHING = join(
  ROOT,
  'node_modules/@modelcontextprotocol/server-everything/dist/index.js',
);

/**
 * Scenarios server-everything fails on its own, and why. The suite's scenarios call fixtures of the
 * suite's own reference server (tools named `test_*`, resources `test://…`) that server-everything
 * does not have; it also has no Host/Origin check. Through the proxy they must fail no worse.
 */
const FAILING_DIRECTLY: Readonly<Record<string, string>> = {
  'completion-complete': 'no prompt test_prompt_with_arguments',
  'prompts-get-simple': 'no prompt test_simple_prompt',
  'prompts-get-with-args': 'no prompt test_prompt_with_arguments',
  'prompts-get-embedded-resource': 'no prompt test_prompt_with_embedded_resource',
  'prompts-get-with-image': 'no prompt test_prompt_with_image',
  'resources-read-text': 'no resource test://static-text',
  'resources-read-binary': 'no resource test://static-binary',
  'resources-templates-read': 'no resource template test://template/{id}/data',
  'tools-call-image': 'no tool test_image_content',
  'tools-call-audio': 'no tool test_audio_content',
  'tools-call-embedded-resource': 'no tool test_embedded_resource',
  'tools-call-mixed-content': 'no tool test_multiple_content_types',
  'tools-call-with-logging': 'no tool test_tool_with_logging',
  'tools-call-with-progress': 'no tool test_tool_with_progress',
  'tools-call-sampling': 'no tool test_sampling',
  'tools-call-elicitation': 'no tool test_elicitation',
  'elicitation-sep1034-defaults': 'no tool test_elicitation_sep1034_defaults',
  'elicitation-sep1330-enums': 'no tool test_elicitation_sep1330_enums',
  'json-schema-2020-12': 'no tool json_schema_2020_12_tool',
  'server-sse-polling': 'no tool test_reconnection',
  'dns-rebinding-protection': 'server-everything accepts any Host and Origin',
};

/** One check of one scenario, as the suite writes it to checks.json. */
interface Check {
  readonly id: string;
  readonly status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | 'SKIPPED';
  readonly errorMessage?: string;
}

/** Checks by scenario. */
type Results = Map<string, Check[]>;

/** Runs every server scenario (`--suite all`) against `url` and reads the checks each wrote. */
function runSuite(url: string, outDir: string): Promise<Results> {
  return new Promise((done, fail) => {
    execFile(
      NODE24,
      [CONFORMANCE, 'server', '--suite', 'all', '--url', url, '--output-dir', outDir],
      { timeout: 90_000, maxBuffer: 16 * 1024 * 1024 },
      (error) => {
        // The suite exits 1 when any scenario fails; only a run that wrote nothing is an error.
        const results: Results = new Map();
        for (const dir of readdirSync(outDir)) {
          const scenario = dir.replace(/^server-/, '').replace(/-\d{4}-\d\d-\d\dT[\d-]+Z$/, '');
          const checks = JSON.parse(readFileSync(join(outDir, dir, 'checks.json'), 'utf8'));
          results.set(scenario, checks as Check[]);
        }
        if (results.size === 0) fail(error ?? new Error(`the suite wrote nothing for ${url}`));
        else done(results);
      },
    );
  });
}

function failed(checks: readonly Check[]): boolean {
  return checks.some((c) => c.status === 'FAILURE');
}

/** server-everything in Streamable HTTP mode on a free port, once it says it listens. */
async function startServerEverything(): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [SERVER_EVERYTHING, 'streamableHttp'], {
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise<void>((ready, fail) => {
    let said = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      said += chunk.toString();
      if (said.includes('listening on port')) ready();
    });
    child.once('exit', (code) => fail(new Error(`server-everything exited (${code}): ${said}`)));
  });
  return { child, url: `http://127.0.0.1:${port}/mcp` };
}

/** The base policy and a tenant that allows every MCP message (the base still asks for its scopes). */
function allowAllPolicies(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-conformance-policies-'));
  cpSync(join(POLICIES_DIR, 'base'), join(dir, 'base'), { recursive: true });
  mkdirSync(join(dir, 'tenants', TENANT), { recursive: true });
  writeFileSync(
    join(dir, 'tenants', TENANT, 'decision.rego'),
    'package mandate.tenant\n\ndecision := {"allow": true, "reasons": []}\n',
  );
  return dir;
}

const TENANT = 'conformance';

let everything: { child: ChildProcess; url: string } | undefined;
let target: McpProxyUnderTest | undefined;
let shim: BearerShim | undefined;
let direct: Results;
let proxied: Results;

beforeAll(async () => {
  everything = await startServerEverything();
  const port = await freePort();
  let token = '';
  shim = await startBearerShim(`http://127.0.0.1:${port}`, () => token);
  // The suite reaches the proxy through the shim, as through a gateway: the shim's name is allowed.
  target = await startMcpProxyUnderTest({
    upstream: everything.url,
    port,
    policiesDir: allowAllPolicies(),
    mcpYaml: `  allowed_hosts: ["${shim.host}"]\n  allowed_origins: ["${shim.url}"]\n`,
  });
  token = await target.token('mcp.tools mcp.resources mcp.prompts', {
    claims: { tenant: TENANT, sub: 'conformance-user', client_id: 'conformance', act: undefined },
  });
  const out = mkdtempSync(join(tmpdir(), 'mandate-conformance-'));
  mkdirSync(join(out, 'direct'));
  mkdirSync(join(out, 'proxy'));
  direct = await runSuite(everything.url, join(out, 'direct'));
  proxied = await runSuite(`${shim.url}/mcp`, join(out, 'proxy'));
}, 150_000);

afterAll(async () => {
  await shim?.close();
  await target?.stop();
  everything?.child.kill();
});

/** `scenario: check STATUS (message)` for each check that is worse through the proxy than directly. */
function regressions(): string[] {
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

describe('the MCP conformance suite (server scenarios) through mandate proxy', () => {
  it('runs every scenario against server-everything, which fails only the recorded ones', () => {
    const failing = [...direct].filter(([, checks]) => failed(checks)).map(([s]) => s);
    expect(direct.size).toBeGreaterThanOrEqual(30);
    expect(failing.sort()).toEqual(Object.keys(FAILING_DIRECTLY).sort());
  });

  it('passes through the proxy every check that passes directly', () => {
    const passing = [...direct].filter(([, checks]) => !failed(checks)).map(([s]) => s);
    const passingThrough = passing.filter(
      (s) => !failed(proxied.get(s) ?? [{ id: '', status: 'FAILURE' }]),
    );
    console.log(
      `MCP conformance: ${passing.length}/${direct.size} scenarios pass directly, ` +
        `${passingThrough.length} of them through the proxy`,
    );
    expect(regressions()).toEqual([]);
  });

  it('passes the DNS rebinding checks through the proxy, which guards Host and Origin itself', () => {
    const checks = proxied.get('dns-rebinding-protection') ?? [];
    expect(checks.map((c) => `${c.id} ${c.status}`).sort()).toEqual([
      'localhost-host-rebinding-rejected SUCCESS',
      'localhost-host-valid-accepted SUCCESS',
    ]);
  });
});
