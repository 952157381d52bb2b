// Evaluates one batch of builtin calls with the real `opa eval` (topdown) and with mandate's Wasm plus host builtins.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { createDecisionClock } from '../../../src/policy/builtins.js';
import { createHostBuiltins } from '../../../src/policy/builtins/index.js';
import { createOpaCli } from '../../../src/policy/opa-cli.js';
import { readWasmBundle } from '../../../src/policy/wasm-bundle.js';

const run = promisify(execFile);

/** One call: the builtin's name and its arguments (JSON). */
export interface BuiltinCase {
  readonly fn: string;
  readonly args: readonly unknown[];
  /** What the case is about, shown when the two evaluators disagree. */
  readonly note: string;
}

/** What a call gave: a value, or undefined (OPA's non-strict answer to a builtin error). */
export type CallResult = { readonly value: unknown } | { readonly undefined: true };

/**
 * Rego with one rule per builtin, each answering the cases naming it; a case whose call is undefined
 * is reported as such. The builtin is called with the case's arguments, so types are only known at
 * run time, as with an input document.
 */
export function differentialRego(arities: ReadonlyMap<string, number>): string {
  const rules = [...arities].map(([fn, arity]) => {
    const args = Array.from({ length: arity }, (_, i) => `c.args[${i}]`).join(', ');
    // A random UUID differs between the two evaluators: compare its shape and its repetition instead.
    const value =
      fn === 'uuid.rfc4122'
        ? `[regex.match("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", ${fn}(${args})), ${fn}(${args}) == ${fn}(${args}), ${fn}(${args}) == ${fn}("a key of no other case")]`
        : `${fn}(${args})`;
    return `out[i] := {"value": x} if {\n\tsome i, c in input.cases\n\tc.fn == ${JSON.stringify(fn)}\n\tx := ${value}\n}`;
  });
  return `package diff\n\n${rules.join('\n\n')}\n\nresults := [r | some i, _ in input.cases; r := object.get(out, i, {"undefined": true})]\n`;
}

/** Runs every case through both evaluators; `nowNs` is the time both see for `time.now_ns`. */
export async function runBoth(
  cases: readonly BuiltinCase[],
  nowNs: bigint,
): Promise<{ opa: CallResult[]; mandate: CallResult[] }> {
  const arities = new Map<string, number>();
  for (const c of cases) arities.set(c.fn, c.args.length);
  const dir = await mkdtemp(join(tmpdir(), 'mandate-differential-'));
  try {
    await writeFile(join(dir, 'diff.rego'), differentialRego(arities));
    const input = JSON.stringify({ cases: cases.map(({ fn, args }) => ({ fn, args })) });
    await writeFile(join(dir, 'input.json'), input);
    const opa = createOpaCli();
    const evaluated = await run(
      opa.path,
      ['eval', '--format', 'json', '-d', 'diff.rego', '-i', 'input.json', 'data.diff.results'],
      { cwd: dir, maxBuffer: 64 * 1024 * 1024 },
    );
    const doc = JSON.parse(evaluated.stdout) as {
      result: { expressions: { value: CallResult[] }[] }[];
    };
    const fromOpa = doc.result[0]!.expressions[0]!.value;

    const bundle = await readWasmBundle(
      await opa.build({
        cwd: dir,
        paths: ['diff.rego'],
        entrypoints: ['diff/results'],
        unit: 'diff',
      }),
      'diff',
    );
    const clock = createDecisionClock(() => nowNs);
    const policy = await loadPolicy(bundle.wasm, undefined, {
      ...clock.builtins,
      ...createHostBuiltins({ nowNs: clock.nowNs, decision: clock.decision }),
    });
    clock.begin();
    const resultSet = policy.evaluate(JSON.parse(input)) as { result: CallResult[] }[];
    return { opa: fromOpa, mandate: resultSet[0]!.result };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
