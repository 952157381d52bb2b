// The `mandate` command tree: every command, argument and flag declared once; commander parses, writes help and feeds completion from it.
import { readFileSync } from 'node:fs';
import { Argument, Command, Option } from 'commander';
import { auditTail, type AuditTailFlags } from './audit-tail.js';
import { checkCommand, type CheckFlags } from './check.js';
import { completionScript } from './completion.js';
import { resolveConfig } from './config-source.js';
import { devAs, type DevAsFlags } from './dev-as.js';
import { policyCommand, type PolicyFlags } from './policy.js';
import { proxy } from './proxy.js';
import { revocations, revoke, type RevocationFlags, type RevokeFlags } from './revoke.js';
import { serve } from './serve.js';
import { tokenMint, type TokenMintFlags } from './token-mint.js';

/** What the commands write to and read from; the process's in main.ts. */
export interface ProgramIo {
  readonly env: NodeJS.ProcessEnv;
  out(text: string): void;
  err(text: string): void;
  /** Aborted on SIGINT/SIGTERM, for commands that run until stopped (audit tail --follow). */
  readonly signal?: AbortSignal;
}

/**
 * The exit code a command's action settled on: 0 ok, 1 runtime failure, 3 refused (`check`), or -1 for
 * a command that keeps running (serve, dev-as) and exits on a signal.
 */
export interface ProgramResult {
  code: number;
}

/** The version in package.json. */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/**
 * The flags commander parsed, keyed by their long names as typed (`state-dir`, not `stateDir`), so
 * the commands read the names the user sees.
 */
function flagsOf<T = Record<string, unknown>>(command: Command): T {
  const parsed = command.opts<Record<string, unknown>>();
  const flags: Record<string, unknown> = {};
  for (const option of command.options) {
    const value = parsed[option.attributeName()];
    if (value !== undefined) flags[option.name()] = value;
  }
  return flags as T;
}

const collect = (value: string, previous: string[] | undefined): string[] => [
  ...(previous ?? []),
  value,
];

const configOption = () =>
  new Option('--config <file>', 'configuration file (else $MANDATE_CONFIG, else dev mode)');

/** --admin-url / --admin-token / --admin-token-file: where the admin API is and how to get in. */
function withAdminTarget(command: Command): Command {
  return command
    .option('--admin-url <url>', 'admin API (else $MANDATE_ADMIN_URL, else http://127.0.0.1:8182)')
    .option('--admin-token <token>', 'admin bearer token (else $MANDATE_ADMIN_TOKEN)')
    .option(
      '--admin-token-file <file>',
      "file holding the admin token (else dev mode's .mandate/admin-token)",
    );
}

