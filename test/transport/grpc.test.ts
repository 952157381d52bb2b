// The gRPC listener over real sockets: Check round-trips, metadata handling, health and reflection.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  Client,
  Metadata,
  credentials,
  loadPackageDefinition,
  status,
  type ServiceClientConstructor,
  type ServiceError,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { service as healthService } from 'grpc-health-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Decider, Decision } from '../../src/core/decision.js';
import { REASON_CODES } from '../../src/core/reasons.js';
import type { AuthzRequest } from '../../src/core/request.js';
import {
  AuthorizerClient,
  CheckRequest,
  type CheckResponse,
  type DeepPartial,
} from '../../src/gen/mandate/v1/authorizer.js';
import {
  AUTHORIZER_SERVICE_NAME,
  DEFAULT_PROTO_DIR,
  createGrpcServer,
  type GrpcLogger,
  type GrpcServer,
} from '../../src/transport/grpc/server.js';

type Decide = Decider['decide'];

const allowDecision: Decision = {
  allow: true,
  decisionId: 'd-allow',
  reasons: [],
  subject: {
    sub: 'user-1',
    tenant: 'acme',
    clientId: 'agent-7',
    scopes: ['contacts:read', 'contacts:write'],
    act: ['agent-7', 'orchestrator'],
  },
  decidedBy: 'tenant',
  latencyUs: 42,
};

const denyDecision: Decision = {
  allow: false,
  decisionId: 'd-deny',
  reasons: [{ code: 'insufficient_scope', message: 'scope contacts:write is required' }],
  subject: { scopes: [], act: [] },
  latencyUs: 7,
};

/** A Decider whose behaviour each test swaps, recording every request it is asked. */
function createFakeDecider() {
  const seen: AuthzRequest[] = [];
  let impl: Decide = async () => allowDecision;
  const decider: Decider = {
    decide(request) {
      seen.push(request);
      return impl(request);
    },
    decideWith(request) {
      return this.decide(request);
    },
  };
  return {
    decider,
    seen,
    use(next: Decide) {
      impl = next;
    },
  };
}

function createMemoryLogger() {
  const records: { level: string; fields: object; message: string }[] = [];
  const logger: GrpcLogger = {
    info: (fields, message) => records.push({ level: 'info', fields, message }),
    warn: (fields, message) => records.push({ level: 'warn', fields, message }),
    error: (fields, message) => records.push({ level: 'error', fields, message }),
  };
  return { logger, records };
}

function check(
  client: AuthorizerClient,
  request: DeepPartial<CheckRequest>,
  metadata = new Metadata(),
): Promise<CheckResponse> {
  return new Promise((resolve, reject) => {
    client.check(CheckRequest.fromPartial(request), metadata, (err, response) =>
      err ? reject(err) : resolve(response),
    );
  });
}

async function checkError(
  client: AuthorizerClient,
  request: DeepPartial<CheckRequest>,
  metadata?: Metadata,
): Promise<ServiceError> {
  const outcome = await check(client, request, metadata).then(
    () => undefined,
    (err: ServiceError) => err,
  );
  if (outcome === undefined) throw new Error('expected the call to fail');
  return outcome;
}

/** grpc.health.v1.Health/Check through a plain grpc-js client and the package's own codec. */
function healthStatus(address: string, serviceName: string): Promise<string> {
  const method = healthService['Check'];
  if (method === undefined) throw new Error('grpc-health-check has no Check method');
  const client = new Client(address, credentials.createInsecure());
  return new Promise<string>((resolve, reject) => {
    client.makeUnaryRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      { service: serviceName },
      (err, response) => (err ? reject(err) : resolve((response as { status: string }).status)),
    );
  }).finally(() => client.close());
}

interface ReflectionResponse {
  listServicesResponse?: { service: { name: string }[] };
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
  errorResponse?: { errorCode: number; errorMessage: string };
}

