// Schema of the `revocation:` section: which store keeps revocations, and how long entries must live.
import { Type } from '@sinclair/typebox';
import { int, oneOf, section, str } from './build.js';

/** The `revocation:` section as written in the file. */
export const revocationSchema = section(
  {
    store: oneOf(['memory', 'redis'], {
      default: 'memory',
      description: '`memory` (persisted to `revocation.path`) or `redis` (shared by a fleet).',
    }),
    path: Type.Optional(
      str({
        'x-default': '`<dev.state_dir>/revocations.json`',
        description:
          "Snapshot file, with its journal `<path>.journal`: the memory store's durable copy; the Redis store's local copy, served when Redis is down at start. A damaged file stops start-up.",
      }),
    ),
    grant_claim: str({
      default: 'grant_id',
      description:
        'Claim holding the grant (consent) id that `grant` revocations match (e.g. `sid`).',
    }),
    max_token_lifetime_seconds: int(60, 31_536_000, {
      default: 86_400,
      description:
        'Longest token lifetime for issuers without their own, seconds; an entry lives this long (+ 2× clock tolerance) past its cut-off.',
    }),
    clock_skew_seconds: int(0, 3600, {
      default: 60,
      description: 'How far in the future `issued_before` may be, seconds.',
    }),
    sweep_interval_seconds: int(1, 86_400, {
      default: 60,
      description:
        'How often expired entries are dropped, seconds (they stop matching at once regardless).',
    }),
    body_limit_bytes: int(1024, 1_048_576, {
      default: 8192,
      description: 'Larger `POST /v1/revocations` bodies get 413, bytes.',
    }),
    redis: section(
      {
        url: Type.Optional(
          str({
            'x-default': 'required with `store: redis`',
            description:
              '`redis://[user:password@]host:port[/db]` or `rediss://`; the password is never logged.',
          }),
        ),
        key_prefix: str({
          default: 'mandate:revocations:',
          description:
            'Prefix of keys and of the change channel; sidecars sharing revocations share it.',
        }),
        connect_timeout_ms: int(50, 60_000, {
          default: 2000,
          description:
            'How long start-up waits for the first sync before serving the snapshot, milliseconds.',
        }),
        unavailable_at_start: oneOf(['degraded', 'not_ready'], {
          default: 'not_ready',
          description:
            'Redis unreachable at start: `not_ready` (`/ready` 503 until the first sync) or `degraded` (WARN, ready); checks use the snapshot either way.',
        }),
        resync_interval_seconds: int(0, 86_400, {
          default: 300,
          description:
            'Full resync period while connected, a safety net under pub/sub, seconds; `0` disables.',
        }),
        retry_max_delay_ms: int(100, 300_000, {
          default: 5000,
          description: 'Longest back-off between reconnect attempts, milliseconds.',
        }),
      },
      {
        default: {},
        description:
          'The Redis store (used with `store: redis`; checked either way, so a typo is an error).',
      },
    ),
  },
  {
    default: {},
    description: 'Revocations: the store and entry lifetimes (see [Revocation](revocation.md)).',
  },
);
