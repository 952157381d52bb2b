#!/usr/bin/env node
// The `mandate` command: serve, token mint, version. A composition root for the CLI.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/errors.js';
import { AUDIT_TAIL_USAGE, auditTail } from './audit-tail.js';
import { checkCommand } from './check.js';
import { resolveConfig } from './config-source.js';
import { devAs } from './dev-as.js';
import { policyCommand } from './policy.js';
import { revocations, revoke } from './revoke.js';
import { serve } from './serve.js';
import { tokenMint } from './token-mint.js';
import { UsageError } from './usage-error.js';

const HELP = `mandate — authorization sidecar for delegated agent access

Usage:
  mandate serve [--config mandate.yaml]      run the sidecar (no config: dev mode)
  mandate token mint --client ID [--sub S] [--tenant T] [--scope "a b"] [--ttl 10m] [--act A]...
                                             print a dev-issuer access token
  mandate audit tail [--tenant T] [--agent A] [--action A] [--allow false] [--since T] [--follow]
                                             recent audit records from a running sidecar's admin API
  mandate revoke (--jti J | --grant G | --sub S | --client C | --actor A | --whole-tenant)
                 [--tenant T] [--before TIME] [--absolute] [--reason TEXT]
                                             revoke tokens through the admin API
  mandate revocations list [--tenant T] [--kind K] | mandate revocations delete ID
                                             list revocations, or undo one
  mandate policy test|check|fmt|build [dir] ...
                                             author policies: Rego tests, compile with mandate's builtins, opa fmt, bundles
  mandate check --token T --action A [--resource TYPE[:ID]] [--tenant T] [--explain] [--policies DIR | --bundles DIR]
                                             one decision, locally, without a running sidecar
  mandate dev-as [--port 9400] [--host H] [--issuer URL] [--state-dir D]
                                             run the DEVELOPMENT authorization server (never in production)
  mandate version                            print the version

Environment: MANDATE_CONFIG (config file), overrides documented in the README.`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve': {
      const { values } = parseArgs({
        args: rest,
        options: { config: { type: 'string' } },
        strict: true,
      });
      await serve(resolveConfig(values.config, process.env));
      return -1;
    }
    case 'token': {
      const [sub, ...args] = rest;
      if (sub !== 'mint') throw new UsageError('usage: mandate token mint --client ID ...');
      const { values, tokens } = parseArgs({
        args,
        options: { config: { type: 'string' } },
        strict: false,
        tokens: true,
      });
      // Drop `--config PATH` / `--config=PATH` so token mint sees only its own flags.
      const skip = new Set<number>();
      for (const t of tokens) {
        if (t.kind !== 'option' || t.name !== 'config') continue;
        skip.add(t.index);
        if (t.inlineValue === false) skip.add(t.index + 1);
      }
      const remaining = args.filter((_a, i) => !skip.has(i));
      const config = resolveConfig(
        typeof values.config === 'string' ? values.config : undefined,
        process.env,
      );
      process.stdout.write(`${await tokenMint(config, remaining)}\n`);
      return 0;
    }
    case 'audit': {
      const [sub, ...args] = rest;
      if (sub !== 'tail') throw new UsageError(AUDIT_TAIL_USAGE);
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      return auditTail(args, {
        env: process.env,
        out: (text) => process.stdout.write(text),
        err: (text) => process.stderr.write(text),
        signal: stop.signal,
      });
    }
    case 'revoke':
      process.stdout.write(`${await revoke(rest, process.env)}\n`);
      return 0;
    case 'revocations':
      process.stdout.write(`${await revocations(rest, process.env)}\n`);
      return 0;
    case 'dev-as': {
      const server = await devAs(rest, {
        env: process.env,
        err: (text) => process.stderr.write(text),
      });
      const onSignal = () => {
        server.stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      return -1;
    }
    case 'policy':
      return policyCommand(rest, {
        env: process.env,
        out: (text) => process.stdout.write(text),
        err: (text) => process.stderr.write(text),
      });
    case 'check': {
      const { values } = parseArgs({
        args: rest,
        options: { config: { type: 'string' } },
        strict: false,
      });
      const config = resolveConfig(
        typeof values.config === 'string' ? values.config : undefined,
        process.env,
      );
      return checkCommand(rest, config, {
        out: (text) => process.stdout.write(text),
        err: (text) => process.stderr.write(text),
      });
    }
    case 'version':
    case '--version':
      process.stdout.write(`${version()}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${HELP}\n`);
      return 0;
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}\n\n${HELP}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ConfigError || err instanceof UsageError) {
      process.stderr.write(`mandate: ${err.message}\n`);
      process.exitCode = 2;
    } else if (
      err instanceof TypeError &&
      (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      process.stderr.write(`mandate: ${err.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`mandate: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
