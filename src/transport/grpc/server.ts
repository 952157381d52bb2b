// The gRPC listener: mandate.v1.Authorizer, Envoy's ext_authz Authorization, grpc.health.v1 and reflection on one grpc-js server.
import { fileURLToPath } from 'node:url';
import { Server, ServerCredentials, type ServerOptions } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import type { Decider } from '../../core/decision.js';
import type { ComponentStatus } from '../../lib/lifecycle.js';
import { AuthorizerService } from '../../gen/mandate/v1/authorizer.js';
import { DEFAULT_MAX_NESTING_DEPTH } from '../../lib/nesting.js';
import { createCheckHandler } from './check.js';
import { createCheckRequestDecoder } from './check-decode.js';
import { serializeCheckResponse } from './check-encoding.js';
import type { TokenExchanger } from '../../exchange/exchanger.js';
import { createExchangeHandler } from './exchange.js';
import { AuthorizationService } from '../../gen/envoy/service/auth/v3/external_auth.js';
import type { EnvoyAuthorizer } from '../envoy/authz.js';
import {
  ENVOY_AUTHORIZATION_SERVICE_NAME,
  createEnvoyCheckHandler,
  decodeEnvoyCheckRequest,
} from '../envoy/grpc.js';
import { loadReflectionFiles } from './reflection-descriptors.js';
import { refusingOversized, sizeGuarded } from '../size-guard.js';

/**
 * How many times `envoyMaxRequestBytes` the transport still reads, to answer an oversized Envoy
 * request with a denial (413) rather than fail the call, which Envoy would count as its failure.
 */
export const ENVOY_RECEIVE_FACTOR = 4;

/** Fully-qualified name of the Check API service, as health checks and reflection name it. */
export const AUTHORIZER_SERVICE_NAME = 'mandate.v1.Authorizer';

/**
 * The `proto/` directory shipped with mandate. Resolved from this module's URL so it holds both
 * from sources (src/transport/) and from the build (dist/transport/): both sit two levels deep.
 */
export const DEFAULT_PROTO_DIR = fileURLToPath(new URL('../../../proto', import.meta.url));

/** A pino-compatible logger; only these three levels are used. */
export interface GrpcLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface GrpcServerDeps {
  readonly decider: Decider;
  readonly logger: GrpcLogger;
  /**
   * Health service to register. Pass one to publish more service statuses from elsewhere;
   * by default a private one is created. Either way this server owns the statuses of ""
   * (the whole server) and `mandate.v1.Authorizer`.
   */
  readonly health?: HealthImplementation;
  /** Serves `envoy.service.auth.v3.Authorization` (Envoy gRPC ext_authz) through this authorizer. */
  readonly envoy?: EnvoyAuthorizer;
  /** Serves `mandate.v1.Authorizer/Exchange`; without one it answers FAILED_PRECONDITION. */
  readonly exchanger?: TokenExchanger;
}

export interface GrpcServerOptions {
  /** Interface to listen on, e.g. `127.0.0.1` or `::1`. */
  readonly host: string;
  /** TCP port; 0 picks a free one (tests), reported by start(). */
  readonly port: number;
  /** Grace period for stop() when none is passed, milliseconds. Default 10000. */
  readonly shutdownGraceMs?: number;
  /**
   * Largest request message of mandate's own services, bytes. Default 1 MiB: a Check request is a
   * token plus a few small objects, and a low ceiling bounds what one call can make the decoder
   * allocate.
   */
  readonly maxReceiveMessageBytes?: number;
  /**
   * Largest Envoy CheckRequest decided, bytes (`envoy.grpc_max_request_bytes`). Default 1 MiB.
   * Larger ones up to {@link ENVOY_RECEIVE_FACTOR} times this are still received and answered with
   * a 413 denial; only beyond that does the transport refuse them.
   */
  readonly envoyMaxRequestBytes?: number;
  /** Where `mandate/v1/authorizer.proto` lives, for reflection. Default {@link DEFAULT_PROTO_DIR}. */
  readonly protoDir?: string;
  /**
   * Deepest nesting accepted in Check's `context` and `resource.attributes` (further capped by what
   * the protobuf decoder takes); deeper requests fail with INVALID_ARGUMENT. Default 64.
   */
  readonly maxNestingDepth?: number;
}

/**
 * The gRPC listener, shaped like a lifecycle component; start() also reports the bound port and
 * stop() takes the grace period, which is why it does not extend `Component` literally.
 */
export interface GrpcServer {
  /** Binds and starts serving; health turns SERVING. Resolves with the bound port. */
  start(): Promise<{ port: number }>;
  /**
   * Marks health NOT_SERVING, lets in-flight calls finish for up to `graceMs`, then cancels what
   * is left. Safe to call more than once and before start().
   */
  stop(graceMs?: number): Promise<void>;
  /** Flips the health status of "", `mandate.v1.Authorizer` (and Envoy's service); used first during shutdown. */
  setServing(serving: boolean): void;
  status(): ComponentStatus;
}

type State = 'created' | 'starting' | 'serving' | 'not_serving' | 'stopped';

/**
 * Builds the gRPC server without listening. Loads the proto files for reflection now, so a missing
 * `proto/` directory fails at composition rather than at the first reflection call.
 */
