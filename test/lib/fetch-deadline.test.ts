// fetchWithDeadline (src/lib/fetch-deadline.ts) against real hanging servers, with garbage collections in between.
import { afterEach, describe, expect, it } from 'vitest';
import { fetchWithDeadline, readTextLimited } from '../../src/lib/fetch-deadline.js';
import { collectGarbage, startFaultyServer, type FaultyServer } from '../helpers/faulty-server.js';

const servers: FaultyServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function server(): Promise<FaultyServer> {
  const s = await startFaultyServer((_req, res) => res.end('{"ok":true}'));
  servers.push(s);
  return s;
}

const text = (r: Response) => r.text();

/** Runs `work`, collecting garbage every 50 ms meanwhile, and returns how long it took to settle. */
async function timed(work: Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const started = Date.now();
  const gc = setInterval(() => void collectGarbage(), 50);
  try {
    await work;
    return { ms: Date.now() - started, error: undefined };
  } catch (error) {
    return { ms: Date.now() - started, error };
  } finally {
    clearInterval(gc);
  }
}

describe('fetchWithDeadline', () => {
  it('answers normally and leaves no timer behind', async () => {
    const s = await server();
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    expect(await fetchWithDeadline(s.url, {}, { timeoutMs: 5000 }, text)).toBe('{"ok":true}');
    const after = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    expect(after).toBeLessThanOrEqual(before);
  });

  it('a server that never answers: the deadline fires even with garbage collections meanwhile', async () => {
    const s = await server();
    s.set({ kind: 'hang' });
    const outer = new AbortController(); // a live outer signal, as the JWKS resolver's shutdown one
    const { ms, error } = await timed(
      fetchWithDeadline(s.url, {}, { timeoutMs: 400, signal: outer.signal }, text),
    );
    expect((error as Error).name).toBe('TimeoutError');
    expect(ms).toBeGreaterThanOrEqual(350);
    expect(ms).toBeLessThan(2000);
    await expect.poll(() => s.hanging).toBe(0); // the connection was closed, not leaked
  });

  it('the deadline covers the body read: headers then silence', async () => {
    const s = await server();
    s.set({ kind: 'stall_body' });
    const { ms, error } = await timed(fetchWithDeadline(s.url, {}, { timeoutMs: 400 }, text));
    expect((error as Error).name).toBe('TimeoutError');
    expect(ms).toBeLessThan(2000);
  });

  it('a fetch that ignores its abort signal still ends at the deadline', async () => {
    const never: typeof fetch = () => new Promise<Response>(() => {});
    const { ms, error } = await timed(
      fetchWithDeadline('http://unused.invalid/', {}, { timeoutMs: 200, fetch: never }, text),
    );
    expect((error as Error).name).toBe('TimeoutError');
    expect(ms).toBeLessThan(1500);
  });

  it('an outside abort (shutdown) ends it at once with that reason', async () => {
    const s = await server();
    s.set({ kind: 'hang' });
    const outer = new AbortController();
    setTimeout(() => outer.abort(new Error('shutting down')), 100);
    const { ms, error } = await timed(
      fetchWithDeadline(s.url, {}, { timeoutMs: 10_000, signal: outer.signal }, text),
    );
    expect((error as Error).message).toBe('shutting down');
    expect(ms).toBeLessThan(1500);
  });

  it('an already aborted outside signal never sends the request', async () => {
    const s = await server();
    const outer = new AbortController();
    outer.abort(new Error('stopped'));
    await expect(
      fetchWithDeadline(s.url, {}, { timeoutMs: 1000, signal: outer.signal }, text),
    ).rejects.toThrow('stopped');
    expect(s.requests).toBe(0);
  });
});

describe('readTextLimited', () => {
  it('refuses a body over the limit, declared or streamed', async () => {
    const s = await server();
    s.set({ kind: 'body', body: 'x'.repeat(5000) });
    const read = (r: Response) => readTextLimited(r, 1000);
    expect(await fetchWithDeadline(s.url, {}, { timeoutMs: 2000 }, read)).toBeUndefined();
    s.set({ kind: 'body', body: 'x'.repeat(500) });
    expect(await fetchWithDeadline(s.url, {}, { timeoutMs: 2000 }, read)).toBe('x'.repeat(500));
  });
});
