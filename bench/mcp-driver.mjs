// The MCP bench's load driver: one Streamable HTTP session over keep-alive node:http, fixed concurrency, per-request latency.
//
// Not the SDK's Client: its per-call work (zod validation of every answer, SSE parsing through web
// streams, the request/response bookkeeping) costs more CPU than the proxy hop being measured and
// runs on the same two cores, so it would blur the difference. A bare POST with the body built
// from a template and the answer counted, not parsed, keeps the driver's share small and the same
// for the direct and the proxied side; each scenario's answers are parsed and checked once first.
import { Buffer } from 'node:buffer';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';

export const PROTOCOL_VERSION = '2025-06-18';

/**
 * A JSON-RPC request body for `method` with `params` (already JSON): unique ids, because the SDK
 * server routes each answer to its request stream by id, and concurrent requests share a session.
 */
export function requestBody(method, params) {
  const head = '{"jsonrpc":"2.0","id":';
  const tail = `,"method":"${method}","params":${params}}`;
  return (id) => `${head}${id}${tail}`;
}

/**
 * A client of one MCP endpoint: `initialize()` opens a session (an SSE session unless `clientName`
 * ends in `-json`, which the bench upstream answers with JSON), `post()` sends one message.
 */
export function createMcpClient({ url, token, clientName, maxSockets = 64 }) {
  const target = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets });
  const base = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
  };
  let headers = base;
  // Request ids are 10 digits (counted from 1e9), so every answer of a scenario has one length.
  let lastId = 1_000_000_000;
  const takeId = () => ++lastId;

  /** Sends one message; resolves with the status, bytes and µs to the answer's last byte. */
  function post(body, { keepText = false } = {}) {
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const req = request(
        {
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: 'POST',
          agent,
          headers: { ...headers, 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          let bytes = 0;
          const chunks = keepText ? [] : undefined;
          res.on('data', (chunk) => {
            bytes += chunk.length;
            chunks?.push(chunk);
          });
          res.once('error', reject);
          res.once('end', () =>
            resolve({
              status: res.statusCode,
              headers: res.headers,
              bytes,
              us: (performance.now() - started) * 1000,
              text: chunks === undefined ? undefined : Buffer.concat(chunks).toString('utf8'),
            }),
          );
        },
      );
      req.once('error', reject);
      req.end(body);
    });
  }

  return {
    post,
    takeId,
    async initialize() {
      const init = await post(
        JSON.stringify({
          jsonrpc: '2.0',
          id: takeId(),
          method: 'initialize',
          params: {
            protocolVersion: PROTOCOL_VERSION,
            capabilities: {},
            clientInfo: { name: clientName, version: '1.0.0' },
          },
        }),
        { keepText: true },
      );
      const session = init.headers['mcp-session-id'];
      if (init.status !== 200 || typeof session !== 'string') {
        throw new Error(`${url}: initialize answered ${init.status}: ${init.text}`);
      }
      headers = { ...base, 'mcp-session-id': session, 'mcp-protocol-version': PROTOCOL_VERSION };
      const done = await post('{"jsonrpc":"2.0","method":"notifications/initialized"}', {
        keepText: true,
      });
      if (done.status !== 202) {
        throw new Error(`${url}: notifications/initialized answered ${done.status}: ${done.text}`);
      }
    },
    close() {
      agent.destroy();
    },
  };
}

/**
 * `concurrency` loops posting `nextBody(id)` until `ms` have passed. Every answer must be a 200 of
 * exactly `expectBytes` (the size of the answer checked before measuring), else it counts as a
 * mismatch: a denial or an error through the proxy would otherwise pass as a fast answer.
 */
export async function runSlice(client, nextBody, { concurrency, ms, expectBytes }) {
  const latencies = [];
  let bytes = 0;
  let mismatches = 0;
  const started = performance.now();
  const end = started + ms;
  async function loop() {
    while (performance.now() < end) {
      const answer = await client.post(nextBody(client.takeId()));
      if (answer.status !== 200 || answer.bytes !== expectBytes) mismatches++;
      latencies.push(answer.us);
      bytes += answer.bytes;
    }
  }
  await Promise.all(Array.from({ length: concurrency }, loop));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (p) =>
    latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)];
  return {
    requests: latencies.length,
    seconds,
    rps: latencies.length / seconds,
    mbps: bytes / seconds / 1e6,
    p50: at(50),
    p99: at(99),
    mismatches,
  };
}
