// The two Redis connections of the revocation store (commands, and the subscription to the change channel) and their failure policy.
import { Redis, type RedisOptions } from 'ioredis';
import { RevocationStoreError } from '../errors.js';
import type { StoreLogger } from '../store-logger.js';

/** The key names under one prefix: entries, the epoch, and the change channel. */
export interface RedisKeys {
  entry(id: string): string;
  /** SCAN pattern matching every entry key. */
  readonly entryPattern: string;
  readonly epoch: string;
  readonly channel: string;
}

/** Key names under `prefix`. */
export function redisKeys(prefix: string): RedisKeys {
  return {
    entry: (id) => `${prefix}e:${id}`,
    entryPattern: `${prefix}e:*`,
    epoch: `${prefix}epoch`,
    channel: `${prefix}changes`,
  };
}

/** host:port of a Redis URL, for logs: never the password. */
export function redisAddress(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '6379'}`;
  } catch {
    return '(invalid url)';
  }
}

export interface RedisConnectionOptions {
  readonly url: string;
  readonly channel: string;
  /** Connect timeout of each client, ms. */
  readonly connectTimeoutMs: number;
  /** Longest back-off between reconnect attempts, ms. */
  readonly retryMaxDelayMs: number;
  readonly logger?: StoreLogger;
  /** A client (re)connected, or the subscription is (re)established: time to resync. */
  readonly onReady: () => void;
  /** A message on the change channel. */
  readonly onMessage: (text: string) => void;
  /** The subscription closed: changes may now be missed until the next resync. */
  readonly onLost: () => void;
}

/** The command and subscriber clients, owned together. */
export interface RedisConnection {
  /** host:port, for logs and status. */
  readonly address: string;
  /** Creates both clients and starts connecting; failures are retried in the background. */
  open(): void;
  /** Both clients are connected (the subscriber may not have subscribed yet). */
  bothReady(): boolean;
  /** The command client when connected, else undefined. */
  commandClient(): Redis | undefined;
  /**
   * Runs a MULTI / pipeline on the command client and returns its results; every failure
   * (disconnected, aborted, a failed command) is a `store_unavailable` error.
   */
  exec(run: (client: Redis) => Promise<[Error | null, unknown][] | null>): Promise<unknown[]>;
  close(): void;
}

/** Builds the connection pair; nothing connects before `open()`. */
export function createRedisConnection(options: RedisConnectionOptions): RedisConnection {
  const address = redisAddress(options.url);
  let cmd: Redis | undefined;
  let sub: Redis | undefined;
  // One warning per outage: a reconnect loop would otherwise log on every attempt.
  let errorLogged = false;

  function clientOptions(): RedisOptions {
    return {
      lazyConnect: true,
      // Fail fast while disconnected: an admin write must error, not hang in a queue.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: options.connectTimeoutMs,
      autoResubscribe: false,
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 10), options.retryMaxDelayMs),
    };
  }

  function onError(err: Error): void {
    if (errorLogged) return;
    errorLogged = true;
    options.logger?.warn({ redis: address, err: err.message }, 'redis error (revocation store)');
  }

  function readyClient(): Redis {
    if (cmd === undefined || cmd.status !== 'ready') {
      throw new RevocationStoreError(
        'store_unavailable',
        'the revocation store (redis) is unreachable',
      );
    }
    return cmd;
  }

  return {
    address,

    open() {
      const command = new Redis(options.url, clientOptions());
      const subscriber = new Redis(options.url, clientOptions());
      cmd = command;
      sub = subscriber;
      command.on('error', onError);
      subscriber.on('error', onError);
      subscriber.on('message', (ch: string, text: string) => {
        if (ch === options.channel) options.onMessage(text);
      });
      command.on('ready', () => {
        errorLogged = false;
        options.onReady();
      });
      subscriber.on('ready', () => {
        errorLogged = false;
        // Subscribe before loading, so no change falls between the two.
        subscriber.subscribe(options.channel).then(
          () => options.onReady(),
          (err: unknown) => onError(err as Error),
        );
      });
      subscriber.on('close', options.onLost);
      // Connection failures are retried in the background by the clients themselves.
      command.connect().catch(() => {});
      subscriber.connect().catch(() => {});
    },

    bothReady: () => cmd?.status === 'ready' && sub?.status === 'ready',

    commandClient: () => (cmd?.status === 'ready' ? cmd : undefined),

    async exec(run) {
      const client = readyClient();
      let results: [Error | null, unknown][] | null;
      try {
        results = await run(client);
      } catch (err) {
        throw new RevocationStoreError('store_unavailable', 'the revocation store (redis) failed', {
          cause: err,
        });
      }
      if (results === null) {
        throw new RevocationStoreError('store_unavailable', 'the redis transaction was aborted');
      }
      return results.map(([err, value]) => {
        if (err) {
          throw new RevocationStoreError(
            'store_unavailable',
            'the revocation store (redis) failed',
            { cause: err },
          );
        }
        return value;
      });
    },

    close() {
      sub?.disconnect();
      cmd?.disconnect();
    },
  };
}
