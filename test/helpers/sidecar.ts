// Starts the whole sidecar in-process on port 0 against a real JWKS endpoint, capturing audit and log lines.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { parseConfig } from '../../src/config/load.js';
import type { MandateConfig } from '../../src/config/types.js';
import { startServer, type RunningServer } from '../../src/compose/server.js';
import {
  assertNoCredentials,
  fileSinkOutputs,
  findCredentials,
  queryApiOutput,
  recordCredential,
} from './credential-scan.js';
import { parseJsonLines } from './json-lines.js';
import { startJwksServer, type JwksServer } from './jwks-server.js';
import {
  AUDIENCE,
  ISSUER,
  createTestKey,
  signToken,
  type SignOptions,
  type TestKey,
} from './tokens.js';

/** The admin bearer token every test sidecar accepts. */
export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef0123456789';
recordCredential(ADMIN_TOKEN, 'the test admin token');

export const POLICIES_DIR = resolve(import.meta.dirname, '../../policies');

export interface Sidecar {
  readonly server: RunningServer;
  readonly jwks: JwksServer;
  readonly key: TestKey;
  readonly httpUrl: string;
  readonly adminUrl: string;
  readonly grpcTarget: string;
  /** The default file sink's path (unused when `audit` replaces the whole `audit:` value). */
  readonly auditPath: string;
  /** Signs a token for the test issuer; defaults: user-1 in tenant acme_inc via agent-1. */
  token(options?: SignOptions): Promise<string>;
  /** Audit records written so far (flushes the sink first). */
  auditRecords(): Promise<Record<string, unknown>[]>;
  /** Raw audit file text and operational log text, for scanning. */
  rawOutput(): Promise<string>;
  /**
   * Stops the sidecar, then scans what it wrote (every file sink, what `GET /v1/decisions`
   * answered just before, the operational log) for every credential this process sent; rejects
   * with CredentialLeakError naming each one found.
   */
  stop(): Promise<void>;
}

export interface SidecarOptions {
  /** Extra YAML appended to the generated config. */
  readonly yaml?: string;
  readonly policiesDir?: string;
  /** Start with the JWKS endpoint failing (status code). */
  readonly jwksFailure?: number;
  /**
   * Extra keys of the `audit:` mapping (YAML flow-mapping members, e.g. `ring_size: 5`) added to
   * the default `sink: file`; or, with a leading `{`, the whole `audit:` value instead.
   */
  readonly audit?: string;
  /** Trust the same issuer key and JWKS endpoint as this sidecar (a fleet); it stays owned by that one. */
  readonly keysFrom?: Sidecar;
  /** Extra flow-style keys inside the `admin:` mapping, e.g. `jwt: { ... }`. */
  readonly adminYaml?: string;
  /** Extra flow-style keys inside the `policies:` mapping, e.g. `watch: true`. */
  readonly policiesYaml?: string;
  /** The issuer's `jwks_refetch_per_minute`; default 600, so tests that rotate keys see them at once. */
  readonly jwksRefetchPerMinute?: number;
}

export async function startSidecar(options: SidecarOptions = {}): Promise<Sidecar> {
  const key = options.keysFrom?.key ?? (await createTestKey('ES256'));
  const jwks = options.keysFrom?.jwks ?? (await startJwksServer([key.jwk]));
  const ownsJwks = options.keysFrom === undefined;
  if (options.jwksFailure) jwks.setFailure(options.jwksFailure);
  const dir = mkdtempSync(join(tmpdir(), 'mandate-it-'));
  const auditPath = join(dir, 'audit.jsonl');
  const config = parseConfig(
    testConfigYaml({
      issuer: ISSUER,
      jwksUri: jwks.url,
      audience: AUDIENCE,
      jwksRefetchPerMinute: options.jwksRefetchPerMinute,
      policies: `{ dir: "${options.policiesDir ?? POLICIES_DIR}"${options.policiesYaml ? `, ${options.policiesYaml}` : ''} }`,
      audit: options.audit?.startsWith('{')
        ? options.audit
        : `{ sink: file, path: "${auditPath}"${options.audit ? `, ${options.audit}` : ''} }`,
      admin: `{ tokens: ["${ADMIN_TOKEN}"]${options.adminYaml ? `, ${options.adminYaml}` : ''} }`,
      more: options.yaml,
    }),
    { baseDir: dir },
  );
  const running = await startInProcess(config, auditPath);
  return {
    ...running,
    jwks,
    key,
    auditPath,
    token: (o: SignOptions = {}) =>
      signToken(key, { ...o, claims: { tenant: 'acme_inc', ...o.claims } }),
    async rawOutput() {
      return `${await running.readAudit()}\n${running.logText()}`;
    },
    stop: () => running.stop(ownsJwks ? () => jwks.close() : undefined),
  };
}

