// Lint rules: typescript-eslint recommended, the room table of docs/architecture.md (one import block per
// room under src/), no import cycles, size limits, and the fetch deadline rule.
import { readdirSync, readFileSync } from 'node:fs';
import { URL } from 'node:url';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';

/**
 * What each room under src/ may import besides itself (docs/architecture.md, "Rooms"). config/ is
 * the bottom room (it imports nothing of ours), so every room may import it: its section types and
 * readers are what the rooms are configured with. lib/ and metrics/ are leaves everyone may import;
 * a room absent from every list (dev-as/, cli/) is imported by no room but those naming it. `typesOnly` rooms may be imported with `import type` only.
 * `except` names files of an allowed room that stay off limits (a regex on the path after the room).
 */
const ROOMS = {
  config: { may: [] },
  token: { may: [] },
  policy: { may: [] },
  revocation: { may: [] },
  // An exchange is gated by a decision: the exchanger owns decide → cache → AS → audit, so it knows
  // core/'s Decider and Decision shapes, never the pipeline itself. It hands its facts to audit/'s
  // exchange record maker and writes the result to the sink; the record's shape stays audit's.
  exchange: {
    may: ['token', 'audit'],
    typesOnly: ['core'],
    except: { audit: '^(?!(sink|exchange-record)\\.js$)' },
  },
  audit: { may: [] },
  core: { may: ['token', 'policy', 'revocation', 'audit'] },
  // Shared adapter parts (bearer parsing, route table, pre-encoded answers) at the root of transport/.
  transport: { may: ['core', 'exchange', 'gen'] },
  // The HTTP and gRPC listeners host Envoy's two ext_authz adapters, so http/ and grpc/ may import
  // envoy/; nothing flows back, and adapters share code through the root of transport/ only.
  'transport/http': { may: ['transport', 'core', 'exchange', 'gen', 'envoy'] },
  'transport/grpc': { may: ['transport', 'core', 'exchange', 'gen', 'envoy'] },
  // Envoy decides a call on an MCP path as the MCP proxy decides a message: with the MCP adapter's
  // own message reader, question and refusal, so one message has one reading whichever way it came.
  'transport/envoy': { may: ['transport', 'core', 'exchange', 'gen', 'mcp'] },
  'transport/mcp': { may: ['transport', 'core', 'exchange', 'gen'] },
  // The admin listener is the operator's window onto the components it administers: it may use
  // revocation/ (the store interface, entry validation), policy/ (unit status) and audit/ (the
  // decision query, the sink, the admin record maker) directly; audit records are built by audit/
  // itself from the facts handed over, never here.
  'transport/admin': {
    may: ['transport', 'core', 'exchange', 'revocation', 'policy', 'audit'],
    except: { audit: '^record' },
  },
  // The one composition root builds everything but the command line and the development AS.
  compose: {
    may: [
      'token',
      'policy',
      'revocation',
      'exchange',
      'audit',
      'core',
      'transport',
      'http',
      'grpc',
      'envoy',
      'admin',
      'gen',
    ],
  },
  // The sidecar and every decision go through compose/ (no second pipeline: core/ and transport/
  // are off limits); offline commands use their room's tools: config loading, policy build and
  // signing, the dev token signer, the development AS.
  cli: { may: ['compose', 'policy', 'token', 'dev-as'] },
  // The development AS stands beside the sidecar and shares nothing with it but lib/ and config/.
  'dev-as': { may: [] },
  lib: { may: [], leaf: true },
  metrics: { may: [], leaf: true },
};

/** Every top-level room, and transport/'s adapter folders (reached as ../http/ from a sibling). */
const TOP = [...Object.keys(ROOMS).filter((r) => !r.includes('/')), 'gen'];
const SUB = ['http', 'grpc', 'envoy', 'admin', 'mcp'];

/**
 * Imports that break the table today, each allowed for one file and one import path until the
 * owning room is reshaped; the rule names the file's room so the entry can be deleted with the fix.
 */
export const KNOWN_VIOLATIONS = [];

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** One no-restricted-imports option list for `room`, letting `allowed` specifiers through. */
function roomPatterns(room, allowed = []) {
  const rule = ROOMS[room];
  const self = room.split('/').pop();
  const names = room.startsWith('transport/') || room === 'transport' ? [...TOP, ...SUB] : TOP;
  const may = new Set([...rule.may, self, ...(rule.leaf ? [] : ['config', 'lib', 'metrics'])]);
  if (room === 'metrics') may.add('lib');
  if (room === 'compose') for (const s of SUB) may.add(s);
  const skip = allowed.map((a) => `(?!${escape(a)}$)`).join('');
  const patterns = [];
  const say = `${room}/ may import ${[...may].filter((r) => r !== self).join(', ') || 'nothing of ours'} (docs/architecture.md).`;
  for (const name of names) {
    // A path starting with ../ (or ./ at the root of transport/) and naming the room.
    const at = `^${skip}(\\.\\./)*(\\.\\.|\\.)/${escape(name)}/`;
    if (may.has(name)) {
      const except = rule.except?.[name];
      // `except` is anchored at the path after the room: its own `^` would sit mid-pattern and never match.
      if (except) patterns.push({ regex: `${at}${except.replace(/^\^/, '')}`, message: say });
      continue;
    }
    if (name === 'transport' && room.startsWith('transport')) continue;
    const typesOnly = rule.typesOnly?.includes(name);
    patterns.push({ regex: at, message: say, ...(typesOnly ? { allowTypeImports: true } : {}) });
  }
  if (room === 'core') {
    patterns.push({
      group: ['fastify', 'fastify/*', '@grpc/*'],
      message: 'core/ must not know about transports.',
    });
  }
  return patterns;
}