/** Builds the command tree. Actions store their exit code in `result`. */
export function createProgram(io: ProgramIo, result: ProgramResult): Command {
  const program = new Command('mandate')
    .description('authorization sidecar for delegated agent access')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.out(text),
      writeErr: (text) => io.err(text),
      outputError: (text, write) => write(`mandate: ${text.replace(/^error: /, '')}`),
    })
    .addHelpText(
      'after',
      '\nEnvironment: MANDATE_CONFIG (config file) and the overrides in docs/configuration.md.\n' +
        'Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration mistake, 3 refused (check).',
    );
  const done = (code: number) => {
    result.code = code;
  };

  program
    .command('serve')
    .description('run the sidecar (no config: dev mode)')
    .addOption(configOption())
    .action(async (_opts, command: Command) => {
      const flags = flagsOf(command);
      await serve(resolveConfig(flags['config'] as string | undefined, io.env));
      done(-1);
    });

  program
    .command('proxy')
    .description(
      'run the proxy in front of the MCP server in mcp.upstream and/or the HTTP service in proxy.upstream',
    )
    .addOption(configOption())
    .action(async (_opts, command: Command) => {
      const flags = flagsOf(command);
      await proxy(resolveConfig(flags['config'] as string | undefined, io.env));
      done(-1);
    });

  const token = program.command('token').description('dev-issuer tokens');
  token
    .command('mint')
    .description("print an access token signed by dev mode's issuer")
    .option('--client <id>', 'the OAuth client_id (required), e.g. agent-1')
    .option('--sub <subject>', 'the user the token is for (default: the client)')
    .option('--tenant <tenant>', 'the tenant claim')
    .option('--scope <scopes>', 'space-separated scopes, e.g. "contacts.read tickets.write"', '')
    .option('--ttl <duration>', 'lifetime, e.g. 90s, 10m, 1h', '10m')
    .option('--act <actor>', 'an actor in the delegation chain (repeat for a chain)', collect)
    .option('--audience <aud>', "audience (default: the dev config's)")
    .addOption(configOption())
    .action(async (_opts, command: Command) => {
      const flags = flagsOf(command);
      const config = resolveConfig(flags['config'] as string | undefined, io.env);
      io.out(`${await tokenMint(config, flagsOf<TokenMintFlags>(command))}\n`);
      done(0);
    });

  addAdminCommands(program, io, done);
  addPolicyCommands(program, io, done);

  program
    .command('check')
    .description('one decision, locally, without a running sidecar (exit 0 allow, 3 deny)')
    .option('--token <jwt>', 'the access token (required)')
    .option('--action <action>', 'the action asked for (required)')
    .option('--resource <type[:id]>', 'the resource, e.g. ticket:T-1')
    .option('--tenant <tenant>', 'the tenant asked for')
    .option('--context <json>', 'request context, a JSON object')
    .option('--policies <dir>', "a policy directory (default: the config's policies.dir)")
    .option('--bundles <dir>', 'bundles `mandate policy build` wrote')
    .option('--explain', 'print the policy input and each layer')
    .option('--json', 'print JSON')
    .addOption(configOption())
    .action(async (_opts, command: Command) => {
      const flags = flagsOf(command);
      const config = resolveConfig(flags['config'] as string | undefined, io.env);
      done(await checkCommand(flagsOf<CheckFlags>(command), config, io));
    });

  program
    .command('dev-as')
    .description('run the DEVELOPMENT authorization server (never in production)')
    .option('--host <host>', 'listen address (else $MANDATE_DEV_AS_HOST, else 127.0.0.1)')
    .option('--port <port>', 'listen port (else $MANDATE_DEV_AS_PORT, else 9400)')
    .option('--issuer <url>', 'issuer URL (else $MANDATE_DEV_AS_ISSUER)')
    .option('--state-dir <dir>', 'where keys are kept (else $MANDATE_STATE_DIR, else .mandate)')
    .action(async (_opts, command: Command) => {
      const server = await devAs(flagsOf<DevAsFlags>(command), io);
      const onSignal = () => {
        server.stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      done(-1);
    });

  program
    .command('completion')
    .description('print a shell completion script (bash: eval "$(mandate completion bash)")')
    .addArgument(new Argument('<shell>', 'the shell').choices(['bash', 'zsh']))
    .action((shell: 'bash' | 'zsh') => {
      io.out(completionScript(program, shell));
      done(0);
    });

  program
    .command('version')
    .description('print the version')
    .action(() => {
      io.out(`${packageVersion()}\n`);
      done(0);
    });

  return program;
}

