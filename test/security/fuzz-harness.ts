// Drives generated inputs at a real sidecar over all four transports in concurrent batches and checks the invariants against an oracle.
import { readFileSync, readdirSync, mkdtempSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, credentials, type ServiceError } from '@grpc/grpc-js';
import fc from 'fast-check';
import {
  AuthorizerClient,
  CheckRequest,
  type CheckResponse,
} from '../../src/gen/mandate/v1/authorizer.js';
import type { AuthorizationClient } from '../../src/gen/envoy/service/auth/v3/external_auth.js';
import { checkRequest, envoyCheck, envoyClient } from '../helpers/envoy.js';
import { postCheck, startSidecar, type Sidecar } from '../helpers/sidecar.js';
import {
  KNOWN_ACTIONS,
  checkInputArbitrary,
  envoyInputArbitrary,
  grpcInputArbitrary,
  type CheckInput,
  type EnvoyInput,
  type GrpcInput,
  type TokenPool,
} from './fuzz-inputs.js';

/** The method-override headers mandate decides by (its default `envoy.method_override_headers`). */
const OVERRIDE_HEADERS: ReadonlySet<string> = new Set([
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
]);

/** Envoy routes of the fuzz target: no shadow mode, so every Envoy allow is a real allow. */
const FUZZ_YAML = `
envoy:
  routes:
    - { method: GET, path: /v1/contacts, action: contacts.read }
    - { method: POST, path: "/v1/tickets/{id}/comments", action: tickets.comment, resource: { type: ticket, id: "{id}" } }
`;

/** Longest any one request may take before it counts as a hang. */
const ANSWER_TIMEOUT_MS = 10_000;

export interface FuzzFigures {
  inputs: number;
  byTransport: Record<string, number>;
  allows: number;
  durationMs: number;
  ratePerSecond: number;
  failures: number;
  /** The first few violations, with the input that caused them. */
  examples: string[];
}

interface ValidToken {
  readonly token: string;
  readonly tenant: string;
  /** Actions the unmutated token is allowed, learnt from the sidecar before fuzzing. */
  readonly allowed: ReadonlySet<string>;
}

export interface FuzzTarget {
  readonly sidecar: Sidecar;
  readonly pool: TokenPool;
  run(options: {
    runs: number;
    seed: number;
    batch: number;
    deadlineMs?: number;
  }): Promise<FuzzFigures>;
  /** Every valid token's signed parts that show up in audit files or logs (should be none). */
  leakedTokens(): Promise<string[]>;
  stop(): Promise<void>;
}

/** A Bearer credential as RFC 6750 reads it: the scheme in any case, one space, the token. */
function bearerOf(value: string): string | undefined {
  const trimmed = value.trim();
  if (!/^bearer /i.test(trimmed)) return undefined;
  const token = trimmed.slice(7).trim();
  return token === '' ? undefined : token;
}