/** One request on the grpc.reflection.v1 bidi stream, with a client built from the package's proto. */
function reflect(address: string, request: object): Promise<ReflectionResponse> {
  const reflectionRoot = dirname(createRequire(import.meta.url).resolve('@grpc/reflection'));
  const definition = loadSync('grpc/reflection/v1/reflection.proto', {
    includeDirs: [join(reflectionRoot, '..', 'proto')],
  });
  const loaded = loadPackageDefinition(definition) as unknown as {
    grpc: { reflection: { v1: { ServerReflection: ServiceClientConstructor } } };
  };
  const client = new loaded.grpc.reflection.v1.ServerReflection(
    address,
    credentials.createInsecure(),
  );
  const info = client['serverReflectionInfo'] as (this: Client) => {
    write(message: object): void;
    end(): void;
    once(event: 'data', listener: (response: ReflectionResponse) => void): void;
    once(event: 'error', listener: (err: Error) => void): void;
  };
  return new Promise<ReflectionResponse>((resolve, reject) => {
    const stream = info.call(client);
    stream.once('data', (response) => {
      resolve(response);
      stream.end();
    });
    stream.once('error', reject);
    stream.write(request);
  }).finally(() => client.close());
}

describe('gRPC server', () => {
  const fake = createFakeDecider();
  const { logger, records } = createMemoryLogger();
  let server: GrpcServer;
  let address: string;
  let client: AuthorizerClient;

  beforeAll(async () => {
    server = createGrpcServer({ decider: fake.decider, logger }, { host: '127.0.0.1', port: 0 });
    expect(server.status().state).toBe('NOT_READY');
    const { port } = await server.start();
    expect(port).toBeGreaterThan(0);
    address = `127.0.0.1:${port}`;
    client = new AuthorizerClient(address, credentials.createInsecure());
  });

  afterAll(async () => {
    client.close();
    await server.stop(1000);
  });

  beforeEach(() => {
    fake.seen.length = 0;
    records.length = 0;
    fake.use(async () => allowDecision);
  });

  describe('Check', () => {
    it('maps the request to the pipeline and the decision back, Struct fields included', async () => {
      const response = await check(client, {
        token: 'tok.en.field',
        action: 'contacts.update',
        resource: {
          type: 'contact',
          id: 'c-1',
          attributes: { owner: 'user-1', tags: ['a', 1, true, null], nested: { depth: 2.5 } },
        },
        tenant: 'acme',
        context: { ip: '10.0.0.1' },
        requestId: 'req-1',
      });

      expect(response).toEqual({
        allow: true,
        decisionId: 'd-allow',
        reasons: [],
        subject: {
          sub: 'user-1',
          tenant: 'acme',
          clientId: 'agent-7',
          scopes: ['contacts:read', 'contacts:write'],
          act: ['agent-7', 'orchestrator'],
        },
        decidedBy: 'tenant',
      });
      expect(fake.seen).toEqual([
        {
          token: 'tok.en.field',
          action: 'contacts.update',
          resource: {
            type: 'contact',
            id: 'c-1',
            attributes: { owner: 'user-1', tags: ['a', 1, true, null], nested: { depth: 2.5 } },
          },
          tenant: 'acme',
          context: { ip: '10.0.0.1' },
          transport: 'grpc',
          requestId: 'req-1',
          peer: expect.stringMatching(/127\.0\.0\.1:\d+$/),
        },
      ]);
    });

    it('leaves empty proto3 fields absent rather than empty strings', async () => {
      await check(client, { action: 'contacts.read' });
      const [seen] = fake.seen;
      expect(seen?.token).toBeUndefined();
      expect(seen?.tenant).toBeUndefined();
      expect(seen?.requestId).toBeUndefined();
      expect(seen?.resource).toBeUndefined();
      expect(seen?.context).toBeUndefined();
    });

    it('answers a deny as an OK response with allow=false and the reasons', async () => {
      fake.use(async () => denyDecision);
      const response = await check(client, { token: 't', action: 'contacts.update' });
      expect(response.allow).toBe(false);
      expect(response.decisionId).toBe('d-deny');
      expect(response.reasons).toEqual([
        { code: 'insufficient_scope', message: 'scope contacts:write is required' },
      ]);
      expect(response.subject).toEqual({ sub: '', tenant: '', clientId: '', scopes: [], act: [] });
      expect(response.decidedBy).toBe('');
    });

    it('takes the token from authorization metadata when the field is empty', async () => {
      const metadata = new Metadata();
      metadata.set('authorization', 'bEaReR meta.data.token');
      metadata.set('x-request-id', 'req-meta');
      await check(client, { action: 'contacts.read' }, metadata);
      expect(fake.seen[0]?.token).toBe('meta.data.token');
      expect(fake.seen[0]?.requestId).toBe('req-meta');
    });

    it('prefers the request_id field over metadata', async () => {
      const metadata = new Metadata();
      metadata.set('x-request-id', 'req-meta');
      await check(client, { token: 'field.token', action: 'a', requestId: 'req-field' }, metadata);
      expect(fake.seen[0]?.token).toBe('field.token');
      expect(fake.seen[0]?.requestId).toBe('req-field');
    });

    it('rejects a token given both in the field and in metadata, as HTTP does', async () => {
      const metadata = new Metadata();
      metadata.set('authorization', 'Bearer meta.data.token');
      const err = await checkError(client, { token: 'field.token', action: 'a' }, metadata);
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(err.details).toMatch(/^token/);
      expect(fake.seen).toHaveLength(0);
    });

    it('ignores authorization metadata in another scheme', async () => {
      const metadata = new Metadata();
      metadata.set('authorization', 'Basic dXNlcjpwYXNz');
      await check(client, { action: 'a' }, metadata);
      expect(fake.seen[0]?.token).toBeUndefined();
    });

    it('rejects a missing action with INVALID_ARGUMENT naming the field', async () => {
      const err = await checkError(client, { token: 't' });
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(err.details).toMatch(/\baction\b/);
      expect(fake.seen).toEqual([]);
    });

    it.each([
      ['action', { action: 'a'.repeat(257) }],
      ['tenant', { action: 'a', tenant: 't'.repeat(257) }],
      ['request_id', { action: 'a', requestId: 'r'.repeat(257) }],
      ['resource.type', { action: 'a', resource: { id: 'x' } }],
      ['resource.type', { action: 'a', resource: { type: 't'.repeat(257) } }],
      ['resource.id', { action: 'a', resource: { type: 't', id: 'i'.repeat(1025) } }],
    ])('rejects a bad %s with INVALID_ARGUMENT', async (field, request) => {
      const err = await checkError(client, request);
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(err.details.startsWith(`${field} `)).toBe(true);
      expect(fake.seen).toEqual([]);
    });

    it('rejects an over-long x-request-id metadata value, naming the metadata', async () => {
      const metadata = new Metadata();
      metadata.set('x-request-id', 'r'.repeat(257));
      const err = await check(client, { action: 'a' }, metadata).then(
        () => undefined,
        (e: ServiceError) => e,
      );
      expect(err?.code).toBe(status.INVALID_ARGUMENT);
      expect(err?.details).toMatch(/^x-request-id metadata /);
    });

    it('accepts values at the length limits', async () => {
      const response = await check(client, {
        action: 'a'.repeat(256),
        resource: { type: 't'.repeat(256), id: 'i'.repeat(1024) },
      });
      expect(response.allow).toBe(true);
    });

    it.each([
      [
        'rejects',
        async (): Promise<Decision> => {
          throw new Error('boom');
        },
      ],
      [
        'throws synchronously',
        (): Promise<Decision> => {
          throw new Error('boom');
        },
      ],
    ])('fails closed with internal_error when decide() %s, and keeps serving', async (_, impl) => {
      fake.use(impl);
      const response = await check(client, { token: 'secret.token.value', action: 'a' });
      expect(response.allow).toBe(false);
      expect(response.reasons.map((r) => r.code)).toEqual(['internal_error']);
      expect(response.decisionId).not.toBe('');

      const [record] = records.filter((r) => r.level === 'error');
      expect(record?.fields).toMatchObject({ decisionId: response.decisionId });
      expect(JSON.stringify(record)).not.toContain('secret.token.value');

      fake.use(async () => allowDecision);
      expect((await check(client, { action: 'a' })).allow).toBe(true);
    });
  });

  describe('health and reflection', () => {
    it('reports SERVING for the server and the Authorizer service', async () => {
      expect(await healthStatus(address, '')).toBe('SERVING');
      expect(await healthStatus(address, AUTHORIZER_SERVICE_NAME)).toBe('SERVING');
      expect(server.status().state).toBe('OK');
    });

    it('lists mandate.v1.Authorizer and describes it', async () => {
      const listed = await reflect(address, { listServices: '' });
      const names = listed.listServicesResponse?.service.map((s) => s.name) ?? [];
      expect(names).toContain(AUTHORIZER_SERVICE_NAME);
      expect(names).toContain('grpc.health.v1.Health');

      const described = await reflect(address, { fileContainingSymbol: AUTHORIZER_SERVICE_NAME });
      const files = described.fileDescriptorResponse?.fileDescriptorProto ?? [];
      const text = files.map((f) => Buffer.from(f).toString('latin1')).join('\n');
      // @grpc/reflection regroups descriptors per package; check content, not file names.
      expect(text).toContain('Authorizer');
      expect(text).toContain('request_id');
      expect(text).toContain('google.protobuf.Struct');
    });

    // Last in this block: it leaves the shared server NOT_SERVING.
    it('reports NOT_SERVING after setServing(false) while still answering checks', async () => {
      server.setServing(false);
      expect(await healthStatus(address, '')).toBe('NOT_SERVING');
      expect(await healthStatus(address, AUTHORIZER_SERVICE_NAME)).toBe('NOT_SERVING');
      expect(server.status().state).toBe('NOT_READY');
      expect((await check(client, { action: 'a' })).allow).toBe(true);
    });
  });
});

