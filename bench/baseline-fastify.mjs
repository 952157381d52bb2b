// Bare-fastify baseline: one POST /v1/check route that parses the same JSON body and answers a small fixed JSON.
import Fastify from 'fastify';

// Same response shape as mandate's allow answer, but nothing is decided: this is the framework's own cost.
const ANSWER = {
  allow: true,
  decision_id: '00000000-0000-4000-8000-000000000000',
  reasons: [],
  decided_by: 'base',
  subject: {
    sub: 'user_8421',
    tenant: 'acme_inc',
    client_id: 'agent-1',
    scopes: ['contacts.read', 'tickets.write'],
    act: [],
  },
};

const app = Fastify({ logger: false });
app.post('/v1/check', async (req) => {
  // Touch what mandate reads, so an unparsed body could not pass for a fast one.
  const body = req.body;
  if (typeof body?.action !== 'string' || typeof req.headers.authorization !== 'string') {
    throw Object.assign(new Error('bad request'), { statusCode: 400 });
  }
  return ANSWER;
});

const host = process.env.BENCH_HOST ?? '127.0.0.1';
await app.listen({ host, port: Number(process.env.BENCH_PORT ?? 0) });
const address = app.server.address();
process.stdout.write(`${JSON.stringify({ ready: true, http: `${host}:${address.port}` })}\n`);

// Close, but never hang on a lingering keep-alive connection: exit after a second regardless.
const stop = () => {
  setTimeout(() => process.exit(0), 1000).unref();
  app.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
