// The MCP bench's bare hop: a plain keep-alive node:http reverse proxy to BENCH_UPSTREAM, no checks, no filtering, so mandate's own share of the proxied latency and CPU can be told apart from the cost of any Node hop.
// Prints `{"ready":true,"http":"host:port"}` on stdout once listening (what bench/servers.mjs waits for).
import { Agent, createServer, request } from 'node:http';

const upstream = new URL(process.env.BENCH_UPSTREAM ?? '');
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
/** Hop-by-hop headers a proxy does not pass on (RFC 9110 §7.6.1), and the host it rewrites. */
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'host']);
const pick = (headers) =>
  Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP.has(name)));

const server = createServer((req, res) => {
  const out = request(
    {
      host: upstream.hostname,
      port: upstream.port,
      path: upstream.pathname,
      method: req.method,
      headers: pick(req.headers),
      agent,
    },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, pick(answer.headers));
      answer.pipe(res);
    },
  );
  out.once('error', () => res.destroy());
  res.once('close', () => out.destroy());
  req.pipe(out);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  process.stdout.write(`${JSON.stringify({ ready: true, http: `127.0.0.1:${port}` })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
