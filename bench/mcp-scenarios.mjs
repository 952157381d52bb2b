// The MCP bench's scenarios: what each sends, what its answer must be, and which target it has.
import { requestBody } from './mcp-driver.mjs';

/** The tools agent-1 may call: the three working ones and the first filler tools, `allowedTools` in all. */
export function allowedTools(settings) {
  const fillers = Array.from(
    { length: settings.allowedTools - 3 },
    (_, i) => `tool_${String(i).padStart(3, '0')}`,
  );
  return ['echo', 'blob', 'stream', ...fillers];
}

/** The JSON-RPC messages of an answer, JSON or SSE (each event's data). */
export function messagesOf(text) {
  if (text.startsWith('{')) return [JSON.parse(text)];
  return text
    .split(/\n\n/)
    .map((event) =>
      event
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trimStart())
        .join('\n'),
    )
    .filter((data) => data.length > 0)
    .map((data) => JSON.parse(data));
}

/** Scenarios: each is measured on both sides, in alternating order, round after round. */
export function scenarios(settings) {
  const call = (name, args) => requestBody('tools/call', JSON.stringify({ name, arguments: args }));
  const list = requestBody('tools/list', '{}');
  const echo = call('echo', { text: 'hello' });
  const echoed = (messages) => messages.at(-1)?.result?.content?.[0]?.text === 'hello';
  const allowed = allowedTools(settings);
  const names = (messages) => (messages.at(-1)?.result?.tools ?? []).map((t) => t.name);
  const listed = (count) => (messages, side) => {
    const got = names(messages);
    const want = side === 'proxy' ? allowed : undefined;
    return want ? [...got].sort().join() === [...want].sort().join() : got.length === count;
  };
  const stream = requestBody(
    'tools/call',
    JSON.stringify({
      name: 'stream',
      arguments: { events: settings.streamEvents, bytes: settings.streamEventBytes },
      _meta: { progressToken: 'p' },
    }),
  );
  return [
    {
      id: 'call-json',
      label: 'tools/call echo, JSON answer',
      mode: 'json',
      c: 1,
      body: echo,
      ok: echoed,
      kind: 'latency',
      target: true,
    },
    {
      id: 'call-sse',
      label: 'tools/call echo, SSE answer',
      mode: 'sse',
      c: 1,
      body: echo,
      ok: echoed,
      kind: 'latency',
      target: true,
    },
    {
      id: 'list-json',
      label: `tools/list ${settings.tools} tools (${settings.allowedTools} allowed), JSON`,
      mode: 'json',
      c: 1,
      body: list,
      ok: listed(settings.tools),
      kind: 'latency',
    },
    {
      id: 'list-sse',
      label: `tools/list ${settings.tools} tools (${settings.allowedTools} allowed), SSE`,
      mode: 'sse',
      c: 1,
      body: list,
      ok: listed(settings.tools),
      kind: 'latency',
    },
    {
      id: 'call-json-load',
      label: `tools/call echo, JSON, ${settings.loadConcurrency} concurrent`,
      mode: 'json',
      c: settings.loadConcurrency,
      body: echo,
      ok: echoed,
      kind: 'rps',
    },
    {
      id: 'blob-sse',
      label: `tools/call result of ${settings.blobBytes >> 10} KiB in one SSE event, ${settings.streamConcurrency} concurrent`,
      mode: 'sse',
      c: settings.streamConcurrency,
      body: call('blob', { bytes: settings.blobBytes }),
      ok: (m) => m.at(-1)?.result?.content?.[0]?.text?.length === settings.blobBytes,
      kind: 'mbps',
      target: true,
    },
    {
      id: 'stream-sse',
      label: `tools/call streaming ${settings.streamEvents} progress events of ${settings.streamEventBytes >> 10} KiB, ${settings.streamConcurrency} concurrent`,
      mode: 'sse',
      c: settings.streamConcurrency,
      body: stream,
      ok: (m) => m.length === settings.streamEvents + 1 && m.at(-1)?.result !== undefined,
      kind: 'mbps',
      target: true,
    },
  ];
}
