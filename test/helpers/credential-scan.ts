// Every credential the tests send (tokens, their signatures, admin tokens, client secrets), and a scan of audit output for any of them.
import { readFileSync } from 'node:fs';
import { rotatedFiles } from '../../src/audit/file-scan.js';
import type { AuditSinkConfig } from '../../src/config/types.js';

/**
 * Shorter values are not recorded: a short test secret (`s3cret`) also reads as an ordinary word
 * and would be found where nothing leaked. Every token, signature and admin token is far longer.
 */
const MIN_CREDENTIAL_CHARS = 16;

/** Credential text → what it is (for the failure message, which never prints the credential). */
const credentials = new Map<string, string>();

/**
 * Records a credential this process sends, so the scans fail if any audit output holds it.
 * A compact JWS is recorded whole and by its signature alone (a signature is enough to leak).
 */
export function recordCredential(value: string, what: string): void {
  if (value.length < MIN_CREDENTIAL_CHARS) return;
  if (!credentials.has(value)) credentials.set(value, what);
  const parts = value.split('.');
  const signature = parts[2];
  if (parts.length === 3 && signature !== undefined && signature.length >= MIN_CREDENTIAL_CHARS) {
    if (!credentials.has(signature)) credentials.set(signature, `the signature of ${what}`);
  }
}

/** How many credentials are recorded so far (a scan over none would prove nothing). */
export function recordedCredentialCount(): number {
  return credentials.size;
}

/** One credential found in one output: where, what it was, and a short prefix to tell it by. */
export interface CredentialHit {
  readonly where: string;
  readonly what: string;
  readonly prefix: string;
}

/** Every recorded credential `text` holds. */
export function findCredentials(text: string, where: string): CredentialHit[] {
  const hits: CredentialHit[] = [];
  if (text.length === 0) return hits;
  for (const [value, what] of credentials) {
    if (text.includes(value)) hits.push({ where, what, prefix: `${value.slice(0, 6)}…` });
  }
  return hits;
}

/** Thrown at the end of a test sidecar's or collector's life when its output held a credential. */
export class CredentialLeakError extends Error {
  constructor(readonly hits: readonly CredentialHit[]) {
    super(
      `credential scan: ${hits.length} credential(s) in audit output:\n${hits
        .map((h) => `  ${h.what} (${h.prefix}) in ${h.where}`)
        .join('\n')}`,
    );
    this.name = 'CredentialLeakError';
  }
}

/** Throws CredentialLeakError when any hit was found. */
export function assertNoCredentials(hits: readonly CredentialHit[]): void {
  if (hits.length > 0) throw new CredentialLeakError(hits);
}

/** The text of every file a sidecar's file sinks wrote (rotated files included), by path. */
export function fileSinkOutputs(sinks: readonly AuditSinkConfig[]): [string, string][] {
  const out: [string, string][] = [];
  for (const sink of sinks) {
    if (sink.driver !== 'file') continue;
    for (const path of rotatedFiles(sink.path, sink.maxFiles)) {
      try {
        out.push([path, readFileSync(path, 'utf8')]);
      } catch {
        // Removed by the test itself: nothing left to leak.
      }
    }
  }
  return out;
}

/**
 * What `GET /v1/decisions` answers a platform admin (the ring, newest 10000), or undefined when
 * the admin listener does not answer (already stopped, no ring, another admin token).
 */
export async function queryApiOutput(
  adminUrl: string,
  adminToken: string,
): Promise<string | undefined> {
  try {
    const res = await fetch(`${adminUrl}/v1/decisions?limit=10000&source=ring`, {
      headers: { authorization: `Bearer ${adminToken}` },
      signal: AbortSignal.timeout(5000),
    });
    return res.status === 200 ? await res.text() : undefined;
  } catch {
    return undefined;
  }
}