export function createGrpcServer(deps: GrpcServerDeps, options: GrpcServerOptions): GrpcServer {
  const { logger } = deps;
  const graceDefaultMs = options.shutdownGraceMs ?? 10_000;
  const health = deps.health ?? new HealthImplementation();
  const ownLimit = options.maxReceiveMessageBytes ?? 1024 * 1024;
  const envoyLimit = options.envoyMaxRequestBytes ?? 1024 * 1024;
  // The transport's limit is one per server: high enough to read an oversized Envoy request and
  // deny it; each service then holds its own limit (sizeGuarded).
  const receiveLimit = deps.envoy
    ? Math.max(ownLimit, envoyLimit * ENVOY_RECEIVE_FACTOR)
    : ownLimit;
  const serverOptions: ServerOptions = {
    'grpc.max_receive_message_length': receiveLimit,
    // channelz stays on although nothing exposes it: in grpc-js 1.14 forceShutdown() only finds
    // open sessions through channelz's bookkeeping, so without it stop() could not cancel calls
    // (or health Watch streams) that outlive the grace period. Measured cost: within noise.
  };
  const server = new Server(serverOptions);

  const maxNestingDepth = options.maxNestingDepth ?? DEFAULT_MAX_NESTING_DEPTH;
  // Check's answers may arrive already encoded (a cached token's allow): its serializer passes them.
  const guarded = receiveLimit > ownLimit;
  // Its requests are decoded with their nesting bounded, so a deep one is a named refusal.
  const checkDecoder = createCheckRequestDecoder(maxNestingDepth);
  const authorizer = {
    ...AuthorizerService,
    check: {
      ...AuthorizerService.check,
      responseSerialize: serializeCheckResponse,
      requestDeserialize: guarded
        ? sizeGuarded(checkDecoder.decode, ownLimit)
        : checkDecoder.decode,
    },
    exchange: {
      ...AuthorizerService.exchange,
      ...(guarded
        ? {
            requestDeserialize: sizeGuarded(
              AuthorizerService.exchange.requestDeserialize,
              ownLimit,
            ),
          }
        : {}),
    },
  };
  const check = createCheckHandler({ ...deps, decoder: checkDecoder, maxNestingDepth });
  const exchange = createExchangeHandler({
    ...(deps.exchanger ? { exchanger: deps.exchanger } : {}),
    logger: deps.logger,
  });
  server.addService(authorizer, {
    check: guarded ? refusingOversized(check) : check,
    exchange: guarded ? refusingOversized(exchange) : exchange,
  });
  if (deps.envoy) {
    const envoyService = {
      ...AuthorizationService,
      check: {
        ...AuthorizationService.check,
        requestDeserialize: sizeGuarded(decodeEnvoyCheckRequest, envoyLimit),
      },
    };
    server.addService(envoyService, { check: createEnvoyCheckHandler(deps.envoy) });
  }
  health.addToServer(server);
  // Health is described too, so `grpcurl ... grpc.health.v1.Health/Check` works without proto files.
  const services = [AUTHORIZER_SERVICE_NAME, 'grpc.health.v1.Health'];
  if (deps.envoy) services.push(ENVOY_AUTHORIZATION_SERVICE_NAME);
  const definitions = loadReflectionFiles(options.protoDir ?? DEFAULT_PROTO_DIR);
  new ReflectionService(definitions, { services }).addToServer(server);

  let state: State = 'created';
  let stopping: Promise<void> | undefined;

  function setServing(serving: boolean): void {
    const value = serving ? 'SERVING' : 'NOT_SERVING';
    health.setStatus('', value);
    health.setStatus(AUTHORIZER_SERVICE_NAME, value);
    if (deps.envoy) health.setStatus(ENVOY_AUTHORIZATION_SERVICE_NAME, value);
    if (state === 'serving' || state === 'not_serving') state = serving ? 'serving' : 'not_serving';
  }
  // Until start() a probe that somehow reaches the server must not read "serving".
  setServing(false);

  async function start(): Promise<{ port: number }> {
    if (state !== 'created') throw new TypeError(`grpc server cannot start: it is ${state}`);
    state = 'starting';
    // grpc-js parses host:port itself, so an IPv6 literal needs its brackets.
    const host =
      options.host.includes(':') && !options.host.startsWith('[')
        ? `[${options.host}]`
        : options.host;
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(
        `${host}:${options.port}`,
        ServerCredentials.createInsecure(),
        (err, bound) => (err ? reject(err) : resolve(bound)),
      );
    }).catch((err: unknown) => {
      state = 'stopped';
      throw err;
    });
    state = 'serving';
    setServing(true);
    logger.info({ host: options.host, port }, 'grpc server listening');
    return { port };
  }

  function stop(graceMs: number = graceDefaultMs): Promise<void> {
    stopping ??= shutdown(graceMs);
    return stopping;
  }

  async function shutdown(graceMs: number): Promise<void> {
    setServing(false);
    const forced = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        // Whatever still runs after the grace period is reset; those callers see CANCELLED.
        server.forceShutdown();
        resolve(true);
      }, graceMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    state = 'stopped';
    if (forced) logger.warn({ graceMs }, 'grpc server stopped: in-flight calls cancelled');
    else logger.info({}, 'grpc server stopped');
  }

  function status(): ComponentStatus {
    switch (state) {
      case 'serving':
        return { state: 'OK' };
      case 'not_serving':
        return { state: 'NOT_READY', message: 'grpc server is draining' };
      case 'created':
      case 'starting':
        return { state: 'NOT_READY', message: 'grpc server is not listening yet' };
      case 'stopped':
        return { state: 'NOT_READY', message: 'grpc server is stopped' };
    }
  }

  return { start, stop, setServing, status };
}