describe('gRPC server shutdown', () => {
  it('lets an in-flight call finish within the grace period', async () => {
    const fake = createFakeDecider();
    const server = createGrpcServer(
      { decider: fake.decider, logger: createMemoryLogger().logger },
      { host: '127.0.0.1', port: 0 },
    );
    const { port } = await server.start();
    const client = new AuthorizerClient(`127.0.0.1:${port}`, credentials.createInsecure());
    let release: () => void = () => undefined;
    fake.use(() => new Promise((resolve) => (release = () => resolve(allowDecision))));

    const pending = check(client, { action: 'a' });
    await expect.poll(() => fake.seen.length).toBe(1);
    const stopped = server.stop(5000);
    expect(server.stop(5000)).toBe(stopped);
    release();

    expect((await pending).allow).toBe(true);
    await stopped;
    expect(server.status()).toMatchObject({
      state: 'NOT_READY',
      message: expect.stringMatching(/stopped/),
    });
    client.close();
  });

  it('cancels calls still running after the grace period', async () => {
    const fake = createFakeDecider();
    const { logger, records } = createMemoryLogger();
    const server = createGrpcServer(
      { decider: fake.decider, logger },
      { host: '127.0.0.1', port: 0 },
    );
    const { port } = await server.start();
    const client = new AuthorizerClient(`127.0.0.1:${port}`, credentials.createInsecure());
    fake.use(() => new Promise<Decision>(() => undefined));

    const pending = check(client, { action: 'a' }).then(
      () => undefined,
      (err: ServiceError) => err.code,
    );
    await expect.poll(() => fake.seen.length).toBe(1);
    await server.stop(50);

    // grpc-js resets the streams with CANCEL; a client racing the socket close may see UNAVAILABLE.
    expect([status.CANCELLED, status.UNAVAILABLE]).toContain(await pending);
    expect(records.some((r) => r.level === 'warn')).toBe(true);
    client.close();
  });

  it('stops cleanly when it was never started', async () => {
    const server = createGrpcServer(
      { decider: createFakeDecider().decider, logger: createMemoryLogger().logger },
      { host: '127.0.0.1', port: 0 },
    );
    await server.stop(100);
    await expect(server.start()).rejects.toThrow(TypeError);
  });
});

describe('authorizer.proto', () => {
  it('documents exactly the reason codes the pipeline can return', () => {
    const proto = readFileSync(join(DEFAULT_PROTO_DIR, 'mandate/v1/authorizer.proto'), 'utf8');
    const comment = /Currently one of:([^.]*)\./.exec(proto.replace(/\s*\/\/\s*/g, ' '));
    const documented = comment?.[1]?.split(',').map((code) => code.trim());
    expect(documented?.sort()).toEqual([...REASON_CODES].sort());
  });
});
