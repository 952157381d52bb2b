// The SSE filter: events pass on as they complete, list answers are filtered wherever the stream is cut, oversize events end it.
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { createSseFilter } from '../../../src/transport/mcp/sse-filter.js';
import type { Ask } from '../../../src/transport/mcp/list-filter.js';

const allowOnly =
  (...names: string[]): Ask =>
  (question) =>
    names.includes(question.resource?.id ?? '');

async function run(chunks: string[], ask: Ask, max = 1 << 20): Promise<string> {
  return text(Readable.from(chunks.map((c) => Buffer.from(c))).pipe(createSseFilter(ask, max)));
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
    expect(whole).toBe(
      `: keep-alive\n\nid: 1\ndata: ${FILTERED}\n\ndata: {"jsonrpc":"2.0","method":"notifications/progress"}\n\n`,
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

  it('ends the stream with an error when one event outgrows the limit', async () => {
    await expect(run([`data: ${'x'.repeat(5000)}`], allowOnly(), 1024)).rejects.toThrow(
      'exceeds the size limit',
    );
  });

  it('drops an event the stream ends in the middle of, as a client would', async () => {
    expect(await run([`data: ${FILTERED}\n\ndata: ${LIST}`], allowOnly('crm.search'))).toBe(
      `data: ${FILTERED}\n\n`,
    );
  });
});
