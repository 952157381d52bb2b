// DPoP targets: request parts and htu parsed strictly (RFC 3986) and normalised (§6.2.2–6.2.3) before a by-component comparison.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  htuTarget,
  requestTarget,
  sameTarget,
  type HttpTarget,
  type TargetResult,
} from '../../src/token/dpop-target.js';

function target(result: TargetResult): HttpTarget {
  if (!result.ok) throw new Error(result.message);
  return result.target;
}

describe('request targets', () => {
  it.each([
    ['api.example.com', 'api.example.com', 443],
    ['API.Example.com:443', 'api.example.com', 443],
    ['api.example.com:', 'api.example.com', 443],
    ['api.example.com:08443', 'api.example.com', 8443],
    ['192.0.2.1:80', '192.0.2.1', 80],
    ['[2001:DB8:0:0::1]', '[2001:db8::1]', 443],
    ['[::1]:8080', '[::1]', 8080],
    ["a-b_c~d!$&'()*+,;=", "a-b_c~d!$&'()*+,;=", 443],
  ])('takes %s as host %s port %d', (authority, host, port) => {
    expect(target(requestTarget('https', authority, '/x'))).toMatchObject({ host, port });
  });

  it.each([
    '',
    'a/b',
    'a?b',
    'a#b',
    'user@a',
    'a b',
    'a\tb',
    'a\nb',
    'a\\b',
    'a%2eb',
    'a:1:2',
    'a:x',
    'a:123456',
    'a:65536',
    '::1',
    '[a.example]',
    '[::1',
    '[::1]x',
    '[fe80::1%25eth0]',
    '[v1.x]',
    'ä.example',
  ])('refuses the authority %j', (authority) => {
    expect(requestTarget('https', authority, '/x')).toEqual({
      ok: false,
      message: 'the request authority is not host[:port]',
    });
  });

  it('refuses other schemes and paths that are not absolute URI paths', () => {
    for (const scheme of ['ftp', 'https,http', '', 'HTTPS ']) {
      expect(requestTarget(scheme, 'a', '/').ok).toBe(false);
    }
    for (const path of ['x', '*', 'http://a/x', '/a b', '/a%zz', '/a\\b', '/\u0000']) {
      expect(requestTarget('https', 'a', path).ok).toBe(false);
    }
  });

  it('normalises the path: escapes, dot segments, empty', () => {
    const path = (p: string) => target(requestTarget('http', 'a', p)).path;
    expect(path('')).toBe('/');
    expect(path('/a/%7e%41/%2f%3a')).toBe('/a/~A/%2F%3A');
    expect(path('/a/./b/../c/')).toBe('/a/c/');
    expect(path('/a/%2E%2E/c')).toBe('/c');
    expect(path('/../..')).toBe('/');
    expect(path('/é|')).toBe('/%C3%A9%7C');
  });
});

describe('htu targets', () => {
  it('ignore query and fragment, and normalise scheme, host, default port', () => {
    const a = target(htuTarget('HTTPS://API.example.com:443/v1/x?q=1#f'));
    const b = target(requestTarget('https', 'api.example.com', '/v1/x'));
    expect(sameTarget(a, b)).toBe(true);
    expect(target(htuTarget('https://a?x=/y'))).toMatchObject({ path: '/' });
  });

  it.each([
    '/v1/x',
    'https:/v1/x',
    'https//a/x',
    'https://user@a/x',
    'https://user:pw@a/x',
    'https://a b/x',
    'https://a/x y',
    'https://a\\x',
    'mailto:a@b',
    'https://[::1/x',
  ])('refuse %j', (htu) => {
    expect(htuTarget(htu).ok).toBe(false);
  });

  it('no authority the parser accepts carries a delimiter into another component', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 24 }), (authority) => {
        const result = requestTarget('https', authority, '/p');
        if (!result.ok) return;
        expect(result.target.host).not.toMatch(/[/?#@\s\\%]/);
        expect(result.target.path).toBe('/p');
        // The same authority in an htu parses to the same target.
        const again = htuTarget(`https://${authority}/p?q`);
        expect(again.ok && sameTarget(again.target, result.target)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
