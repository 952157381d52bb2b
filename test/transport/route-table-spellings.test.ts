// Property: a path spelled otherwise than a route's literals (case, ;parameters) never reaches another route than the literal spelling does.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EnvoyRouteConfig, PathParameters } from '../../src/config/envoy.js';
import { createRouteTable } from '../../src/transport/route-table.js';

/** Route literals, distinct once case-folded (as the config requires of siblings); one has capitals. */
const LITERALS = ['admin', 'a', 'b', 'Keys', 'x'] as const;
/** Other segments, none a spelling of a literal. */
const WORDS = ['c1', 'zz', 'admin2', 'k'] as const;

const template = fc
  .tuple(
    fc.array(fc.oneof(fc.constantFrom(...LITERALS), fc.constant('{}')), {
      minLength: 0,
      maxLength: 3,
    }),
    fc.boolean(),
  )
  .map(([segments, rest]) => {
    const named = segments.map((s, i) => (s === '{}' ? `{p${i}}` : s));
    if (rest) named.push('{r*}');
    return named.length === 0 ? '/' : `/${named.join('/')}`;
  });

const routes = fc.array(
  fc.record({
    path: template,
    methods: fc.constantFrom(['GET'], ['GET', 'PATCH'], ['*']),
  }),
  { minLength: 1, maxLength: 6 },
);

/** How one segment of the literal spelling is respelled, as some upstream reads it the same. */
const HOW = ['none', 'upper', 'first-upper', 'parameter', 'encoded-parameter'] as const;
const respelling = fc.constantFrom(...HOW);

function respell(segment: string, how: (typeof HOW)[number]): string {
  switch (how) {
    case 'upper':
      return segment.toUpperCase() === segment ? segment.toLowerCase() : segment.toUpperCase();
    case 'first-upper':
      return segment.charAt(0).toUpperCase() + segment.slice(1).toLowerCase();
    case 'parameter':
      return `${segment};v=1`;
    case 'encoded-parameter':
      return `${segment}%3Bjsessionid=0`;
    case 'none':
      return segment;
  }
}

const path = fc.array(fc.tuple(fc.constantFrom<string>(...LITERALS, ...WORDS), respelling), {
  minLength: 0,
  maxLength: 4,
});

describe('route table: spellings of literals', () => {
  for (const mode of ['reject', 'allow'] as const satisfies readonly PathParameters[]) {
    it(`path_parameters: ${mode}: a respelled path maps to nothing or to the literal spelling's route`, () => {
      fc.assert(
        fc.property(routes, path, fc.constantFrom('GET', 'PATCH'), (list, segments, method) => {
          const table = createRouteTable(
            list.map((r, i): EnvoyRouteConfig => ({
              methods: r.methods,
              path: r.path,
              action: `a${i}`,
            })),
            { pathParameters: mode },
          );
          const literal = `/${segments.map(([s]) => s).join('/')}`;
          const respelled = `/${segments.map(([s, how]) => respell(s, how)).join('/')}`;
          const got = table.match(method, respelled);
          if (mode === 'reject' && /;|%3B/i.test(respelled)) {
            expect(got, respelled).toBeUndefined();
          }
          if (got !== undefined) {
            expect(got.template, `${respelled} against ${literal}`).toBe(
              table.match(method, literal)?.template,
            );
          }
        }),
        { numRuns: 3000 },
      );
    });
  }
});
