// Generated crypto.*, urlquery.* and time.* cases: ordinary values, edges (unicode, escapes, dates, zones) and wrong types.
import type { BuiltinCase } from './run-both.js';

const STRINGS = [
  '',
  'a',
  'hello world',
  'Zoë ✓ 𝄞',
  'a+b=c&d',
  '100%',
  '~-._',
  '/path?x=1#frag',
  '\u0000\n\t',
  'x'.repeat(300),
];

/** ns values exactly representable as doubles (multiples of 512), so both sides read the same number. */
const INSTANTS = [
  0,
  1_700_000_000_000_000_000,
  1_709_164_800_000_000_000, // 2024-02-29
  951_782_400_000_000_000, // 2000-02-29
  -1_000_000_000,
  -86_400_000_000_000,
  2_524_608_000_000_000_000, // 2050-01-01
  1_700_000_000_999_999_488,
  1_711_846_800_000_000_000, // 2024-03-31 01:00 UTC, DST changes in Europe
  1_699_164_000_000_000_000, // 2023-11-05 06:00 UTC, DST ends in New York
  4_102_444_800_000_000_000, // 2100-01-01
];

const ZONES = [
  '',
  'UTC',
  'America/New_York',
  'Europe/Berlin',
  'Asia/Kolkata',
  'Australia/Lord_Howe',
  'Pacific/Chatham',
  'Not/AZone',
];

