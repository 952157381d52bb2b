// Schema of the `audit:` section: sinks (stdout, rotating file, http with spool), masking rules, ring, labels.
import { Type, type Static } from '@sinclair/typebox';
import { AUDIT_DURABILITY } from '../types.js';
import { int, map, oneOf, section, str } from './build.js';

const MIB = 1024 * 1024;
const FORMATS = ['mandate', 'opa'] as const;

const format = oneOf(FORMATS, {
  default: 'mandate',
  description: "Record schema: mandate's own, or an OPA decision-log event.",
});
const sinkName = Type.Optional(
  str({
    pattern: '^[A-Za-z0-9_.-]{1,64}$',
    errorMessage: 'must be 1-64 letters, digits, _ . or -',
    'x-default': 'the driver',
    description: 'Name of the sink in metrics and logs; two sinks may not share one.',
  }),
);

const stdoutSink = section(
  {
    driver: Type.Literal('stdout', { description: 'One JSON line per record on stdout.' }),
    name: sinkName,
    format,
  },
  { description: 'Writes records to stdout.' },
);

const fileSink = section(
  {
    driver: Type.Literal('file', { description: 'Appends JSON lines to a rotating file.' }),
    name: sinkName,
    format,
    path: str({ description: 'The file (its folder is created); relative to the config file.' }),
    max_bytes: int(4096, Number.MAX_SAFE_INTEGER, {
      default: 100 * MIB,
      description:
        'The file is rotated (`path.1`, `path.2`, ...) once it reaches this size, bytes.',
    }),
    max_files: int(1, 1000, {
      default: 5,
      description: 'Rotated files kept besides the current one.',
    }),
  },
  { description: 'Writes records to a rotating file.' },
);

const spool = section(
  {
    dir: Type.Optional(
      str({
        'x-default': '`<dev.state_dir>/audit-spool/<name>`',
        description: 'Folder of the segment files and the delivery cursor.',
      }),
    ),
    max_bytes: int(64 * 1024, Number.MAX_SAFE_INTEGER, {
      default: 1024 * MIB,
      description: 'Bound on undelivered bytes on disk (`on_full` says what happens at it).',
    }),
    segment_max_bytes: Type.Optional(
      int(4096, 1024 * MIB, {
        'x-default': '8 MiB, at most a quarter of `max_bytes`',
        description:
          'A segment is sealed (and deletable once delivered) at this size; at most a quarter of `max_bytes`, so dropping whole segments frees room.',
      }),
    ),
    fsync: oneOf(['always', 'interval', 'never'], {
      default: 'interval',
      description:
        '`always`: fdatasync after every batch written (group commit); `interval`: every `fsync_interval_ms`; `never`: leave it to the OS. A process crash loses nothing once a batch is written; this only bounds loss on power failure.',
    }),
    fsync_interval_ms: int(10, 60_000, {
      default: 1000,
      description: 'Period for `fsync: interval`, milliseconds.',
    }),
  },
  { default: {}, description: 'On-disk spool of undelivered records: append-only segment files.' },
);

const httpSink = section(
  {
    driver: Type.Literal('http', {
      description: 'Uploads OPA decision-log batches (gzip JSON arrays) to a collector.',
    }),
    name: sinkName,
    url: str({
      pattern: '^https?://[^/]',
      errorMessage: { pattern: 'must be an http(s) URL' },
      description: 'Collector endpoint receiving the uploads.',
    }),
    headers: map(Type.String({ errorMessage: 'must be a string' }), {
      default: {},
      description:
        "Extra request headers (e.g. the collector's credentials); never logged. `Content-Type`, `Content-Encoding` and `Content-Length` are set by mandate.",
    }),
    timeout_ms: int(100, 600_000, {
      default: 10_000,
      description: 'Per-upload timeout, milliseconds.',
    }),
    batch_max_bytes: int(1024, 64 * MIB, {
      default: MIB,
      description: 'Upper bound of one upload before compression, bytes.',
    }),
    batch_max_delay_ms: int(0, 3_600_000, {
      default: 1000,
      description:
        'How long the oldest undelivered record waits for a batch to fill, milliseconds.',
    }),
    backoff_min_ms: int(1, 600_000, {
      default: 250,
      description:
        'First retry delay after a failed upload, milliseconds; doubles up to `backoff_max_ms`.',
    }),
    backoff_max_ms: int(1, 3_600_000, {
      default: 30_000,
      description: 'Longest retry delay, milliseconds; at least `backoff_min_ms`.',
    }),
    spool,
    on_full: oneOf(['drop_oldest', 'fail_closed'], {
      default: 'fail_closed',
      description:
        'When the spool reaches `spool.max_bytes`: drop whole oldest segments (counted), or deny new requests.',
    }),
  },
  { description: 'Delivers records to an OPA decision-log collector, through an on-disk spool.' },
);

