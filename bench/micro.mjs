// Micro benchmarks behind the hot-path tricks whose comments cite BENCHMARKS.md: one named case each.
// Run: npm run build && node bench/micro.mjs [case...]   (cases: uuid, record-json, plain-properties)
import { Buffer } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { mayHoldCredential } from '../dist/audit/mask.js';
import { createRandomUuid } from '../dist/lib/uuid.js';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const PER_ROUND = Number(process.env.PER_ROUND ?? 200_000);

/** Median ns per call of `fn` over ROUNDS rounds (after one warm-up round); results are kept, so they escape. */
function nsPerCall(fn) {
  const rounds = [];
  const kept = new Array(1024);
  for (let r = 0; r <= ROUNDS; r++) {
    const started = performance.now();
    for (let i = 0; i < PER_ROUND; i++) kept[i & 1023] = fn(i);
    if (r > 0) rounds.push(((performance.now() - started) * 1e6) / PER_ROUND);
  }
  return rounds.sort((a, b) => a - b)[Math.floor(rounds.length / 2)];
}

const fmt = (ns) => (ns >= 1000 ? `${(ns / 1000).toFixed(2)} µs` : `${ns.toFixed(0)} ns`);

/** The claims and subject of one token, as a decision record carries them in `input`. */
const claims = Object.freeze({
  iss: 'https://as.example.com/',
  sub: 'user_8421',
  aud: 'https://api.example.com',
  client_id: 'agent-billing-7',
  scope: 'billing.view billing.export invoices.read',
  tenant: 'acme_inc',
  jti: '6f1c2a0e-5b7d-4c1e-9a3f-2d8e7b6c5a41',
  iat: 1796300000,
  exp: 1796303600,
  act: { sub: 'agent-billing-7', act: { sub: 'orchestrator-2' } },
});
const subject = Object.freeze({
  sub: 'user_8421',
  tenant: 'acme_inc',
  client_id: 'agent-billing-7',
  scopes: ['billing.view', 'billing.export', 'invoices.read'],
  act: ['agent-billing-7', 'orchestrator-2'],
});

/** A decision record of a cached token's allow, about 1.5 KB of JSON. */
function record(i) {
  return {
    type: 'decision',
    schema_version: 1,
    decision_id: randomUUID(),
    time: new Date(1796300000000 + i).toISOString(),
    transport: 'http',
    allow: true,
    reasons: [],
    action: 'billing.view',
    resource: { type: 'invoice', id: `inv_${i % 1000}` },
    tenant: 'acme_inc',
    sub: 'user_8421',
    client_id: 'agent-billing-7',
    act: ['agent-billing-7', 'orchestrator-2'],
    scopes: ['billing.view', 'billing.export', 'invoices.read'],
    iss: 'https://as.example.com/',
    jti: '6f1c2a0e-5b7d-4c1e-9a3f-2d8e7b6c5a41',
    token_hash: 'sha256:9d2b0f8e6c4a2d1f0e9c8b7a6d5c4b3a2f1e0d9c8b7a6f5e',
    decided_by: 'base',
    policy: { base: 'sha256:4e1c9a0b7d2f', tenant: 'sha256:0a9b8c7d6e5f' },
    policy_cached: true,
    latency_us: 41.7,
    request_id: `req-${i}`,
    eval_ns: 18250,
    peer: '10.0.3.17:52144',
    input: {
      action: 'billing.view',
      resource: {
        type: 'invoice',
        id: `inv_${i % 1000}`,
        attributes: { amount: 1200, currency: 'EUR' },
      },
      context: { ip: '10.0.3.17', method: 'GET', path: `/v1/invoices/inv_${i % 1000}` },
      subject,
      claims,
    },
  };
}

const CASES = {
  /** Decision ids: one pooled-buffer UUID against crypto.randomUUID(), each then hashed once (a look-up). */
  uuid() {
    const randomUuid = createRandomUuid();
    const seen = new Set();
    const ours = nsPerCall(() => {
      const id = randomUuid();
      seen.has(id);
      return id;
    });
    const node = nsPerCall(() => {
      const id = randomUUID();
      seen.has(id);
      return id;
    });
    return [
      `randomUuid ${fmt(ours)}/id, crypto.randomUUID ${fmt(node)}/id (${((100 * ours) / node).toFixed(0)} %)`,
    ];
  },
  /** An audit record's JSON: the whole of it, its precheck, and the share of claims and subject. */
  'record-json'() {
    const records = Array.from({ length: 1024 }, (_, i) => record(i));
    const bytes = Buffer.byteLength(JSON.stringify(records[0]));
    const full = nsPerCall((i) => JSON.stringify(records[i & 1023]));
    const line = JSON.stringify(records[0]);
    const precheck = nsPerCall(() => mayHoldCredential(line));
    const parts = nsPerCall(() => [JSON.stringify(claims), JSON.stringify(subject)]);
    return [
      `record ${bytes} B: JSON.stringify ${fmt(full)}, credential precheck ${fmt(precheck)}, together ${fmt(full + precheck)}`,
      `claims + subject alone: ${fmt(parts)} (${((100 * parts) / full).toFixed(0)} % of the record)`,
    ];
  },
  /** Building a per-decision object with conditional spreads against plain properties. */
  'plain-properties'() {
    const inputs = Array.from({ length: 1024 }, (_, i) => ({
      action: 'billing.view',
      resource: i % 3 ? { type: 'invoice', id: `inv_${i}` } : undefined,
      context: i % 2 ? { ip: '10.0.3.17' } : undefined,
      tenant: i % 5 ? 'acme_inc' : undefined,
    }));
    const spread = nsPerCall((i) => {
      const r = inputs[i & 1023];
      return {
        action: r.action,
        ...(r.resource !== undefined ? { resource: r.resource } : {}),
        ...(r.context !== undefined ? { context: r.context } : {}),
        ...(r.tenant !== undefined ? { tenant: r.tenant } : {}),
      };
    });
    const plain = nsPerCall((i) => {
      const r = inputs[i & 1023];
      return { action: r.action, resource: r.resource, context: r.context, tenant: r.tenant };
    });
    return [
      `conditional spreads ${fmt(spread)}/object, plain properties ${fmt(plain)}/object (${(spread / plain).toFixed(1)}×)`,
    ];
  },
};

const wanted = process.argv.length > 2 ? process.argv.slice(2) : Object.keys(CASES);
console.log(`node ${process.version}, ${ROUNDS} rounds of ${PER_ROUND} (median)`);
for (const name of wanted) {
  const run = CASES[name];
  if (run === undefined) throw new Error(`unknown case ${name}: ${Object.keys(CASES).join(', ')}`);
  for (const line of run()) console.log(`${name}: ${line}`);
}