/** audit tail, revoke and revocations list/delete: commands that talk to a running sidecar's admin API. */
function addAdminCommands(program: Command, io: ProgramIo, done: (code: number) => void): void {
  const audit = program.command('audit').description("a running sidecar's audit records");
  withAdminTarget(
    audit
      .command('tail')
      .description("recent audit records from a running sidecar's admin API")
      .option('--tenant <tenant>', 'only this tenant')
      .option('--sub <subject>', 'only this user')
      .option('--client-id <id>', 'only this client')
      .option('--agent <agent>', 'only this agent (actor)')
      .option('--action <action>', 'only this action, or a prefix*')
      .option('--tool <name>', 'only calls of this MCP tool, or a prefix*')
      .option('--mcp-method <method>', 'only MCP messages of this JSON-RPC method (tools/call, …)')
      .option('--allow <bool>', 'true: allowed only, false: denied only')
      .option('--reason <code>', 'only records with this reason code')
      .option('--type <type>', 'decision, exchange or admin')
      .option('--decision-id <id>', 'one decision')
      .option('--since <time>', 'RFC 3339 lower bound')
      .option('--until <time>', 'RFC 3339 upper bound')
      .option('--limit <n>', 'how many records (default 20)')
      .option('-f, --follow', 'keep printing records as they come')
      .option('--interval <duration>', 'how often --follow polls (default 1s)')
      .option('--json', 'one JSON record a line'),
  ).action(async (_opts, command: Command) => {
    done(await auditTail(flagsOf<AuditTailFlags>(command), io));
  });

  withAdminTarget(
    program
      .command('revoke')
      .description('revoke tokens through the admin API (exactly one of the selectors)')
      .option('--jti <jti>', 'one token')
      .option('--grant <id>', 'every token of a grant')
      .option('--sub <subject>', "a user's tokens (with --tenant)")
      .option('--client <id>', "a client's tokens (with --tenant)")
      .option('--actor <actor>', 'tokens with this actor in their delegation chain')
      .option('--whole-tenant', "every token of --tenant's")
      .option('--tenant <tenant>', 'the tenant the revocation applies to')
      .option('--before <time>', 'issued before this time (RFC 3339 or epoch seconds)')
      .option('--absolute', 'whenever issued (--actor only)')
      .option('--reason <text>', 'why, kept in the audit log'),
  ).action(async (_opts, command: Command) => {
    io.out(`${await revoke(flagsOf<RevokeFlags>(command), io.env)}\n`);
    done(0);
  });

  const revocationsCommand = program
    .command('revocations')
    .description('list revocations, or undo one');
  withAdminTarget(
    revocationsCommand
      .command('list')
      .description('list revocations')
      .option('--tenant <tenant>', 'only this tenant')
      .option('--kind <kind>', 'token, grant, subject, client, actor or tenant')
      .option('--limit <n>', 'how many')
      .option('--json', 'the API answer as JSON'),
  ).action(async (_opts, command: Command) => {
    io.out(`${await revocations('list', [], flagsOf<RevocationFlags>(command), io.env)}\n`);
    done(0);
  });
  withAdminTarget(
    revocationsCommand
      .command('delete')
      .description('undo a revocation')
      .argument('<id>', 'the revocation id'),
  ).action(async (id: string, _opts, command: Command) => {
    io.out(`${await revocations('delete', [id], flagsOf<RevocationFlags>(command), io.env)}\n`);
    done(0);
  });
}

/** policy test/check/fmt/build: authoring commands over a policy directory. */
function addPolicyCommands(program: Command, io: ProgramIo, done: (code: number) => void): void {
  const policy = program
    .command('policy')
    .description("author policies: Rego tests, compile with mandate's builtins, opa fmt, bundles")
    .addHelpText('after', '\n[dir] defaults to $MANDATE_POLICIES_DIR, else ./policies.');
  const policyAction =
    (sub: 'test' | 'check' | 'fmt' | 'build') =>
    async (dir: string | undefined, _opts: unknown, command: Command) => {
      done(await policyCommand(sub, dir, flagsOf<PolicyFlags>(command), io));
    };
  policy
    .command('test')
    .description('run the Rego unit tests (*_test.rego) of base and every tenant')
    .argument('[dir]', 'policy directory')
    .option('--tenant <tenant>', 'only this tenant')
    .action(policyAction('test'));
  policy
    .command('check')
    .description('compile every unit with the builtins mandate really has')
    .argument('[dir]', 'policy directory')
    .option('--tenant <tenant>', 'only this tenant')
    .option('--write-capabilities <file>', "write mandate's OPA capabilities file here")
    .action(policyAction('check'));
  policy
    .command('fmt')
    .description('format Rego with opa fmt')
    .argument('[dir]', 'policy directory')
    .option('--check', 'list the files that need formatting, change nothing')
    .action(policyAction('fmt'));
  policy
    .command('build')
    .description('one OPA bundle per unit: OUT/base.tar.gz, OUT/tenants/<id>.tar.gz')
    .argument('[dir]', 'policy directory')
    .option('-o, --out <dir>', 'output directory (required)')
    .option('--tenant <tenant>', 'only this tenant')
    .option('--revision <revision>', 'bundle revision (default: a content hash)')
    .option('--signing-key <pem>', 'sign with this private key (the secret itself for HS*)')
    .option('--signing-alg <alg>', 'signature algorithm', 'RS256')
    .option('--signing-keyid <id>', 'key id in the signature', 'default')
    .option('--scope <scope>', 'scope claim in the signature')
    .action(policyAction('build'));
}
