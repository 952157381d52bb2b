// The incremental list-answer scan agrees with JSON.parse + isListAnswer on whole messages, however the text is cut.
import { describe, expect, it } from 'vitest';
import { createListAnswerScan } from '../../../src/transport/mcp/list-answer-scan.js';
import { isListAnswer } from '../../../src/transport/mcp/list-filter.js';

const cases: [string, string][] = [
  ['a tools list', '{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a"}]}}'],
  ['the result first, as the SDK writes it', '{"result":{"prompts":[]},"jsonrpc":"2.0","id":1}'],
  ['the list after other members', '{"id":1,"result":{"nextCursor":"x","resourceTemplates":[]}}'],
  ['a key spelt with escapes', '{"id":1,"result":{"\\u0074ools":[{"name":"a"}]}}'],
  ['whitespace everywhere', ' { "result" : { "resources" :\n [ ] } } '],
  ['a tool result', '{"id":2,"result":{"content":[{"type":"text","text":"\\"tools\\":[1]"}]}}'],
  ['tools deeper than result', '{"id":2,"result":{"structuredContent":{"tools":[]}}}'],
  ['tools beside result', '{"id":2,"tools":[],"result":{}}'],
  ['a list key holding no array', '{"id":2,"result":{"tools":{"a":[]}}}'],
  ['a notification', '{"method":"notifications/tools/list_changed","params":{"tools":[]}}'],
  ['a string named like a key', '{"result":{"x":"tools","y":["tools"]}}'],
];

describe('list answer scan', () => {
  for (const [name, text] of cases) {
    it(`${name}: as isListAnswer says, fed whole or cut at any point`, () => {
      const expected = isListAnswer(JSON.parse(text));
      for (let cut = 0; cut <= text.length; cut++) {
        const scan = createListAnswerScan();
        scan.feed(text.slice(0, cut));
        scan.feed(text.slice(cut));
        expect(scan.listAnswer).toBe(expected);
      }
    });
  }

  it('scans a 64 MiB string in one pass without keeping it', () => {
    const scan = createListAnswerScan();
    scan.feed('{"id":3,"result":{"content":[{"type":"text","text":"');
    const piece = 'x'.repeat(1 << 20);
    for (let i = 0; i < 64; i++) scan.feed(piece);
    scan.feed('"}],"tools":[]}}');
    expect(scan.listAnswer).toBe(true);
  });
});
