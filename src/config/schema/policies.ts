// Schema of the `policies:` section: the policy directory, dev watch mode, bundles from files or a bundle server, signing keys.
import { Type } from '@sinclair/typebox';
import { ASYMMETRIC_ALGORITHMS, SYMMETRIC_ALGORITHMS } from '../types.js';
import { bool, int, map, oneOf, section, str, strList } from './build.js';

/** Url-bundle settings that have no place in a file bundle, so they carry no schema default. */
export const URL_BUNDLE_DEFAULTS = {
  minDelaySeconds: 60,
  maxDelaySeconds: 120,
  timeoutMs: 10_000,
  persist: true,
} as const;

const signing = section(
  {
    keyid: Type.Optional(
      str({ 'x-default': "the JWT's `kid`", description: 'Key id in `policies.keys`.' }),
    ),
    scope: Type.Optional(
      str({ 'x-default': "the key's `scope`", description: 'Required `scope` claim.' }),
    ),
    exclude_files: strList({ default: [], description: 'Files left out of verification.' }),
  },
  {
    description:
      "How the bundle's `.signatures.json` is verified (OPA's `signing`); present, unsigned bundles are refused.",
  },
);

const bundle = section(
  {
    file: Type.Optional(
      str({
        description:
          'A bundle file on disk (e.g. written by `mandate policy build`). Exactly one of `file` or `url`.',
      }),
    ),
    url: Type.Optional(
      str({
        pattern: '^https?://',
        errorMessage: { pattern: 'must be an http(s) URL' },
        description: "A bundle server polled with OPA's protocol (ETag, 304, long polling).",
      }),
    ),
    headers: Type.Optional(
      map(str({}), {
        'x-default': 'none',
        description: 'Extra request headers for `url` (e.g. credentials); never logged.',
      }),
    ),
    polling: Type.Optional(
      section(
        {
          min_delay_seconds: Type.Optional(
            int(1, 86_400, {
              'x-default': `\`${URL_BUNDLE_DEFAULTS.minDelaySeconds}\``,
              description: 'Shortest wait between two polls, seconds.',
            }),
          ),
          max_delay_seconds: Type.Optional(
            int(1, 86_400, {
              'x-default': `\`${URL_BUNDLE_DEFAULTS.maxDelaySeconds}\` (at least \`min_delay_seconds\`)`,
              description: 'Longest wait between two polls (and longest back-off), seconds.',
            }),
          ),
          long_polling_timeout_seconds: Type.Optional(
            int(1, 3600, {
              'x-default': 'off',
              description:
                "Ask the server to hold the request up to this long (`Prefer: wait=N`), while it answers with OPA's bundle content type.",
            }),
          ),
        },
        { description: "OPA's bundle polling settings (`url` only)." },
      ),
    ),
    timeout_ms: Type.Optional(
      int(100, 600_000, {
        'x-default': `\`${URL_BUNDLE_DEFAULTS.timeoutMs}\``,
        description: 'Per-request timeout of `url`, milliseconds (long polls get it on top).',
      }),
    ),
    persist: Type.Optional(
      bool({
        'x-default': '`true`',
        description:
          'Keep the last activated `url` bundle on disk and start from it when the server is down.',
      }),
    ),
    signing: Type.Optional(signing),
  },
  { description: 'Where the unit comes from: a bundle file or a bundle server.' },
);

const key = section(
  {
    algorithm: oneOf([...ASYMMETRIC_ALGORITHMS, ...SYMMETRIC_ALGORITHMS], {
      default: 'RS256',
      description: 'JWS algorithm: RS/PS/ES 256–512, EdDSA, or HS256–512 with a shared secret.',
    }),
    key: Type.Optional(
      str({
        description:
          'PEM public key or certificate, or the HMAC secret (≥ 32 bytes). Exactly one of `key` or `key_file`.',
      }),
    ),
    key_file: Type.Optional(str({ description: 'File holding `key`, read at start.' })),
    scope: Type.Optional(
      str({
        description: 'Scope implied for bundles verified with this key without `signing.scope`.',
      }),
    ),
  },
  { description: "A bundle verification key (OPA's `keys.<id>`)." },
);

/** The `policies:` section as written in the file. */
export const policiesSchema = section(
  {
    dir: str({
      default: 'policies',
      description: 'Directory with `base/` and `tenants/<tenant>/`: see [Policies](policies.md).',
    }),
    opa_path: Type.Optional(
      str({
        'x-default': '`.tools/opa`, else `opa` on PATH',
        description: 'The `opa` binary used to compile Rego to Wasm.',
      }),
    ),
    watch: Type.Optional(
      bool({
        'x-default': '`true` in dev mode, else `false`',
        description:
          'Watch `policies.dir` and recompile only the unit whose files changed (see [Hot reload](policies.md#hot-reload-and-watch-mode)).',
      }),
    ),
    watch_debounce_ms: int(0, 60_000, {
      default: 100,
      description: 'Quiet time after the last file event before reloading, milliseconds.',
    }),
    on_tenant_removed: oneOf(['deny', 'base_only'], {
      default: 'deny',
      description:
        'A tenant directory removed while running: `deny` its requests, or `base_only` (see [Hot reload](policies.md#hot-reload-and-watch-mode) for why `deny`).',
    }),
    tenants_per_module: int(1, 1000, {
      default: 32,
      description:
        'Tenants compiled into one Wasm module, each with its own data; `1`: a module per tenant (see [A thousand tenants](policies.md#a-thousand-tenants)).',
    }),
    decision_cache_size: int(0, 10_000_000, {
      default: 10_000,
      description:
        'Policy outcomes kept per verified token and question, so a repeated check skips Wasm (see [the decision cache](concepts.md)); `0` disables.',
    }),
    cache_dir: Type.Optional(
      str({
        'x-default': '`<dev.state_dir>/policy-cache`',
        description: 'Compiled modules by content hash, so a restart does not recompile.',
      }),
    ),
    persist_dir: Type.Optional(
      str({
        'x-default': '`<dev.state_dir>/bundles`',
        description:
          'Last activated bundle of each `url` unit, served when the server is down at start.',
      }),
    ),
    bundles: map(bundle, {
      default: {},
      'x-key': '<unit>',
      names: {
        pattern: '^(base|tenants/[A-Za-z0-9_][A-Za-z0-9_.-]*)$',
        errorMessage: 'bundle units are named base or tenants/<tenant id>',
      },
      description:
        'Units (`base` or `tenants/<id>`) served from a bundle instead of `dir` (see [Bundles](bundles.md)).',
    }),
    keys: map(key, {
      default: {},
      'x-key': '<id>',
      description: 'Bundle verification keys by id.',
    }),
  },
  { default: {}, description: 'Where policies come from and how they are compiled.' },
);
