// The JWKS fetch log (src/token/jwks-log.ts): one WARN a minute per failing issuer, INFO when keys arrive.
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createJwksFetchLog } from '../../src/token/jwks-log.js';

function setup() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    }),
  );
  let t = 0;
  const log = createJwksFetchLog(logger, () => t);
  return { lines, log, advance: (ms: number) => (t += ms) };
}

describe('JWKS fetch log', () => {
  it('logs the first failure, then at most one a minute with the count left out, per issuer', () => {
    const { lines, log, advance } = setup();
    const fail = (issuer: string) =>
      log(issuer, { result: 'error', error: 'HTTP 503', hasKeys: false });
    fail('a');
    for (let i = 0; i < 10; i++) {
      advance(1000);
      fail('a');
    }
    fail('b');
    advance(60_000);
    fail('a');
    expect(lines.map((l) => [l['level'], l['issuer'], l['failuresNotLogged']])).toEqual([
      [40, 'a', undefined],
      [40, 'b', undefined],
      [40, 'a', 10],
    ]);
    expect(lines[0]).toMatchObject({ error: 'HTTP 503' });
  });

  it('INFO on first load, on recovery and when the kids change; quiet on an unchanged refresh', () => {
    const { lines, log } = setup();
    log('a', { result: 'ok', keys: 2, changed: true });
    log('a', { result: 'ok', keys: 2, changed: false });
    log('a', { result: 'error', error: 'timed out after 5000 ms', hasKeys: true });
    log('a', { result: 'ok', keys: 2, changed: false });
    expect(lines.map((l) => [l['level'], l['msg'], l['recovered']])).toEqual([
      [30, 'JWKS keys loaded', undefined],
      [40, 'JWKS fetch failed; serving the last good keys', undefined],
      [30, 'JWKS keys loaded', true],
    ]);
  });
});
