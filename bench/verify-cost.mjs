// In-process cost of one uncached ES256 verification: jose's jwtVerify versus mandate's verifier, over distinct tokens.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { importJWK, jwtVerify } from 'jose';
import { DEV_AUDIENCE, DEV_ISSUER, RFC9068_REQUIRED_CLAIMS } from '../dist/config/load.js';
import { loadOrCreateDevSigner } from '../dist/token/dev-signer.js';
import { createTokenVerifier } from '../dist/token/verifier.js';

/**
 * Measures both verifiers over the same distinct tokens, in alternating rounds so drift from other
 * load on the machine hits both alike. Each call is awaited before the next (cost per operation,
 * not throughput). Returns µs/op per round and the best round of each.
 */
export async function measureVerifyCost({
  tokens = 10_000,
  warmup = 2_000,
  rounds = 3,
  cacheEntries = tokens + warmup + 1,
} = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'mandate-verify-cost-'));
  try {
    const signer = await loadOrCreateDevSigner(dir);
    const mint = (i) =>
      signer.mint({
        issuer: DEV_ISSUER,
        audience: DEV_AUDIENCE,
        sub: `user_${i}`,
        tenant: 'acme_inc',
        scope: 'contacts.read tickets.write',
        clientId: 'agent-1',
        ttlSeconds: 3600,
      });
    const warm = await Promise.all(Array.from({ length: warmup }, (_, i) => mint(-1 - i)));
    const set = await Promise.all(Array.from({ length: tokens }, (_, i) => mint(i)));

    const jwk = signer.publicJwks.keys[0];
    const jwksPath = join(dir, 'jwks.json');
    await writeFile(jwksPath, JSON.stringify(signer.publicJwks));
    const publicKey = await importJWK(jwk, 'ES256');
    // What jose itself checks for the same issuer: signature, alg, typ, iss, aud, exp/nbf/iat.
    const joseOptions = {
      issuer: DEV_ISSUER,
      audience: DEV_AUDIENCE,
      algorithms: ['ES256'],
      typ: 'at+jwt',
      clockTolerance: 30,
      requiredClaims: RFC9068_REQUIRED_CLAIMS,
    };
    const joseVerify = async (token) => {
      await jwtVerify(token, publicKey, joseOptions);
    };

    // A fresh verifier per round, with room for every token: each call is a miss that verifies and
    // is then cached, as in the sidecar. A failure would be a bench bug, so it throws.
    const newMandateVerify = async () => {
      const verifier = createTokenVerifier({
        issuers: [
          {
            issuer: DEV_ISSUER,
            keys: { kind: 'jwks_file', path: jwksPath },
            audiences: [DEV_AUDIENCE],
            algorithms: ['ES256'],
            tokenTypes: ['at+jwt'],
            clockToleranceSeconds: 30,
            requiredClaims: RFC9068_REQUIRED_CLAIMS,
          },
        ],
        token: { maxTokenBytes: 16_384, cacheMaxEntries: cacheEntries },
      });
      await verifier.start();
      return async (token) => {
        const result = await verifier.verify(token);
        if (!result.ok) throw new Error(`mandate verifier refused a bench token: ${result.code}`);
        if (result.cached) throw new Error('mandate verifier answered from its cache');
      };
    };

    const time = async (verify, list) => {
      const cpu = process.cpuUsage();
      const start = performance.now();
      for (const token of list) await verify(token);
      const wallUs = ((performance.now() - start) * 1000) / list.length;
      const used = process.cpuUsage(cpu);
      return { wallUs, cpuUs: (used.user + used.system) / list.length };
    };

    const jose = [];
    const mandate = [];
    for (let r = 0; r < rounds; r++) {
      await time(joseVerify, warm);
      jose.push(await time(joseVerify, set));
      const mandateVerify = await newMandateVerify();
      await time(mandateVerify, warm);
      mandate.push(await time(mandateVerify, set));
    }
    const best = (list) => list.reduce((a, b) => (b.wallUs < a.wallUs ? b : a));
    const joseBest = best(jose);
    const mandateBest = best(mandate);
    return {
      tokens,
      rounds,
      jose: { ...joseBest, rounds: jose },
      mandate: { ...mandateBest, rounds: mandate },
      ratio: mandateBest.wallUs / joseBest.wallUs,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// Run directly (`node bench/verify-cost.mjs [--json] [--tokens N]`): bench/run.mjs starts it as a
// child so its JIT and heap are not shared with the orchestrator.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      tokens: { type: 'string', default: '10000' },
      rounds: { type: 'string', default: '3' },
      'cache-entries': { type: 'string' },
    },
  });
  const result = await measureVerifyCost({
    tokens: Number(values.tokens),
    rounds: Number(values.rounds),
    ...(values['cache-entries'] ? { cacheEntries: Number(values['cache-entries']) } : {}),
  });
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    const fmt = (r) => `${r.wallUs.toFixed(1)} µs/op wall, ${r.cpuUs.toFixed(1)} µs/op CPU`;
    console.log(`ES256, ${result.tokens} distinct tokens, best of ${result.rounds} rounds`);
    console.log(`  jose jwtVerify         ${fmt(result.jose)}`);
    console.log(`  mandate verifier.verify ${fmt(result.mandate)}`);
    console.log(`  ratio                  ${result.ratio.toFixed(2)}x`);
  }
}
