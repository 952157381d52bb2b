// The credential scan run when a test sidecar or collector stops: it finds a planted credential in every output it covers.
import { appendFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector } from '../helpers/collector.js';
import {
  CredentialLeakError,
  recordCredential,
  recordedCredentialCount,
} from '../helpers/credential-scan.js';
import { postCheck, startSidecar, type Sidecar } from '../helpers/sidecar.js';

/** A credential recorded the way the token helper records one. */
const PLANTED = `planted-client-secret-${Math.random().toString(36).slice(2)}-0123456789`;

beforeAll(() => {
  recordCredential(PLANTED, 'a planted client secret');
});

/** Stops `sidecar` and returns the leak error its scan threw (or fails the test). */
async function leakOnStop(sidecar: Sidecar): Promise<CredentialLeakError> {
  const err = await sidecar.stop().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CredentialLeakError);
  return err as CredentialLeakError;
}

describe('the credential scan', () => {
  let clean: Sidecar;
  beforeAll(async () => {
    clean = await startSidecar();
  });
  afterAll(async () => {
    await clean?.stop();
  });

  it('records every token the helpers sign, with its signature on its own', async () => {
    const before = recordedCredentialCount();
    await clean.token();
    expect(recordedCredentialCount()).toBe(before + 2);
  });

  it('passes a sidecar whose output holds no credential though its checks carried some', async () => {
    const sidecar = await startSidecar();
    const token = await sidecar.token({ claims: { scope: 'contacts.read' } });
    const { body } = await postCheck(
      sidecar,
      { action: 'contacts.read', context: { note: `Bearer ${PLANTED}`, [token]: token } },
      { authorization: `Bearer ${token}` },
    );
    expect(body['decision_id']).toEqual(expect.any(String));
    expect((await sidecar.rawOutput()).length).toBeGreaterThan(0);
    await expect(sidecar.stop()).resolves.toBeUndefined();
  });

  it('fails the run when an audit file holds a token, naming the file and the token', async () => {
    const sidecar = await startSidecar();
    const token = await sidecar.token();
    await postCheck(sidecar, { action: 'contacts.read' }, { authorization: `Bearer ${token}` });
    await sidecar.auditRecords();
    appendFileSync(sidecar.auditPath, `{"leak":"${token}"}\n`);
    const err = await leakOnStop(sidecar);
    expect(err.hits.map((h) => h.where)).toEqual([sidecar.auditPath, sidecar.auditPath]);
    expect(err.message).toMatch(/a test token \(sub user-1\)/);
    expect(err.message).toMatch(/the signature of a test token/);
    expect(err.message).not.toContain(token);
  });

  it('fails the run when only the signature leaked', async () => {
    const sidecar = await startSidecar();
    const signature = (await sidecar.token()).split('.')[2] as string;
    appendFileSync(sidecar.auditPath, `{"sig":"${signature}"}\n`);
    const err = await leakOnStop(sidecar);
    expect(err.hits).toHaveLength(1);
    expect(err.hits[0]?.what).toMatch(/^the signature of/);
  });

  it('fails the run when the query API answers a credential (an unmasked record in the ring)', async () => {
    const sidecar = await startSidecar();
    sidecar.server.core.audit.ring.push({
      type: 'admin',
      schema_version: 1,
      admin_id: 'planted',
      time: new Date().toISOString(),
      action: 'planted',
      outcome: 'ok',
      status: 200,
      principal: { kind: 'static', id: PLANTED },
    });
    const err = await leakOnStop(sidecar);
    expect(err.hits).toEqual([
      { where: 'GET /v1/decisions', what: 'a planted client secret', prefix: 'plante…' },
    ]);
  });

  it('fails the run when the HTTP collector received a credential', async () => {
    const collector = await startCollector();
    const sidecar = await startSidecar({
      audit: `{ sinks: [ { driver: http, url: "${collector.url}", batch_max_delay_ms: 20 } ], ring_size: 0 }`,
    });
    const token = await sidecar.token();
    await postCheck(sidecar, { action: 'contacts.read' }, { authorization: `Bearer ${token}` });
    await collector.waitForEvents(1);
    await sidecar.stop();
    // The real upload was clean; a planted one is found.
    collector.events.push({ leaked: { [PLANTED]: 1 } });
    const err = await collector.close().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CredentialLeakError);
    expect((err as CredentialLeakError).hits[0]?.where).toBe('the HTTP collector');
  });
});
