// A small client of the admin API for the CLI: where it is (flag, MANDATE_ADMIN_URL) and which bearer token (flag, env, dev state file).
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEV_ADMIN_TOKEN_FILE } from '../lib/dev-admin-token.js';
import { fetchWithDeadline } from '../lib/fetch-deadline.js';
import { UsageError } from './usage-error.js';

export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:8182';

export interface AdminTarget {
  readonly url: string;
  readonly token: string;
}

/**
 * `--admin-url` / `MANDATE_ADMIN_URL` / the default listener; `--admin-token` /
 * `MANDATE_ADMIN_TOKEN` / `--admin-token-file` / dev mode's generated token in
 * `<MANDATE_STATE_DIR or .mandate>/admin-token`. The same flags as `mandate audit tail`.
 */
export function adminTarget(
  flags: Readonly<Record<string, unknown>>,
  env: NodeJS.ProcessEnv,
  cwd: string = process.cwd(),
): AdminTarget {
  const flagUrl = typeof flags['admin-url'] === 'string' ? flags['admin-url'] : undefined;
  const url = (flagUrl ?? env['MANDATE_ADMIN_URL'] ?? DEFAULT_ADMIN_URL).replace(/\/+$/, '');
  if (!/^https?:\/\//.test(url)) {
    throw new UsageError(`--admin-url: must be an http(s) URL, got ${JSON.stringify(url)}`);
  }
  let token = typeof flags['admin-token'] === 'string' ? flags['admin-token'] : undefined;
  token ??= env['MANDATE_ADMIN_TOKEN'] || undefined;
  if (token === undefined) {
    const file =
      typeof flags['admin-token-file'] === 'string'
        ? resolve(cwd, flags['admin-token-file'])
        : join(resolve(cwd, env['MANDATE_STATE_DIR'] || '.mandate'), DEV_ADMIN_TOKEN_FILE);
    try {
      token = readFileSync(file, 'utf8').trim();
    } catch {
      throw new UsageError(
        `no admin token: pass --admin-token, set MANDATE_ADMIN_TOKEN, or point --admin-token-file at one (tried ${file})`,
      );
    }
  }
  return { url, token };
}

/** A refusal from the admin API, with its status and the server's message (which names the field). */
export class AdminApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'AdminApiError';
  }
}

export async function adminCall(
  target: AdminTarget,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  let res: { ok: boolean; status: number; statusText: string };
  let parsed: Record<string, unknown> = {};
  try {
    res = await fetchWithDeadline(
      `${target.url}${path}`,
      {
        method,
        headers: {
          authorization: `Bearer ${target.token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      },
      { timeoutMs: 15_000 },
      async (r) => {
        try {
          parsed = (await r.json()) as Record<string, unknown>;
        } catch {
          parsed = {};
        }
        return { ok: r.ok, status: r.status, statusText: r.statusText };
      },
    );
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new AdminApiError(0, `cannot reach the admin API at ${target.url} (${cause})`);
  }
  if (!res.ok) {
    const message = typeof parsed['message'] === 'string' ? parsed['message'] : res.statusText;
    // A 400 names the field the user got wrong: a usage mistake (exit 2), like a bad flag.
    if (res.status === 400) throw new UsageError(message);
    throw new AdminApiError(res.status, `admin API ${res.status}: ${message}`);
  }
  return parsed;
}
