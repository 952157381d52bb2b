// The built `mandate` command's help, version, unknown flags and shell completion, for every command of the declared tree.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { createProgram } from '../../src/cli/program.js';

const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'dist/cli/main.js');

function cli(args: string[]) {
  return spawnSync(process.execPath, [MAIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
}

/** Every flag each command took before it had --help: none may be lost. */
const FLAGS: Record<string, string[]> = {
  serve: ['--config'],
  proxy: ['--config'],
  'token mint': [
    '--client',
    '--sub',
    '--tenant',
    '--scope',
    '--ttl',
    '--act',
    '--audience',
    '--config',
  ],
  'audit tail': [
    '--tenant',
    '--sub',
    '--client-id',
    '--agent',
    '--action',
    '--allow',
    '--reason',
    '--type',
    '--decision-id',
    '--since',
    '--until',
    '--limit',
    '--follow',
    '-f',
    '--interval',
    '--json',
    '--admin-url',
    '--admin-token',
    '--admin-token-file',
  ],
  revoke: [
    '--jti',
    '--grant',
    '--sub',
    '--client',
    '--actor',
    '--whole-tenant',
    '--tenant',
    '--before',
    '--absolute',
    '--reason',
    '--admin-url',
    '--admin-token',
    '--admin-token-file',
  ],
  'revocations list': [
    '--tenant',
    '--kind',
    '--limit',
    '--json',
    '--admin-url',
    '--admin-token',
    '--admin-token-file',
  ],
  'revocations delete': ['--admin-url', '--admin-token', '--admin-token-file'],
  'policy test': ['--tenant'],
  'policy check': ['--tenant', '--write-capabilities'],
  'policy fmt': ['--check'],
  'policy build': [
    '-o',
    '--out',
    '--tenant',
    '--revision',
    '--signing-key',
    '--signing-alg',
    '--signing-keyid',
    '--scope',
  ],
  check: [
    '--token',
    '--action',
    '--resource',
    '--tenant',
    '--context',
    '--policies',
    '--bundles',
    '--explain',
    '--json',
    '--config',
  ],
  'dev-as': ['--host', '--port', '--issuer', '--state-dir'],
};

/** Every command path of the declared tree with its flags, as commander holds them. */
function declared(command: Command, path: string[] = []): { path: string[]; flags: string[] }[] {
  const flags = command.options.flatMap((o) => [o.short, o.long].filter((f) => f !== undefined));
  return [
    { path, flags },
    ...command.commands.flatMap((sub) => declared(sub, [...path, sub.name()])),
  ];
}

const tree = declared(createProgram({ env: {}, out: () => {}, err: () => {} }, { code: 0 }));

describe('mandate --help', () => {
  it('the declared tree keeps every flag the commands had', () => {
    for (const [path, flags] of Object.entries(FLAGS)) {
      const node = tree.find((n) => n.path.join(' ') === path);
      expect(node, path).toBeDefined();
      expect(node?.flags, path).toEqual(expect.arrayContaining(flags));
    }
  });

  it.each(tree.map((n) => [n.path.join(' ') || '(top level)', n] as const))(
    '%s --help exits 0 and lists every flag',
    (_name, node) => {
      const run = cli([...node.path, '--help']);
      expect(run.status).toBe(0);
      expect(run.stdout).toContain(`Usage: mandate${node.path.map((p) => ` ${p}`).join('')}`);
      for (const flag of [...node.flags, ...(FLAGS[node.path.join(' ')] ?? [])]) {
        expect(run.stdout).toMatch(new RegExp(`(^|[ ,])${flag}\\b`, 'm'));
      }
    },
  );

  it('with no command prints the overview and exits 0', () => {
    const run = cli([]);
    expect(run.status).toBe(0);
    for (const command of [
      'serve',
      'token',
      'check',
      'policy',
      'dev-as',
      'completion',
      'version',
    ]) {
      expect(run.stdout).toContain(command);
    }
  });
});

describe('usage mistakes', () => {
  it.each([['check'], ['token', 'mint'], ['policy', 'build'], ['revoke'], ['audit', 'tail']])(
    '%s with an unknown flag exits 2 naming the flag',
    (...path) => {
      const run = cli([...path, '--frobnicate']);
      expect(run.status).toBe(2);
      expect(run.stderr).toContain("unknown option '--frobnicate'");
    },
  );

  it('a flag without its value exits 2 naming the flag', () => {
    const run = cli(['check', '--token']);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--token');
  });
});

describe('mandate --version / version', () => {
  it("prints package.json's version", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const args of [['--version'], ['version']]) {
      const run = cli(args);
      expect(run.status).toBe(0);
      expect(run.stdout.trim()).toBe(pkg.version);
    }
  });
});

describe('mandate completion', () => {
  /** What bash completes after `words` (the last one being typed), with the generated script loaded. */
  let script: string | undefined;
  function complete(words: string[]): string[] {
    script ??= cli(['completion', 'bash']).stdout;
    const run = spawnSync(
      'bash',
      [
        '-c',
        `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _mandate; printf '%s\\n' "\${COMPREPLY[@]}"`,
      ],
      { encoding: 'utf8' },
    );
    expect(run.stderr).toBe('');
    return run.stdout.split('\n').filter((w) => w !== '');
  }

  it('bash completes every command and every flag of the tree', { timeout: 120_000 }, () => {
    const top = tree.filter((n) => n.path.length === 1).map((n) => n.path[0]);
    expect(complete(['mandate', ''])).toEqual(expect.arrayContaining([...top, 'help']));
    for (const node of tree.filter((n) => n.path.length > 0)) {
      const offered = complete(['mandate', ...node.path, '-']);
      expect(offered, node.path.join(' ')).toEqual(expect.arrayContaining(node.flags));
    }
    expect(complete(['mandate', 'policy', ''])).toEqual(['test', 'check', 'fmt', 'build']);
    expect(complete(['mandate', 'check', '--tenant', 'acme', '--ex'])).toEqual(['--explain']);
  });

  it('zsh gets a compdef script with the same commands', () => {
    const run = cli(['completion', 'zsh']);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^#compdef mandate/);
    for (const node of tree.filter((n) => n.path.length === 1)) {
      expect(run.stdout).toContain(node.path[0]);
    }
    expect(cli(['completion', 'fish']).status).toBe(2);
  });
});