/** Whether an Envoy request may be allowed for this token: only the two mapped routes, plainly spelt. */
function routeAction(method: string, path: string): string | undefined {
  const bare = path.split(/[?#]/, 1)[0] as string;
  if (bare.includes('\\') || !bare.startsWith('/') || bare.startsWith('//')) return undefined;
  const trimmed = bare.length > 1 ? bare.replace(/\/+$/, '') : bare;
  let segments: string[];
  try {
    segments = trimmed
      .slice(1)
      .split('/')
      .map((s) => decodeURIComponent(s));
  } catch {
    return undefined;
  }
  // Dot segments never match; an empty capture (`/v1/tickets//comments`) still names the route.
  if (segments.some((s) => s === '.' || s === '..')) return undefined;
  if (segments.slice(0, 2).some((s) => s === '')) return undefined;
  const upper = method.toUpperCase();
  if (
    upper === 'GET' &&
    segments.length === 2 &&
    segments[0] === 'v1' &&
    segments[1] === 'contacts'
  ) {
    return 'contacts.read';
  }
  if (
    upper === 'POST' &&
    segments.length === 4 &&
    segments[0] === 'v1' &&
    segments[1] === 'tickets' &&
    segments[3] === 'comments'
  ) {
    return 'tickets.comment';
  }
  return undefined;
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${ANSWER_TIMEOUT_MS} ms: ${what}`)),
      ANSWER_TIMEOUT_MS,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function short(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 600 ? `${text.slice(0, 600)}…` : text;
}

export async function startFuzzTarget(): Promise<FuzzTarget> {
  const auditDir = mkdtempSync(join(tmpdir(), 'mandate-fuzz-'));
  // Rotated, so a long run keeps a bounded audit trail on disk (the leak scan reads what is kept).
  const sidecar = await startSidecar({
    yaml: FUZZ_YAML,
    // Forged kids must not each trigger a JWKS fetch: the default rate, as in production.
    jwksRefetchPerMinute: 5,
    audit: `{ sinks: [{ driver: file, path: "${join(auditDir, 'audit.jsonl')}", max_bytes: 67108864, max_files: 2 }] }`,
  });
  const specs = [
    { tenant: 'acme_inc', scope: 'contacts.read tickets.write', sub: 'user-1', client: 'agent-1' },
    { tenant: 'globex', scope: 'contacts.read', sub: 'user-2', client: 'agent-2' },
  ];
  const valid: ValidToken[] = [];
  for (const spec of specs) {
    const token = await sidecar.token({
      claims: {
        tenant: spec.tenant,
        scope: spec.scope,
        sub: spec.sub,
        client_id: spec.client,
        exp: Math.floor(Date.now() / 1000) + 86_400,
      },
    });
    const allowed = new Set<string>();
    for (const action of KNOWN_ACTIONS) {
      const res = await postCheck(sidecar, { action, token });
      if (res.body['allow'] === true) allowed.add(action);
    }
    valid.push({ token, tenant: spec.tenant, allowed });
  }
  const byToken = new Map(valid.map((v) => [v.token, v]));
  const pool: TokenPool = {
    valid: valid.map((v) => v.token),
    tokensAsKeys: process.env['FUZZ_TOKEN_KEYS'] !== '0',
  };
  const grpc = new AuthorizerClient(sidecar.grpcTarget, credentials.createInsecure());
  const envoy: AuthorizationClient = envoyClient(sidecar.grpcTarget);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const httpPort = sidecar.server.http.port;

  /** Whether an allow for this (effective) token, action and tenant is one the oracle permits. */
  function mayAllow(token: string | undefined, action: unknown, tenant: unknown): boolean {
    const known = token === undefined ? undefined : byToken.get(token);
    if (known === undefined || typeof action !== 'string' || !known.allowed.has(action))
      return false;
    return tenant === undefined || tenant === '' || tenant === known.tenant;
  }

  async function sendCheck(input: CheckInput): Promise<string | 'allow' | undefined> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const body: Record<string, unknown> = { ...input.body };
    let effective: string | undefined;
    if (input.token !== undefined && input.placement !== 'header') body['token'] = input.token;
    if (input.token !== undefined && input.placement !== 'body') {
      headers['authorization'] = `${input.scheme}${input.token}`;
    }
    const text = input.raw ?? JSON.stringify(body);
    let sent: Record<string, unknown> = {};
    try {
      const parsed = JSON.parse(text) as unknown;
      if (typeof parsed === 'object' && parsed !== null) sent = parsed as Record<string, unknown>;
    } catch {
      // Broken JSON: never an allow.
    }
    if (typeof sent['token'] === 'string') effective = sent['token'];
    else if (headers['authorization'] !== undefined) effective = bearerOf(headers['authorization']);
    const res = await postCheck(sidecar, text, headers).catch((err: Error) => ({
      status: -1,
      body: { error: err.message } as Record<string, unknown>,
    }));
    if (![200, 400, 413, 415].includes(res.status))
      return `/v1/check answered ${res.status} ${short(res.body)}`;
    if (res.status === 200 && res.body['allow'] === true) {
      const tenant = sent['tenant'];
      if (!mayAllow(effective, sent['action'], tenant))
        return `/v1/check allowed: ${short(res.body)}`;
      return 'allow';
    }
    return undefined;
  }

  async function sendGrpc(input: GrpcInput): Promise<string | 'allow' | undefined> {
    const metadata = new Metadata();
    let token = '';
    let effective: string | undefined;
    if (input.token !== undefined) {
      if (input.inMetadata) {
        try {
          metadata.set('authorization', `Bearer ${input.token}`);
        } catch {
          // Not a legal metadata value (a control character): the client cannot send it.
          return undefined;
        }
        effective = bearerOf(`Bearer ${input.token}`);
      } else {
        token = input.token;
        effective = input.token;
      }
    }
    let message: CheckRequest;
    try {
      message = CheckRequest.fromPartial({
        token,
        action: input.action,
        tenant: input.tenant,
        requestId: input.requestId,
        ...(input.resource ? { resource: input.resource } : {}),
        ...(input.context ? { context: input.context } : {}),
      });
    } catch {
      return undefined;
    }
    const res = await new Promise<{
      err: ServiceError | null;
      res?: CheckResponse;
      unsent?: boolean;
    }>((resolve) => {
      try {
        grpc.check(message, metadata, (err, r) => resolve({ err, ...(r ? { res: r } : {}) }));
      } catch {
        // The client could not encode it (an invalid metadata value): nothing was sent.
        resolve({ err: null, unsent: true });
      }
    });
    if (res.unsent === true) return undefined;
    if (res.err) {
      if (res.err.code === 3) return undefined; // INVALID_ARGUMENT, naming the field
      return `gRPC Check failed with ${res.err.code} ${res.err.details}`;
    }
    if (res.res?.allow === true) {
      if (!mayAllow(effective, input.action, input.tenant))
        return `gRPC Check allowed: ${short(res.res)}`;
      return 'allow';
    }
    return undefined;
  }

  function envoyMayAllow(input: EnvoyInput, headers: Record<string, string>): boolean {
    const effective = bearerOf(headers['authorization'] ?? '');
    // A method-override header (all must agree and be one method token) naming another method
    // makes the request need both: the upstream may run either.
    const named = new Set(
      Object.entries(headers)
        .filter(([k]) => OVERRIDE_HEADERS.has(k.toLowerCase()))
        .map(([, v]) => v.trim().toUpperCase()),
    );
    if ([...named].some((m) => !/^[A-Z]+$/.test(m)) || named.size > 1) return false;
    const methods = new Set([input.method.toUpperCase(), ...named]);
    return [...methods].every((method) => {
      const action = routeAction(method, input.path);
      return action !== undefined && mayAllow(effective, action, undefined);
    });
  }

  function envoyHeaders(input: EnvoyInput): Record<string, string> {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(input.headers)) headers[k.toLowerCase()] = v;
    if (input.token !== undefined) headers['authorization'] = `${input.scheme}${input.token}`;
    return headers;
  }

  async function sendEnvoyGrpc(input: EnvoyInput): Promise<string | 'allow' | undefined> {
    const headers = envoyHeaders(input);
    let res: Awaited<ReturnType<typeof envoyCheck>>;
    try {
      res = await envoyCheck(
        envoy,
        checkRequest({
          method: input.method,
          path: input.path,
          headers,
          ...(input.body !== undefined ? { body: input.body } : {}),
        }),
      );
    } catch (err) {
      return `Envoy gRPC Check failed: ${(err as ServiceError).code} ${(err as ServiceError).details}`;
    }
    if (res.status?.code === 0) {
      if (!envoyMayAllow(input, headers)) return `Envoy gRPC allowed ${input.method} ${input.path}`;
      return 'allow';
    }
    const status = res.deniedResponse?.status?.code ?? 0;
    if (status >= 500) return `Envoy gRPC denied with ${status}: ${res.deniedResponse?.body}`;
    return undefined;
  }

  function sendEnvoyHttp(input: EnvoyInput): Promise<string | 'allow' | undefined> {
    const headers = envoyHeaders(input);
    return new Promise((resolve) => {
      let req;
      try {
        req = httpRequest(
          {
            host: '127.0.0.1',
            port: httpPort,
            agent,
            method: input.method,
            path: `/envoy/authz${input.path.startsWith('/') ? '' : '/'}${input.path}`,
            headers: {
              ...headers,
              ...(input.body !== undefined
                ? { 'content-length': Buffer.byteLength(input.body) }
                : {}),
            },
          },
          (res) => {
            res.resume();
            res.on('end', () => {
              const status = res.statusCode ?? 0;
              if (status === 200) {
                resolve(
                  envoyMayAllow(input, headers)
                    ? 'allow'
                    : `Envoy HTTP allowed ${input.method} ${input.path}`,
                );
              } else if (![400, 401, 403, 404, 405, 413, 415, 431].includes(status)) {
                resolve(`Envoy HTTP answered ${status} for ${input.method} ${input.path}`);
              } else resolve(undefined);
            });
          },
        );
      } catch {
        // Node refused to send it (a method or header it cannot write): nothing reached the sidecar.
        resolve(undefined);
        return;
      }
      req.on('error', (err) => resolve(`Envoy HTTP request failed: ${err.message}`));
      if (input.body !== undefined) req.write(input.body);
      req.end();
    });
  }

  type Job = { kind: string; input: unknown; send: () => Promise<string | 'allow' | undefined> };

  function jobs(seed: number, count: number): Job[] {
    const arb = fc.oneof(
      {
        weight: 4,
        arbitrary: checkInputArbitrary(pool).map((input) => ({
          kind: 'http',
          input,
          send: () => sendCheck(input),
        })),
      },
      {
        weight: 2,
        arbitrary: grpcInputArbitrary(pool).map((input) => ({
          kind: 'grpc',
          input,
          send: () => sendGrpc(input),
        })),
      },
      {
        weight: 2,
        arbitrary: envoyInputArbitrary(pool).map((input) => ({
          kind: 'envoy_grpc',
          input,
          send: () => sendEnvoyGrpc(input),
        })),
      },
      {
        weight: 2,
        arbitrary: envoyInputArbitrary(pool).map((input) => ({
          kind: 'envoy_http',
          input,
          send: () => sendEnvoyHttp(input),
        })),
      },
    );
    const only = process.env['FUZZ_ONLY'];
    return fc
      .sample(arb, { numRuns: count, seed })
      .filter((j) => only === undefined || j.kind === only);
  }

  return {
    sidecar,
    pool,
    async run({ runs, seed, batch, deadlineMs }) {
      const figures: FuzzFigures = {
        inputs: 0,
        byTransport: {},
        allows: 0,
        durationMs: 0,
        ratePerSecond: 0,
        failures: 0,
        examples: [],
      };
      const started = Date.now();
      for (let done = 0, round = 0; done < runs; round++) {
        if (deadlineMs !== undefined && Date.now() >= deadlineMs) break;
        const size = Math.min(batch, runs - done);
        const batchJobs = jobs(seed + round, size);
        const results = await Promise.all(
          batchJobs.map((job) =>
            withTimeout(job.send(), job.kind).catch((err: Error) => err.message),
          ),
        );
        results.forEach((result, i) => {
          const job = batchJobs[i] as Job;
          figures.byTransport[job.kind] = (figures.byTransport[job.kind] ?? 0) + 1;
          if (result === 'allow') figures.allows++;
          else if (result !== undefined) {
            figures.failures++;
            if (figures.examples.length < 10)
              figures.examples.push(`${job.kind}: ${result}\n  input: ${short(job.input)}`);
          }
        });
        done += size;
        figures.inputs = done;
      }
      figures.durationMs = Date.now() - started;
      figures.ratePerSecond = Math.round((figures.inputs / figures.durationMs) * 1000);
      return figures;
    },
    async leakedTokens() {
      const texts = [await sidecar.rawOutput()];
      await sidecar.server.core.audit.flush();
      for (const name of readdirSync(auditDir))
        texts.push(readFileSync(join(auditDir, name), 'utf8'));
      const leaks: string[] = [];
      for (const { token } of valid) {
        const [, payload, signature] = token.split('.') as [string, string, string];
        for (const part of [payload, signature]) {
          for (const t of texts) {
            const at = t.indexOf(part);
            if (at !== -1) {
              const start = t.lastIndexOf('\n', at) + 1;
              leaks.push(t.slice(start, Math.min(t.indexOf('\n', at) >>> 0, start + 1500)));
              break;
            }
          }
        }
      }
      return leaks;
    },
    async stop() {
      grpc.close();
      envoy.close();
      agent.destroy();
      await sidecar.stop();
    },
  };
}
