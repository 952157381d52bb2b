// audit.durability: answer_after_write: a sidecar SIGKILLed amid concurrent checks has every answered decision's record in its file sink.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJwksServer, type JwksServer } from '../helpers/jwks-server.js';
import {
  checkOutcome,
  startSidecarProcess,
  writeProcessConfig,
  type SidecarProcess,
} from '../helpers/sidecar-process.js';
import { createTestKey, signToken, type TestKey } from '../helpers/tokens.js';

let key: TestKey;
let jwks: JwksServer;
const running: SidecarProcess[] = [];

beforeAll(async () => {
  key = await createTestKey('ES256');
  jwks = await startJwksServer([key.jwk]);
});
afterAll(async () => {
  await Promise.all(running.map((s) => s.kill('SIGKILL')));
  await jwks?.close();
});

describe('audit durability', { timeout: 180_000 }, () => {
  it('answer_after_write: after a SIGKILL, every answered decision is in the file sink and the spool', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-fault-audit-'));
    const auditPath = join(dir, 'audit.jsonl');
    // An http sink whose collector never answers: its records stay in the spool's segments.
    const spoolDir = join(dir, 'spool');
    const config = writeProcessConfig(
      dir,
      jwks.url,
      `audit:
  durability: answer_after_write
  sinks:
    - { driver: file, path: "${auditPath}" }
    - { driver: http, url: "http://127.0.0.1:9/unreachable", spool: { dir: "${spoolDir}" } }
`,
    );
    const token = await signToken(key, { claims: { tenant: 'acme_inc', scope: 'tickets.write' } });
    const sidecar = await startSidecarProcess(config);
    running.push(sidecar);

    const answered: string[] = [];
    let stopping = false;
    // Concurrent loops, some allowed and some denied, right up to the kill.
    const loops = Array.from({ length: 8 }, async (_v, w) => {
      for (let i = 0; !stopping; i++) {
        try {
          const { decisionId } = await checkOutcome(sidecar, token, {
            action: w % 2 === 0 ? 'tickets.comment' : 'tickets.delete',
            tenant: 'acme_inc',
            resource: { type: 'ticket', id: `t-${w}-${i}` },
          });
          answered.push(decisionId);
        } catch {
          return; // the sidecar is gone
        }
      }
    });
    await new Promise((r) => setTimeout(r, 2000));
    await sidecar.kill('SIGKILL');
    stopping = true;
    await Promise.all(loops);

    expect(answered.length).toBeGreaterThan(20);
    const idsIn = (text: string) =>
      new Set(
        text
          .split('\n')
          .filter((l) => l.length > 0)
          .map((l) => (JSON.parse(l) as { decision_id: string }).decision_id),
      );
    const inFile = idsIn(readFileSync(auditPath, 'utf8'));
    expect(answered.filter((id) => !inFile.has(id))).toEqual([]);
    const segments = readdirSync(spoolDir).filter((n) => n.endsWith('.seg'));
    const inSpool = idsIn(segments.map((n) => readFileSync(join(spoolDir, n), 'utf8')).join(''));
    expect(answered.filter((id) => !inSpool.has(id))).toEqual([]);
  });
});
