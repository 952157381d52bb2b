// The official MCP conformance suite's server scenarios, directly and through mandate proxy, against server-everything and against a server with the suite's own fixtures: whatever passes directly must pass through the proxy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startConformanceUpstream,
  type ConformanceUpstream,
} from '../../helpers/conformance-upstream.js';
import {
  compareThroughProxy,
  failed,
  failingScenarios,
  regressions,
  type Comparison,
} from '../../helpers/mcp-conformance.js';
import { startServerEverything, type ServerEverything } from '../../helpers/server-everything.js';

/** Every server scenario of the pinned suite (`conformance list`, with --suite all). */
const SCENARIO_COUNT = 32;

/**
 * Scenarios server-everything fails on its own, and why. The suite's scenarios call the fixtures
 * of the suite's own reference server (tools named `test_*`, resources `test://…`), which
 * server-everything does not have (the fixtures server below has them); nor does it check Host.
 */
const FAILING_ON_SERVER_EVERYTHING: Readonly<Record<string, string>> = {
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

/** Prints the counts the report asks for, and checks nothing got worse through the proxy. */
function expectNoRegressions(name: string, { direct, proxied }: Comparison) {
  const passing = [...direct.keys()].filter((s) => !failed(direct.get(s)));
  const through = passing.filter((s) => !failed(proxied.get(s)));
  console.log(
    `MCP conformance, ${name}: ${passing.length}/${direct.size} scenarios pass directly, ` +
      `${through.length} of them through mandate proxy; ` +
      `${direct.size - failingScenarios(proxied).length}/${direct.size} pass through the proxy`,
  );
  expect(regressions(direct, proxied)).toEqual([]);
}

describe('the MCP conformance suite against server-everything, through mandate proxy', () => {
  let everything: ServerEverything | undefined;
  let results: Comparison;
  beforeAll(async () => {
    everything = await startServerEverything();
    results = await compareThroughProxy(everything.url);
  }, 120_000);
  afterAll(() => {
    everything?.stop();
  });

  it('runs every scenario; server-everything fails only the recorded ones directly', () => {
    expect(results.direct.size).toBe(SCENARIO_COUNT);
    expect(failingScenarios(results.direct).sort()).toEqual(
      Object.keys(FAILING_ON_SERVER_EVERYTHING).sort(),
    );
  });

  it('passes through the proxy every check that passes directly', () => {
    expectNoRegressions('server-everything', results);
  });

  it('passes the DNS rebinding checks through the proxy, which guards Host and Origin itself', () => {
    const checks = results.proxied.get('dns-rebinding-protection') ?? [];
    expect(checks.map((c) => `${c.id} ${c.status}`).sort()).toEqual([
      'localhost-host-rebinding-rejected SUCCESS',
      'localhost-host-valid-accepted SUCCESS',
    ]);
  });
});

describe("the MCP conformance suite against a server with the suite's fixtures, through mandate proxy", () => {
  let fixtures: ConformanceUpstream | undefined;
  let results: Comparison;
  beforeAll(async () => {
    fixtures = await startConformanceUpstream();
    results = await compareThroughProxy(fixtures.url);
  }, 120_000);
  afterAll(async () => {
    await fixtures?.close();
  });

  it('passes every scenario directly', () => {
    expect(results.direct.size).toBe(SCENARIO_COUNT);
    expect(failingScenarios(results.direct)).toEqual([]);
  });

  it('passes through the proxy every check that passes directly', () => {
    expectNoRegressions('fixtures server', results);
  });
});