/** The folder glob of a room. */
const globOf = (room) => `src/${room}/**/*.ts`;
/** Files of a room, minus the sub-rooms that have blocks of their own. */
const ignoresOf = (room) => (room === 'transport' ? SUB.map((s) => `src/transport/${s}/**`) : []);
const roomOf = (file) =>
  Object.keys(ROOMS)
    .filter((r) => file.startsWith(`src/${r}/`))
    .sort((a, b) => b.length - a.length)[0];

const roomBlocks = Object.keys(ROOMS).map((room) => ({
  files: [globOf(room)],
  ignores: ignoresOf(room),
  rules: {
    '@typescript-eslint/no-restricted-imports': ['error', { patterns: roomPatterns(room) }],
  },
}));

const knownFiles = [...new Set(KNOWN_VIOLATIONS.map((v) => v.file))];
const knownBlocks = knownFiles.map((file) => ({
  files: [file],
  rules: {
    '@typescript-eslint/no-restricted-imports': [
      'error',
      {
        patterns: roomPatterns(
          roomOf(file),
          KNOWN_VIOLATIONS.filter((v) => v.file === file).map((v) => v.import),
        ),
      },
    ],
  },
}));

/**
 * Files of src/ that say at their top why they are over the size limits: a `// size: <reason>` line
 * among their first five lines exempts them from max-lines and max-lines-per-function.
 */
const SIZE_REASON = /^\/\/ size: \S/;
const withSizeReason = readdirSync(new URL('./src', import.meta.url), { recursive: true })
  .filter((f) => f.endsWith('.ts') && !f.startsWith('gen/'))
  .map((f) => `src/${f}`)
  .filter((f) =>
    readFileSync(new URL(`./${f}`, import.meta.url), 'utf8')
      .split('\n', 5)
      .some((line) => SIZE_REASON.test(line)),
  );

/**
 * Files over the limits today without a written reason, until they are split (or given one).
 */
export const OVERSIZED = [];

/** Module-level state: a `let`, a memo table, an empty collection filled later. */
const MODULE_STATE = [
  'Program > VariableDeclaration[kind="let"]',
  'Program > ExportNamedDeclaration > VariableDeclaration[kind="let"]',
  ':matches(Program, ExportNamedDeclaration) > VariableDeclaration > VariableDeclarator > NewExpression[callee.name=/^Weak(Map|Set)$/]',
  ':matches(Program, ExportNamedDeclaration) > VariableDeclaration > VariableDeclarator > NewExpression[callee.name=/^(Map|Set)$/][arguments.length=0]',
].map((selector) => ({
  selector,
  message:
    'No module-level mutable state: give it to an instance made by a factory (docs/architecture.md).',
}));

/**
 * Files holding module-level mutable state today, until it moves into the instances that own it.
 */
export const MODULE_STATE_KNOWN = [
  // heldHere: spool folders locked by this process. Process-wide on purpose: a lock belongs to the
  // process, whichever spool instance took it, so a second open in the same process is refused.
  'src/audit/spool/lock.ts',
];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.tools/', '.mandate/', 'src/gen/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  ...roomBlocks,
  ...knownBlocks,
  {
    // Zero import cycles in src/. Type-only imports are left out: they are erased when compiled, so
    // they cannot change load order or leave a binding undefined.
    files: ['src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createNodeResolver({ extensionAlias: { '.js': ['.ts', '.js'] } })],
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
  {
    // One job per file and per function: a file over 400 lines or a function over 150 says why.
    files: ['src/**/*.ts'],
    ignores: ['src/gen/**', ...withSizeReason, ...OVERSIZED],
    rules: {
      'max-lines': ['error', 400],
      'max-lines-per-function': ['error', 150],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/gen/**', ...MODULE_STATE_KNOWN],
    rules: { 'no-restricted-syntax': ['error', ...MODULE_STATE] },
  },
  {
    // Every outbound request goes through fetchWithDeadline: a bare fetch, or a deadline made of
    // AbortSignal.timeout/any (which can stop firing after a garbage collection on Node 20), can
    // hang a caller forever.
    files: ['src/**/*.ts'],
    ignores: ['src/lib/fetch-deadline.ts', 'src/gen/**'],
    rules: {
      'no-restricted-globals': [
        'error',
        { name: 'fetch', message: 'Use fetchWithDeadline from src/lib/fetch-deadline.ts.' },
      ],
      'no-restricted-properties': [
        'error',
        {
          object: 'globalThis',
          property: 'fetch',
          message: 'Use fetchWithDeadline from src/lib/fetch-deadline.ts.',
        },
        {
          object: 'AbortSignal',
          property: 'timeout',
          message: 'Use fetchWithDeadline (its timer cannot be garbage collected).',
        },
        {
          object: 'AbortSignal',
          property: 'any',
          message: 'Use fetchWithDeadline (a composite signal can stop aborting on Node 20).',
        },
      ],
    },
  },
  {
    files: ['bench/**/*.mjs', 'scripts/**/*.mjs'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
      },
    },
  },
);
