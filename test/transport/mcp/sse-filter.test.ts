// The SSE filter: events pass on as they complete, list answers are filtered wherever the stream is cut, oversize events end it.
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createSseFilter } from '../../../src/transport/mcp/sse-filter.js';
import type { Ask } from '../../../src/transport/mcp/list-filter.js';

const allowOnly =
  (...names: string[]): Ask =>
  (question) =>
    names.includes(question.resource?.id ?? '');

async function run(chunks: string[], ask: Ask, max = 1 << 20): Promise<string> {
  return text(
    Readable.from(chunks.map((c) => Buffer.from(c))).pipe(
      createSseFilter({ ask, maxEventBytes: max }),
    ),
  );
}

const LIST = JSON.stringify({
  jsonrpc: '2.0',
  id: 2,
  result: { tools: [{ name: 'crm.search' }, { name: 'crm.delete_contact' }, { title: 'no name' }] },
});
const FILTERED = JSON.stringify({
  jsonrpc: '2.0',
  id: 2,
  result: { tools: [{ name: 'crm.search' }] },
});

describe('SSE filter', () => {
  it('filters a list answer and keeps the event id and type', async () => {
    const out = await run([`event: message\nid: 7\ndata: ${LIST}\n\n`], allowOnly('crm.search'));
    expect(out).toBe(`event: message\nid: 7\ndata: ${FILTERED}\n\n`);
  });

  it('gives the same answer however the stream is cut, with CRLF line ends', async () => {
    const stream = `: keep-alive\r\n\r\nid: 1\r\ndata: ${LIST}\r\n\r\ndata: {"jsonrpc":"2.0","method":"notifications/progress"}\r\n\r\n`;
    const whole = await run([stream], allowOnly('crm.search'));
    // The rewritten list answer is written with LF; the other events pass on byte for byte.
    expect(whole).toBe(
      `: keep-alive\r\n\r\nid: 1\ndata: ${FILTERED}\n\ndata: {"jsonrpc":"2.0","method":"notifications/progress"}\r\n\r\n`,
    );
    for (let cut = 1; cut < stream.length; cut += 7) {
      expect(await run([stream.slice(0, cut), stream.slice(cut)], allowOnly('crm.search'))).toBe(
        whole,
      );
    }
  });

  it('passes other messages untouched, even when they mention tools', async () => {
    const event = `data: {"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"text","text":"\\"tools\\": none"}]}}\n\n`;
    expect(await run([event], allowOnly())).toBe(event);
  });

  it('filters a list whose key is spelt with escapes', async () => {
    const escaped = LIST.replace('"tools"', '"\\u0074ools"');
    expect(await run([`data: ${escaped}\n\n`], allowOnly('crm.search'))).toBe(
      `data: ${FILTERED}\n\n`,
    );
  });

  it('hides a resource notification about a resource the caller may not read, keeping the event id', async () => {
    const updated = (uri: string) =>
      `{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"${uri}"}}`;
    const stream =
      `id: 4\nevent: message\ndata: ${updated('file:///secrets.txt')}\n\n` +
      `data: ${updated('file:\\/\\/\\/secrets.txt')}\n\n` +
      `id: 5\ndata: ${updated('file:///readme.md')}\n\n` +
      `data: {"jsonrpc":"2.0","method":"notifications/resources/updated","params":{}}\n\n`;
    expect(await run([stream], allowOnly('file:///readme.md'))).toBe(
      `id: 4\ndata:\n\nid: 5\ndata: ${updated('file:///readme.md')}\n\n`,
    );
  });

  const big = 'x'.repeat(5000);
  const bigResult = `{"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"text","text":"${big}"}]}}`;

  it('passes an event over the limit on as it comes, whatever the cuts, if it is no list answer', async () => {
    const stream = `id: 9\r\ndata: ${bigResult}\r\n\r\ndata: ${LIST}\n\n`;
    const expected = `id: 9\ndata: ${bigResult}\n\ndata: ${FILTERED}\n\n`;
    // Passed on as received, so line ends may stay CR or CRLF: compared once normalised.
    const lf = (t: string) => t.replace(/\r\n?/g, '\n');
    for (const size of [1, 7, 1000, 4096, stream.length]) {
      const chunks: string[] = [];
      for (let i = 0; i < stream.length; i += size) chunks.push(stream.slice(i, i + size));
      expect(lf(await run(chunks, allowOnly('crm.search'), 1024))).toBe(expected);
    }
  });

  it('sends the start of an oversize event before its end arrives', async () => {
    const filter = createSseFilter({ ask: allowOnly(), maxEventBytes: 1024 });
    const out: string[] = [];
    filter.on('data', (c: Buffer) => out.push(c.toString()));
    filter.write(`data: ${bigResult.slice(0, 3000)}`);
    await new Promise((r) => setImmediate(r));
    expect(out.join('')).toBe(`data: ${bigResult.slice(0, 3000)}`);
    filter.end(`${bigResult.slice(3000)}\n\n`);
    await new Promise((r) => filter.once('end', r));
    expect(out.join('')).toBe(`data: ${bigResult}\n\n`);
  });

  const bigList = JSON.stringify({
    jsonrpc: '2.0',
    id: 2,
    result: { tools: [{ name: 'crm.delete_contact', description: big }, { name: 'crm.search' }] },
  });

  it('answers a list over the limit with an error for the list request, and goes on', async () => {
    const stream = `id: 1\ndata: ${bigList}\n\ndata: {"jsonrpc":"2.0","method":"ping"}\n\n`;
    for (const size of [3, 700, stream.length]) {
      const chunks = (stream.match(new RegExp(`[^]{1,${size}}`, 'g')) ?? []).map((c) =>
        Buffer.from(c),
      );
      const filter = createSseFilter({ ask: allowOnly(), maxEventBytes: 1024, listRequestId: 2 });
      const out = await text(Readable.from(chunks).pipe(filter));
      expect(out).toBe(
        'data: {"jsonrpc":"2.0","id":2,"error":{"code":-32603,"message":"the upstream list answer is too large to filter"}}\n\n' +
          'data: {"jsonrpc":"2.0","method":"ping"}\n\n',
      );
    }
  });

  it('cuts the stream before any item of a list over the limit, wherever the list key comes', async () => {
    const late = `{"jsonrpc":"2.0","id":2,"result":{"nextCursor":"${big}","tools":[{"name":"crm.delete_contact"}]}}`;
    for (const data of [bigList, late]) {
      const sent: string[] = [];
      const filter = createSseFilter({ ask: allowOnly(), maxEventBytes: 1024 });
      filter.on('data', (c: Buffer) => sent.push(c.toString()));
      const chunks = [`id: 1\ndata: `, ...(data.match(/[^]{1,700}/g) ?? []), '\n\n'];
      const failed = await new Promise<Error | undefined>((resolve) => {
        filter.once('error', resolve);
        filter.once('end', () => resolve(undefined));
        for (const c of chunks) filter.write(c);
        filter.end();
      });
      expect(failed?.message).toContain('exceeds the size limit');
      expect(sent.join('')).not.toContain('crm.delete_contact');
      expect(sent.join('')).not.toMatch(/\n\n$/);
    }
  });

  it('gives, however the stream is cut, the same events around ones over the limit', async () => {
    const updated = (uri: string) =>
      `data: {"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"${uri}"}}`;
    // Each event as its lines, and what the client must get (line ends normalised to LF).
    const kinds: [string[], string][] = [
      [[`data: ${LIST}`], `data: ${FILTERED}\n\n`],
      [['id: 3', `data: ${bigResult}`], `id: 3\ndata: ${bigResult}\n\n`],
      [[`data: ${bigResult}`, 'id: 4'], `data: ${bigResult}\nid: 4\n\n`],
      [['id: 5', updated('file:///secrets.txt')], 'id: 5\ndata:\n\n'],
      [[updated('file:///readme.md')], `${updated('file:///readme.md')}\n\n`],
      [[': keep-alive', 'data: é€'], ': keep-alive\ndata: é€\n\n'],
    ];
    const lf = (t: string) => t.replace(/\r\n?/g, '\n');
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({ kind: fc.nat(kinds.length - 1), eol: fc.constantFrom('\n', '\r', '\r\n') }),
          {
            maxLength: 5,
          },
        ),
        fc.array(fc.nat(), { maxLength: 6 }),
        async (events, cuts) => {
          const stream = Buffer.from(
            events
              .map(
                ({ kind, eol }) =>
                  `${(kinds[kind] as [string[], string])[0].join(eol)}${eol}${eol}`,
              )
              .join(''),
          );
          const expected = events
            .map(({ kind }) => (kinds[kind] as [string[], string])[1])
            .join('');
          const at = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
          const chunks = [0, ...at].map((from, i) =>
            stream.subarray(from, [...at, stream.length][i]),
          );
          const filter = createSseFilter({
            ask: allowOnly('crm.search', 'file:///readme.md'),
            maxEventBytes: 1024,
          });
          expect(lf(await text(Readable.from(chunks).pipe(filter)))).toBe(expected);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('drops an event the stream ends in the middle of, as a client would', async () => {
    expect(await run([`data: ${FILTERED}\n\ndata: ${LIST}`], allowOnly('crm.search'))).toBe(
      `data: ${FILTERED}\n\n`,
    );
  });

  it('passes a large result byte for byte, split at every line end and inside multi-byte characters', async () => {
    const result = `id: 9\r\nevent: message\r\ndata: {"jsonrpc":"2.0","id":9,"result":{"content":[{"type":"text","text":"${'é€'.repeat(100_000)}"}]}}\r\n\r\n`;
    const bytes = Buffer.from(result);
    const chunks: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += 1021) chunks.push(bytes.subarray(at, at + 1021));
    const out = await text(
      Readable.from(chunks).pipe(createSseFilter({ ask: allowOnly(), maxEventBytes: 1 << 20 })),
    );
    expect(out).toBe(result);
  });

  it('gives, however the stream is cut, each list answer filtered and every other event as it came', async () => {
    const ending = fc.constantFrom('\n', '\r', '\r\n');
    const line = fc.oneof(
      fc.constant(`data: ${LIST}`),
      fc.constant('data: {"jsonrpc":"2.0","method":"notifications/progress","params":{}}'),
      fc.constant(': keep-alive'),
      fc.constant('id: 4'),
      fc.constant('event: message'),
    );
    const event = fc.record({
      lines: fc.array(line, { minLength: 1, maxLength: 3 }),
      eol: ending,
      // A blank line before the event, outside any event (CRLF: never read as the LF of a CR before).
      idle: fc.constantFrom('', '\r\n'),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(event, { maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 5 }),
        async (events, cuts) => {
          const stream = events
            .map((e) => `${e.idle}${e.lines.join(e.eol)}${e.eol}${e.eol}`)
            .join('');
          const expected = events
            .map((e) => {
              const lists = e.lines.filter((l) => l === `data: ${LIST}`).length;
              // Two data lines make one data value (joined by LF), which is no JSON: passed as it came.
              if (lists === 0 || e.lines.filter((l) => l.startsWith('data')).length > 1) {
                return `${e.idle}${e.lines.join(e.eol)}${e.eol}${e.eol}`;
              }
              return `${e.idle}${e.lines.map((l) => (l === `data: ${LIST}` ? `data: ${FILTERED}` : l)).join('\n')}\n\n`;
            })
            .join('');
          const at = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
          const chunks = [0, ...at].map((from, i) => stream.slice(from, [...at, stream.length][i]));
          expect(await run(chunks, allowOnly('crm.search'))).toBe(expected);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