/** What a test sidecar's config is made of; every value but the issuer's is YAML text. */
export interface TestConfigParts {
  readonly issuer: string;
  readonly jwksUri: string;
  readonly audience: string;
  /** Default 600, so tests that rotate keys see them at once. */
  readonly jwksRefetchPerMinute?: number | undefined;
  /** The `policies:` value; default the repository's policies/. */
  readonly policies?: string;
  /** The `audit:` value. */
  readonly audit: string;
  /** The `admin:` value; default the test admin token. */
  readonly admin?: string;
  /** More top-level YAML. */
  readonly more?: string | undefined;
}

/** A test sidecar's config: listeners on port 0, one issuer (ES256 or RS256 access tokens), policies, audit, admin. */
export function testConfigYaml(parts: TestConfigParts): string {
  return `
listen: { http: "127.0.0.1:0", grpc: "127.0.0.1:0", admin: "127.0.0.1:0" }
issuers:
  - issuer: "${parts.issuer}"
    jwks_uri: "${parts.jwksUri}"
    audiences: ["${parts.audience}"]
    algorithms: ["ES256", "RS256"]
    token_types: ["at+jwt"]
    jwks_refetch_per_minute: ${parts.jwksRefetchPerMinute ?? 600}
policies: ${parts.policies ?? `{ dir: "${POLICIES_DIR}" }`}
audit: ${parts.audit}
admin: ${parts.admin ?? `{ tokens: ["${ADMIN_TOKEN}"] }`}
${parts.more ?? ''}`;
}

/** A sidecar started in-process from a parsed config, its log captured. */
export interface InProcessSidecar {
  readonly server: RunningServer;
  readonly httpUrl: string;
  readonly adminUrl: string;
  readonly grpcTarget: string;
  /** The audit file's text (flushes the sink first); empty when there is none yet. */
  readAudit(): Promise<string>;
  /** Audit records written so far (flushes the sink first). */
  auditRecords(): Promise<Record<string, unknown>[]>;
  /** The operational log so far. */
  logText(): string;
  /**
   * Stops the sidecar (then `andThen`, e.g. closing a JWKS server it used), then scans what it
   * wrote (every file sink, what `GET /v1/decisions` answered just before, the operational log)
   * for every credential this process sent; rejects with CredentialLeakError naming each one.
   */
  stop(andThen?: () => Promise<void>): Promise<void>;
}

/** Starts `config` in-process with a debug logger writing to memory; `auditPath` is its file sink. */
export async function startInProcess(
  config: MandateConfig,
  auditPath: string,
): Promise<InProcessSidecar> {
  const logLines: string[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString());
      done();
    },
  });
  const logger = pino({ level: 'debug' }, logStream);
  const server = await startServer(config, logger);
  const adminUrl = `http://127.0.0.1:${server.admin.port}`;
  const readAudit = async () => {
    await server.core.audit.flush();
    try {
      return readFileSync(auditPath, 'utf8');
    } catch {
      return '';
    }
  };
  return {
    server,
    httpUrl: `http://127.0.0.1:${server.http.port}`,
    adminUrl,
    grpcTarget: `127.0.0.1:${server.grpc.port}`,
    readAudit,
    async auditRecords() {
      return parseJsonLines(await readAudit());
    },
    logText: () => logLines.join(''),
    async stop(andThen) {
      const queried = await queryApiOutput(adminUrl, ADMIN_TOKEN);
      try {
        await server.stop(2000);
      } finally {
        await andThen?.();
      }
      assertNoCredentials([
        ...(queried !== undefined ? findCredentials(queried, 'GET /v1/decisions') : []),
        ...fileSinkOutputs(config.audit.sinks).flatMap(([path, text]) =>
          findCredentials(text, path),
        ),
        ...findCredentials(logLines.join(''), 'the operational log'),
      ]);
    },
  };
}

/** POSTs JSON to /v1/check and returns status and parsed body. */
export async function postCheck(
  sidecar: Sidecar,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${sidecar.httpUrl}/v1/check`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
