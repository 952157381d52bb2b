// Audit end to end: real checks through the whole sidecar to every sink and a real collector, masking, the query API, fail-closed.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type Collector } from '../helpers/collector.js';
import { ADMIN_TOKEN, postCheck, startSidecar, type Sidecar } from '../helpers/sidecar.js';

let collector: Collector;
let sidecar: Sidecar;
let dir: string;

beforeAll(async () => {
  collector = await startCollector();
  dir = mkdtempSync(join(tmpdir(), 'mandate-audit-it-'));
  sidecar = await startSidecar({
    audit: `{ sinks: [
      { driver: file, path: "${dir}/audit.jsonl" },
      { driver: file, name: opa-file, format: opa, path: "${dir}/opa.jsonl" },
      { driver: http, url: "${collector.url}", batch_max_delay_ms: 50, backoff_min_ms: 20, backoff_max_ms: 200,
        spool: { dir: "${dir}/spool" } } ],
      mask: [ { op: erase, path: /input/resource/attributes/ssn }, { op: mask, path: /input/claims/email } ],
      ring_size: 1000, labels: { service: crm-api } }`,
  });
});

afterAll(async () => {
  await sidecar?.stop();
  await collector?.close();
});

async function admin(path: string, token = ADMIN_TOKEN) {
  const res = await fetch(`${sidecar.adminUrl}${path}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function eventFor(decisionId: unknown): Promise<Record<string, unknown>> {
  const end = Date.now() + 20_000;
  for (;;) {
    const found = collector.events.find((e) => e['decision_id'] === decisionId);
    if (found) return found;
    if (Date.now() > end) throw new Error(`no event for ${String(decisionId)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('audit through the whole sidecar', () => {
  it('ships masked OPA events to the collector with attribution, bundles, timers and the caller', async () => {
    const token = await sidecar.token({
      claims: { scope: 'contacts.read', email: 'ann@example.com', sub: 'user_8421' },
    });
    const { body } = await postCheck(
      sidecar,
      {
        action: 'contacts.read',
        resource: { type: 'contact', id: 'c1', attributes: { ssn: '123-45-6789', owner: 'x' } },
        context: { ip: '203.0.113.7' },
      },
      { authorization: `Bearer ${token}`, 'x-request-id': 'req-audit-1' },
    );
    expect(body['allow']).toBe(true);
    const event = await eventFor(body['decision_id']);
    expect(event).toMatchObject({
      labels: { service: 'crm-api', id: expect.any(String), version: expect.any(String) },
      path: expect.stringMatching(/^mandate\/(base|tenant)\/decision$/),
      bundles: {
        base: { revision: expect.any(String) },
        'tenants/acme_inc': { revision: expect.any(String) },
      },
      result: { allow: true, reasons: [] },
      erased: ['/input/resource/attributes/ssn'],
      masked: ['/input/claims/email'],
      requested_by: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
      timestamp: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/),
      input: {
        action: 'contacts.read',
        resource: { type: 'contact', id: 'c1', attributes: { owner: 'x' } },
        context: { ip: '203.0.113.7' },
        subject: { sub: 'user_8421', tenant: 'acme_inc', client_id: 'agent-1' },
        claims: { email: '[masked]', sub: 'user_8421' },
      },
      mandate: {
        type: 'decision',
        schema_version: 1,
        tenant: 'acme_inc',
        sub: 'user_8421',
        client_id: 'agent-1',
        scopes: ['contacts.read'],
        request_id: 'req-audit-1',
      },
    });
    const metrics = event['metrics'] as Record<string, number>;
    expect(metrics['timer_rego_query_eval_ns']).toBeGreaterThan(0);
    expect(metrics['timer_server_handler_ns']).toBeGreaterThan(0);
    // The same record, in mandate's own schema, in the file sink and the ring.
    await sidecar.server.core.audit.flush();
    const record = readFileSync(join(dir, 'audit.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((r) => r['decision_id'] === body['decision_id']);
    expect(record).toMatchObject({
      erased: ['/input/resource/attributes/ssn'],
      peer: event['requested_by'],
    });
  });

  it('never writes the raw token or an Authorization header to any sink, however the caller smuggles it', async () => {
    const token = await sidecar.token({ claims: { scope: 'contacts.read' } });
    const signature = token.split('.')[2] as string;
    // Over the collector being down, so the spool files hold the records too.
    await collector.down();
    const smuggled = {
      headers: { Authorization: `Bearer ${token}`, cookie: `session=${signature}` },
      note: `see ${token}`,
      nested: [{ auth: `bearer ${token}` }],
    };
    const checks = [
      postCheck(
        sidecar,
        { action: 'contacts.read', context: smuggled },
        { authorization: `Bearer ${token}` },
      ),
      postCheck(
        sidecar,
        { action: 'contacts.delete', resource: { type: 'c', id: token } },
        { authorization: `Bearer ${token}` },
      ),
      postCheck(sidecar, { token: `${token}x`, action: 'contacts.read', context: smuggled }),
      postCheck(
        sidecar,
        { action: 'contacts.read', tenant: 'globex', context: smuggled },
        { authorization: `Bearer ${token}`, 'x-request-id': token },
      ),
    ];
    const ids = (await Promise.all(checks)).map((c) => c.body['decision_id']);
    await sidecar.server.core.audit.flush();
    const spoolText = readdirSync(join(dir, 'spool'))
      .filter((f) => f.endsWith('.seg'))
      .map((f) => readFileSync(join(dir, 'spool', f), 'utf8'))
      .join('\n');
    expect(ids.every((id) => spoolText.includes(String(id)))).toBe(true);
    await collector.up();
    for (const id of ids) await eventFor(id);
    const ring = await admin('/v1/decisions?limit=100');

    const outputs: Record<string, string> = {
      'file (mandate)': readFileSync(join(dir, 'audit.jsonl'), 'utf8'),
      'file (opa)': readFileSync(join(dir, 'opa.jsonl'), 'utf8'),
      spool: spoolText,
      collector: JSON.stringify(collector.events),
      'GET /v1/decisions': JSON.stringify(ring.body),
      'operational log': await sidecar.rawOutput(),
    };
    for (const [sink, text] of Object.entries(outputs)) {
      expect(text.length, sink).toBeGreaterThan(0);
      expect(text.includes(token), `${sink} holds the token`).toBe(false);
      expect(text.includes(signature), `${sink} holds the token signature`).toBe(false);
      expect(/bearer\s+ey/i.test(text), `${sink} holds a bearer credential`).toBe(false);
      expect(
        /"(proxy-)?authorization"\s*:/i.test(text),
        `${sink} holds an authorization header`,
      ).toBe(false);
    }
    expect(collector.malformed).toEqual([]);
  });

  it('answers GET /v1/decisions by tenant, subject, agent, action, outcome, time and cursor', async () => {
    const agentToken = await sidecar.token({
      claims: {
        scope: 'contacts.read',
        sub: 'user-q',
        client_id: 'agent-q',
        act: { sub: 'support-bot' },
      },
    });
    const started = new Date().toISOString();
    const auth = { authorization: `Bearer ${agentToken}` };
    const allowed = await postCheck(sidecar, { action: 'contacts.read' }, auth);
    expect(allowed.body['allow']).toBe(true);
    const denied = await postCheck(sidecar, { action: 'contacts.update' }, auth);
    await postCheck(sidecar, { action: 'contacts.read', tenant: 'globex' }, auth);
    await sidecar.server.core.audit.flush();

    const bySub = await admin('/v1/decisions?sub=user-q&tenant=acme_inc');
    expect(bySub.status).toBe(200);
    const records = bySub.body['records'] as Record<string, unknown>[];
    expect(records.map((r) => r['decision_id'])).toEqual(
      expect.arrayContaining([allowed.body['decision_id'], denied.body['decision_id']]),
    );
    expect(records.every((r) => r['sub'] === 'user-q' && r['tenant'] === 'acme_inc')).toBe(true);
    expect(bySub.body).toMatchObject({ source: 'ring', complete: true, more: false });

    const denials = await admin(`/v1/decisions?agent=support-bot&allow=false&since=${started}`);
    expect(
      (denials.body['records'] as Record<string, unknown>[]).map((r) => r['decision_id']),
    ).toEqual([
      denied.body['decision_id'],
      expect.any(String), // the tenant_mismatch denial
    ]);
    const byAction = await admin(
      '/v1/decisions?client_id=agent-q&action=contacts.*&reason=insufficient_scope',
    );
    expect((byAction.body['records'] as unknown[]).length).toBe(1);

    const tail = await admin('/v1/decisions?sub=user-q&limit=1');
    expect(tail.body).toMatchObject({ more: true });
    expect((tail.body['records'] as Record<string, unknown>[])[0]?.['reasons']).toMatchObject([
      { code: 'tenant_mismatch' },
    ]);
    const next = tail.body['next_after'] as number;
    const later = await postCheck(sidecar, { action: 'contacts.read' }, auth);
    await sidecar.server.core.audit.flush();
    const followed = await admin(`/v1/decisions?sub=user-q&after=${next}`);
    expect(
      (followed.body['records'] as Record<string, unknown>[]).map((r) => r['decision_id']),
    ).toEqual([later.body['decision_id']]);

    const fromFile = await admin(`/v1/decisions?sub=user-q&source=file&since=${started}`);
    expect(fromFile.body).toMatchObject({ source: 'file' });
    expect((fromFile.body['records'] as unknown[]).length).toBe(4);

    expect((await admin('/v1/decisions?tenat=acme_inc')).body).toMatchObject({
      error: 'invalid_request',
      message: expect.stringMatching(/^tenat: unknown parameter/),
    });
    expect((await admin('/v1/decisions?since=yesterday')).status).toBe(400);
    expect((await admin('/v1/decisions?limit=0')).status).toBe(400);
    expect((await admin('/v1/decisions', 'not-the-admin-token-0123456789abcdef')).status).toBe(401);
  });

  it('exposes written/delivered counts, spool size and oldest undelivered age as metrics', async () => {
    await new Promise((r) => setTimeout(r, 1100));
    const text = await (await fetch(`${sidecar.httpUrl}/metrics`)).text();
    expect(text).toMatch(/mandate_audit_records_total\{sink="http",result="written"\} \d+/);
    expect(text).toMatch(/mandate_audit_records_total\{sink="http",result="delivered"\} \d+/);
    expect(text).toMatch(/mandate_audit_records_total\{sink="opa-file",result="written"\} \d+/);
    expect(text).toMatch(/mandate_audit_spool_bytes\{sink="http"\} \d+/);
    expect(text).toMatch(/mandate_audit_oldest_undelivered_seconds\{sink="http"\} [\d.]+/);
  });
});

describe('fail-closed audit', () => {
  it('denies with audit_unavailable while the spool is full, reports not ready, and recovers', async () => {
    const down = await startCollector();
    await down.down();
    const spool = mkdtempSync(join(tmpdir(), 'mandate-fc-'));
    const sc = await startSidecar({
      audit: `{ sinks: [ { driver: http, url: "${down.url}", backoff_min_ms: 20, backoff_max_ms: 100,
        spool: { dir: "${spool}", max_bytes: 65536, segment_max_bytes: 16384 } } ] }`,
    });
    try {
      const token = await sc.token({ claims: { scope: 'contacts.read' } });
      const auth = { authorization: `Bearer ${token}` };
      let last: Record<string, unknown> = {};
      let allowed = 0;
      for (let i = 0; i < 500; i++) {
        last = (
          await postCheck(sc, { action: 'contacts.read', context: { pad: 'p'.repeat(300) } }, auth)
        ).body;
        if (last['allow'] !== true) break;
        allowed++;
        if (i % 10 === 0) await sc.server.core.audit.flush();
      }
      expect(allowed).toBeGreaterThan(10);
      expect(last).toMatchObject({ allow: false, reasons: [{ code: 'audit_unavailable' }] });
      const ready = await fetch(`${sc.httpUrl}/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ components: { audit: { state: 'ERROR' } } });

      await down.up();
      await down.waitForEvents(allowed);
      const end = Date.now() + 20_000;
      let again: Record<string, unknown> = {};
      while (Date.now() < end) {
        again = (await postCheck(sc, { action: 'contacts.read' }, auth)).body;
        if (again['allow'] === true) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(again['allow']).toBe(true);
      // Every allowed decision was delivered; none twice.
      const delivered = new Set(down.events.map((e) => e['decision_id']));
      expect(delivered.size).toBe(down.events.length);
    } finally {
      await sc.stop();
      await down.close();
    }
  });
});
