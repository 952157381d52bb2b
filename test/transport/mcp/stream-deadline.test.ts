// A stream's deadline is the token's exp, read from a verified JWT; no deadline when there is none to read.
import { describe, expect, it } from 'vitest';
import { streamDeadlineMs } from '../../../src/transport/mcp/stream-deadline.js';

const jwt = (payload: unknown) =>
  `e30.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.sig`;

describe('streamDeadlineMs', () => {
  const now = 1_700_000_000_000;
  const cases: [string, string | undefined, number | undefined][] = [
    ['exp ahead', jwt({ exp: now / 1000 + 90 }), 90_000],
    ['exp passed', jwt({ exp: now / 1000 - 5 }), 0],
    ['no exp', jwt({ sub: 'a' }), undefined],
    ['exp not a number', jwt({ exp: '90' }), undefined],
    ['exp beyond what a timer holds', jwt({ exp: now / 1000 + 40 * 86_400 }), undefined],
    ['an opaque token', 'opaque-token', undefined],
    ['a payload that is not JSON', 'a.b.c', undefined],
    ['no token', undefined, undefined],
  ];
  for (const [name, token, expected] of cases) {
    it(name, () => {
      expect(streamDeadlineMs(token, now)).toBe(expected);
    });
  }
});