/** The `audit.sinks[]` entries, told apart by `driver`. */
const sink = Type.Unsafe<
  Static<typeof stdoutSink> | Static<typeof fileSink> | Static<typeof httpSink>
>({
  type: 'object',
  discriminator: { propertyName: 'driver' },
  oneOf: [stdoutSink, fileSink, httpSink],
  description: 'A sink, chosen by `driver`: `stdout`, `file` or `http`.',
});

const maskRule = section(
  {
    op: oneOf(['erase', 'mask'], {
      default: 'erase',
      description: '`erase` removes the value; `mask` replaces it with `value`.',
    }),
    path: str({
      description:
        'JSON pointer (RFC 6901; `*` matches every key or index) into the record. Fields that identify the record (`decision_id`, `time`, `allow`, ...) cannot be masked.',
    }),
    value: Type.Optional(
      Type.Unknown({ 'x-default': '`"[masked]"`', description: 'Replacement for `op: mask`.' }),
    ),
  },
  { description: 'A masking rule.' },
);

/** The `audit:` section as written in the file. */
export const auditSchema = section(
  {
    sink: Type.Optional(
      oneOf(['stdout', 'file', 'none'], {
        'x-default': '`stdout`',
        description:
          "One sink: `stdout`, `file` (with `audit.path`) or `none`; wins over `audit.sinks` (so `MANDATE_AUDIT_SINK` overrides a file's list).",
      }),
    ),
    path: Type.Optional(str({ description: 'File for `sink: file` (its folder is created).' })),
    sinks: Type.Optional(
      Type.Array(sink, {
        'x-default': 'one `stdout` sink',
        description:
          '`stdout`, `file` (rotating) and `http` (with spool) sinks, each with its own keys: see [Audit sinks](audit.md#audit-sinks). Every sink gets every record; `[]` turns audit off.',
      }),
    ),
    mask: Type.Array(maskRule, {
      default: [],
      description:
        'Applied in order to every record before it reaches any sink, the ring or the query API: see [Masking](audit.md#masking).',
    }),
    ring_size: int(0, 1_000_000, {
      default: 10_000,
      description: 'Recent records kept in memory for `GET /v1/decisions`; `0` disables.',
    }),
    labels: map(str({ errorMessage: 'must be a non-empty string' }), {
      default: {},
      'x-default': '`{id: <random>, service: mandate}`',
      description: "OPA `labels` (`version` is always mandate's); add any string labels.",
    }),
    max_queue: int(1, 10_000_000, {
      default: 100_000,
      description: 'Records waiting to be serialised beyond which new ones are dropped (counted).',
    }),
    shutdown_flush_ms: int(0, 60_000, {
      default: 3000,
      description:
        'How long shutdown keeps delivering to `http` sinks before leaving the rest in the spool, milliseconds.',
    }),
    durability: oneOf(AUDIT_DURABILITY, {
      default: 'best_effort',
      description:
        '`best_effort`: an answer leaves at once, its record is written within moments; `answer_after_write`: an answer leaves only once its record is written and fsynced by every sink (see [Audit](audit.md#delivery-nothing-lost)).',
    }),
  },
  { default: {}, description: 'Decision records: where they go, what is masked, what is kept.' },
);

/** The legacy `sink: file` form takes a file sink's defaults from the schema. */
export const FILE_SINK_DEFAULTS = {
  maxBytes: fileSink.properties.max_bytes.default as number,
  maxFiles: fileSink.properties.max_files.default as number,
};

/** `segment_max_bytes` when unset: 8 MiB, or a quarter of `max_bytes` when that is smaller. */
export const DEFAULT_SEGMENT_MAX_BYTES = 8 * MIB;