export function otherCases(): BuiltinCase[] {
  const cases: BuiltinCase[] = [];
  const add = (fn: string, note: string, ...args: unknown[]) => cases.push({ fn, args, note });

  for (const fn of ['crypto.md5', 'crypto.sha1', 'crypto.sha256']) {
    for (const s of STRINGS) add(fn, JSON.stringify(s).slice(0, 20), s);
    add(fn, 'a number', 1);
    add(fn, 'an array', ['a']);
  }
  for (const fn of [
    'crypto.hmac.md5',
    'crypto.hmac.sha1',
    'crypto.hmac.sha256',
    'crypto.hmac.sha512',
  ]) {
    for (const [s, k] of [
      ['msg', 'key'],
      ['', ''],
      ['Zoë', 'ключ'],
      ['x'.repeat(200), 'k'.repeat(200)],
    ]) {
      add(fn, `${s.slice(0, 5)}/${k.slice(0, 5)}`, s, k);
    }
    add(fn, 'key a number', 'msg', 5);
    add(fn, 'message null', null, 'k');
  }
  for (const [a, b] of [
    ['abc', 'abc'],
    ['abc', 'abd'],
    ['', ''],
    ['a', 'ab'],
    ['é', 'é'],
  ]) {
    add('crypto.hmac.equal', `${a}=${b}`, a, b);
  }
  add('crypto.hmac.equal', 'a number', 1, '1');

  for (const s of STRINGS) add('urlquery.encode', JSON.stringify(s).slice(0, 20), s);
  add('urlquery.encode', 'a number', 3);
  for (const s of [
    'a+b',
    'a%20b',
    '%zz',
    '%',
    '%4',
    'caf%C3%A9',
    '%e2%9c%93',
    'plain',
    '',
    '%FF',
    'a=b&c',
  ]) {
    add('urlquery.decode', s, s);
  }
  add('urlquery.decode', 'an object', {});
  for (const [note, value] of [
    ['strings', { a: 'b', 'c d': 'e&f', z: '' }],
    ['arrays', { b: ['2', '1'], a: ['x y'] }],
    ['empty array', { a: [] }],
    ['empty', {}],
    ['number value', { a: 1 }],
    ['array with a number', { a: ['x', 2] }],
    ['unicode keys', { ключ: 'значение', Z: 'z', a: 'A' }],
    ['not an object', 'a=b'],
  ] as const) {
    add('urlquery.encode_object', note, value);
  }
  for (const q of [
    'a=1&b=2',
    'a=1&a=2',
    'a',
    '=x',
    'a=&b',
    '&&a=1&&',
    'a=1;b=2',
    'a=%zz&b=1',
    'k+1=v+1',
    'caf%C3%A9=%E2%9C%93',
    '',
    'a==b',
  ]) {
    add('urlquery.decode_object', q, q);
  }
  add('urlquery.decode_object', 'a number', 1);

  for (const s of [
    '2024-02-29T12:00:00Z',
    '2023-02-29T12:00:00Z',
    '1970-01-01T00:00:00Z',
    '2024-01-01T00:00:00.123456789Z',
    '2024-01-01T00:00:00.1234567891234Z',
    '2024-01-01T00:00:00,5Z',
    '2024-01-01T00:00:00.Z',
    '2024-01-01T00:00:00+05:30',
    '2024-01-01T00:00:00-08:00',
    '2024-01-01T00:00:00+24:00',
    '2024-01-01T00:00:00+23:59',
    '2024-01-01T00:00:00+24:60',
    '2024-01-01T00:00:00+23:61',
    '2024-01-01T00:00:00+25:00',
    '2024-01-01T00:00:00',
    '2024-01-01t00:00:00z',
    '2024-01-01 00:00:00Z',
    '2024-13-01T00:00:00Z',
    '2024-04-31T00:00:00Z',
    '2024-01-01T24:00:00Z',
    '2024-01-01T23:60:00Z',
    '2024-01-01T23:59:60Z',
    '0001-01-01T00:00:00Z',
    '1677-09-21T00:12:43Z',
    '2262-04-11T23:47:16Z',
    '2262-04-12T00:00:00Z',
    '9999-12-31T23:59:59Z',
    '24-01-01T00:00:00Z',
    '',
  ]) {
    add('time.parse_rfc3339_ns', s, s);
  }
  add('time.parse_rfc3339_ns', 'a number', 5);
  for (const s of [
    '1h',
    '1h30m',
    '-1.5h',
    '+2s',
    '300ms',
    '1us',
    '1µs',
    '1μs',
    '2ns',
    '0',
    '-0',
    '',
    '1',
    '1d',
    '.5s',
    '5.s',
    '.s',
    '1.0000000001s',
    '2562047h47m16.854775807s',
    '2562047h47m16.854775808s',
    '-2562047h47m16.854775808s',
    '1h-1m',
    '1H',
    '3m2.5s1ms',
    '1w',
    '1.5d',
    '1y2d',
    '1mo',
    '1M',
  ]) {
    add('time.parse_duration_ns', s, s);
  }
  add('time.parse_duration_ns', 'a number', 5);

  for (const ns of INSTANTS) {
    for (const fn of ['time.date', 'time.clock', 'time.weekday']) {
      add(fn, `${ns}`, ns);
      for (const zone of ZONES) add(fn, `${ns} ${zone}`, [ns, zone]);
    }
    add('time.add_date', `${ns} +1y`, ns, 1, 0, 0);
    add('time.add_date', `${ns} +1m`, ns, 0, 1, 0);
    add('time.add_date', `${ns} -1d`, ns, 0, 0, -1);
    add('time.add_date', `${ns} +13m +40d`, ns, 0, 13, 40);
    add('time.add_date', `${ns} NY +1m`, [ns, 'America/New_York'], 0, 1, 0);
    add('time.diff', `${ns} vs 2024`, ns, 1_704_067_200_000_000_000);
    add(
      'time.diff',
      `2024 vs ${ns} Berlin`,
      [1_704_067_200_000_000_000, 'Europe/Berlin'],
      [ns, 'UTC'],
    );
  }
  add('time.add_date', 'Jan 31 + 1 month', 1_706_659_200_000_000_000, 0, 1, 0);
  add('time.add_date', 'Feb 29 + 1 year', 1_709_164_800_000_000_000, 1, 0, 0);
  add('time.add_date', 'beyond 2262', 1_700_000_000_000_000_000, 300, 0, 0);
  add('time.add_date', 'fractional years', 0, 1.5, 0, 0);
  add('time.add_date', 'years a string', 0, '1', 0, 0);
  for (const fn of ['time.date', 'time.clock', 'time.weekday']) {
    add(fn, 'fractional ns', 1.5);
    add(fn, 'a string', '2024');
    add(fn, 'empty array', []);
    add(fn, 'zone a number', [0, 5]);
    add(fn, 'with a layout', [0, 'UTC', 'RFC3339']);
    add(fn, 'ns a string in array', ['0']);
  }
  for (const s of [
    '10',
    '10k',
    '10K',
    '1.5Ki',
    '1m',
    '1000m',
    '1M',
    '2Mi',
    '2mi',
    '1G',
    '1Gi',
    '3T',
    '3Ti',
    '1P',
    '1Pi',
    '1E',
    '1Ei',
    '0.1',
    '.5k',
    '5.',
    '1e3',
    '1e3k',
    '1E-3',
    '1e1234567',
    '-1k',
    '+2',
    '"10k"',
    '10 k',
    'k',
    '',
    '1x',
    '1kb',
    '1e',
    '1.2.3',
    '0.333333333333m',
  ]) {
    add('units.parse', s, s);
  }
  add('units.parse', 'a number', 10);
  for (const s of [
    '10',
    '10kb',
    '10KB',
    '10k',
    '1kib',
    '1KiB',
    '1ki',
    '1mb',
    '1MiB',
    '1gb',
    '1GiB',
    '1tb',
    '1tib',
    '1pb',
    '1pib',
    '1eb',
    '1eib',
    '1.5kb',
    '1.5',
    '.5mb',
    '1e3',
    '1e3kb',
    '1e',
    '1ei',
    '-1kb',
    '"5mb"',
    '5 mb',
    'mb',
    '',
    '1xb',
    '1e1234567',
    '3.999',
  ]) {
    add('units.parse_bytes', s, s);
  }
  add('units.parse_bytes', 'a number', 10);
  for (const s of [
    '6ba7b810-9dad-11d1-80b4-00c04fd430c8',
    '00000000-0000-0000-0000-000000000000',
    'urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8',
    'URN:UUID:6BA7B810-9DAD-11D1-80B4-00C04FD430C8',
    '{6ba7b810-9dad-11d1-80b4-00c04fd430c8}',
    '6ba7b8109dad11d180b400c04fd430c8',
    'f47ac10b-58cc-4372-a567-0e02b2c3d479',
    '000003e8-8c1b-21ec-ad00-325096b39f47',
    '000003e8-8c1b-21ec-ad07-335096b39f47',
    '1ec9414c-232a-6b00-b3c8-9e6bdeced846',
    '017f22e2-79b0-7cc3-98c4-dc0c0c07398f',
    '6ba7b810-9dad-11d1-c0b4-01c04fd430c8',
    '6ba7b810-9dad-11d1-e0b4-02c04fd430c8',
    '6ba7b810-9dad-11d1-00b4-03c04fd430c8',
    '6ba7b810-9dad-31d1-80b4-00c04fd430c8',
    '6ba7b810x9dad-11d1-80b4-00c04fd430c8',
    '6ba7b810-9dad-11d1-80b4-00c04fd430cg',
    'bad',
    '',
  ]) {
    add('uuid.parse', s, s);
  }
  add('uuid.parse', 'a number', 1);
  add('uuid.rfc4122', 'a string key', 'k');
  add('uuid.rfc4122', 'another key', 'other');
  for (const s of [
    '10.0.0.0/8',
    '10.0.0.1/32',
    '10.0.0.0/33',
    '10.0.0.0/08',
    '010.0.0.0/8',
    '10.0.0/8',
    '10.0.0.0',
    '10.0.0.0/',
    '10.0.0.0/-1',
    '::/0',
    '2001:db8::/32',
    '2001:db8::/129',
    '::ffff:10.0.0.1/120',
    'fe80::1%eth0/64',
    '2001:db8::1/64',
    ' 10.0.0.0/8',
    '10.0.0.0/8 ',
    '1.2.3.4/1e1',
    '',
  ]) {
    add('net.cidr_is_valid', s, s);
  }
  add('net.cidr_is_valid', 'a number', 8);
  add('net.cidr_is_valid', 'an array', ['10.0.0.0/8']);
  return cases;
}
