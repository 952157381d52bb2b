// A real local decision-log collector: an HTTP server that checks every upload is a gzip JSON array and keeps the events.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { assertNoCredentials, findCredentials } from './credential-scan.js';

export interface CollectorBatch {
  readonly events: number;
  readonly gzipBytes: number;
  readonly jsonBytes: number;
  readonly headers: IncomingMessage['headers'];
}

export interface Collector {
  /** The upload endpoint, stable across `down()`/`up()`. */
  readonly url: string;
  /** Every event of every accepted upload, in arrival order (duplicates included). */
  readonly events: Record<string, unknown>[];
  readonly batches: CollectorBatch[];
  /** Uploads that were not a gzip-encoded JSON array (should stay empty). */
  readonly malformed: string[];
  /** Uploads answered with a failure status while `failWith` was set. */
  refused: number;
  /** Answer every upload with this status (e.g. 503) instead of accepting it; undefined accepts. */
  failWith: number | undefined;
  /** Stop listening: uploads get connection refused. */
  down(): Promise<void>;
  /** Listen again on the same port. */
  up(): Promise<void>;
  /** Resolves once `n` events arrived; rejects after `timeoutMs`. */
  waitForEvents(n: number, timeoutMs?: number): Promise<void>;
  /** Stops listening, then scans every upload received for the credentials the tests sent (CredentialLeakError). */
  close(): Promise<void>;
}

export async function startCollector(): Promise<Collector> {
  const events: Record<string, unknown>[] = [];
  const batches: CollectorBatch[] = [];
  const malformed: string[] = [];
  /** Every upload's JSON text as received, for the credential scan. */
  const uploads: string[] = [];
  const state = { failWith: undefined as number | undefined, refused: 0 };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (state.failWith !== undefined) {
        state.refused++;
        res.writeHead(state.failWith).end();
        return;
      }
      const body = Buffer.concat(chunks);
      try {
        if (req.method !== 'POST') throw new Error(`method ${req.method}`);
        if (req.headers['content-encoding'] !== 'gzip') throw new Error('not gzip-encoded');
        if (!String(req.headers['content-type']).startsWith('application/json')) {
          throw new Error(`content-type ${req.headers['content-type']}`);
        }
        const json = gunzipSync(body).toString('utf8');
        uploads.push(json);
        const parsed = JSON.parse(json) as unknown;
        if (!Array.isArray(parsed)) throw new Error('not a JSON array');
        for (const e of parsed) {
          if (typeof e !== 'object' || e === null) throw new Error('element is not an object');
        }
        events.push(...(parsed as Record<string, unknown>[]));
        batches.push({
          events: parsed.length,
          gzipBytes: body.length,
          jsonBytes: Buffer.byteLength(json),
          headers: req.headers,
        });
        res.writeHead(200).end();
      } catch (err) {
        malformed.push((err as Error).message);
        res.writeHead(400).end();
      }
    });
  });
  // Uploads keep their connection alive: without this, close() would wait for them.
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  const collector: Collector = {
    url: `http://127.0.0.1:${port}/logs`,
    events,
    batches,
    malformed,
    get refused() {
      return state.refused;
    },
    set refused(n: number) {
      state.refused = n;
    },
    get failWith() {
      return state.failWith;
    },
    set failWith(code: number | undefined) {
      state.failWith = code;
    },
    async down() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    async up() {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
    },
    async waitForEvents(n, timeoutMs = 20_000) {
      const until = Date.now() + timeoutMs;
      while (events.length < n) {
        if (Date.now() > until) {
          throw new Error(`collector got ${events.length} of ${n} events in ${timeoutMs} ms`);
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async close() {
      if (server.listening) await collector.down();
      assertNoCredentials([
        ...findCredentials(uploads.join('\n'), 'the HTTP collector'),
        ...findCredentials(JSON.stringify(events), 'the HTTP collector'),
      ]);
    },
  };
  return collector;
}
