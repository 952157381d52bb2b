// HTTP ext_authz while the listener closes: a request still arriving on an open connection is decided, never a 503 Envoy would count as its failure.
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { Decider, Decision } from '../../src/core/decision.js';
import { createReadiness } from '../../src/lib/readiness.js';
import { createRouteTable } from '../../src/transport/route-table.js';
import { createEnvoyAuthorizer } from '../../src/transport/envoy/authz.js';
import { buildHttpApp } from '../../src/transport/http/app.js';

const denied: Decision = {
  allow: false,
  decisionId: 'd-drain',
  reasons: [{ code: 'policy_denied', message: 'no' }],
  latencyUs: 1,
};

describe('HTTP ext_authz during shutdown', () => {
  it('decides a request pipelined after close began instead of answering 503', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const decider: Decider = {
      async decide() {
        await gate;
        return denied;
      },
      decideWith() {
        return this.decide({ token: undefined, action: 'unused', transport: 'envoy_http' });
      },
    };
    const config = parseConfig('dev: { enabled: true, state_dir: /tmp/mandate-envoy-drain }\n');
    const authorizer = createEnvoyAuthorizer({
      decider,
      config: config.envoy,
      routes: createRouteTable([]),
      compat: false,
    });
    const app = buildHttpApp(
      {
        decider,
        readiness: createReadiness({}),
        envoy: { authorizer, options: { prefix: '/envoy/authz', bodyLimitBytes: 1024 } },
      },
      { bodyLimitBytes: 1024 },
    );
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;

    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const request = 'GET /envoy/authz/v1/x HTTP/1.1\r\nhost: t\r\n\r\n';
    socket.write(request);
    // The first request is in flight (its decision waits), so the connection is not idle.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const closed = app.close();
    socket.write(request);
    await new Promise((resolve) => setTimeout(resolve, 100));
    release();
    await closed;
    socket.end();
    await ended;

    const statuses = [...received.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
    expect(statuses.length).toBe(2);
    for (const status of statuses) expect(status).toBeLessThan(500);
  });
});
