// Bare grpc-js baseline: the generated mandate.v1.Authorizer service with a Check handler that returns a fixed answer.
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { AuthorizerService } from '../dist/gen/mandate/v1/authorizer.js';

// Same shape as mandate's allow answer; the request is decoded by grpc-js but nothing is decided.
const ANSWER = {
  allow: true,
  decisionId: '00000000-0000-4000-8000-000000000000',
  reasons: [],
  subject: {
    sub: 'user_8421',
    tenant: 'acme_inc',
    clientId: 'agent-1',
    scopes: ['contacts.read', 'tickets.write'],
    act: [],
  },
  decidedBy: 'base',
};

const server = new Server({ 'grpc.max_receive_message_length': 1024 * 1024 });
server.addService(AuthorizerService, {
  check(call, callback) {
    if (call.request.action === '') callback({ code: 3, details: 'action is required' });
    else callback(null, ANSWER);
  },
});

const host = process.env.BENCH_HOST ?? '127.0.0.1';
server.bindAsync(
  `${host}:${Number(process.env.BENCH_PORT ?? 0)}`,
  ServerCredentials.createInsecure(),
  (err, port) => {
    if (err) {
      process.stderr.write(`baseline-grpc: ${err.message}\n`);
      process.exit(1);
    }
    process.stdout.write(`${JSON.stringify({ ready: true, grpc: `${host}:${port}` })}\n`);
  },
);

// Let in-flight calls finish, but never hang on a session the load generator left open.
const stop = () => {
  setTimeout(() => {
    server.forceShutdown();
    process.exit(0);
  }, 1000).unref();
  server.tryShutdown(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
