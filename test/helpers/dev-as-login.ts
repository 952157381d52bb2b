// Drives the dev authorization server's real authorization code + PKCE flow as a browser would: sign in, consent, redeem the code.
import { createHash, randomBytes } from 'node:crypto';
import { recordCredential } from './credential-scan.js';

/** A tiny cookie jar: enough for oidc-provider's interaction and session cookies on one host. */
class CookieJar {
  private readonly cookies = new Map<string, string>();

  take(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair?.indexOf('=') ?? -1;
      if (!pair || eq < 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

export interface LoginOptions {
  readonly asUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly user: string;
  readonly scope: string;
  /** RFC 8707 resource indicator of the API the token is for. */
  readonly resource: string;
  readonly redirectUri?: string;
}

/** Runs the whole flow and returns the access token the agent receives. */
export async function loginAsUser(options: LoginOptions): Promise<string> {
  const jar = new CookieJar();
  const redirectUri = options.redirectUri ?? 'http://127.0.0.1:8400/callback';
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const authorize = new URL('/auth', options.asUrl);
  authorize.search = new URLSearchParams({
    client_id: options.clientId,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope: options.scope,
    resource: options.resource,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: randomBytes(8).toString('hex'),
  }).toString();

  const go = async (url: string, init: RequestInit = {}): Promise<Response> => {
    const res = await fetch(new URL(url, options.asUrl), {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers as Record<string, string>), cookie: jar.header() },
    });
    jar.take(res);
    return res;
  };
  const form = (fields: Record<string, string>): RequestInit => ({
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });

  let res = await go(authorize.toString());
  for (let step = 0; step < 10; step++) {
    const location = res.headers.get('location');
    if (location === null) {
      throw new Error(
        `authorization flow stopped with ${res.status}: ${(await res.text()).slice(0, 300)}`,
      );
    }
    if (location.startsWith(redirectUri)) {
      const params = new URL(location).searchParams;
      const code = params.get('code');
      if (code === null)
        throw new Error(
          `authorization failed: ${params.get('error')} ${params.get('error_description')}`,
        );
      const token = await fetch(new URL('/token', options.asUrl), {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${options.clientId}:${options.clientSecret}`).toString('base64')}`,
        },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code,
          redirect_uri: redirectUri,
          code_verifier: verifier,
          resource: options.resource,
        }).toString(),
      });
      const body = (await token.json()) as {
        access_token?: string;
        error?: string;
        error_description?: string;
      };
      if (body.access_token === undefined) {
        throw new Error(`code redemption failed: ${body.error} ${body.error_description}`);
      }
      recordCredential(body.access_token, `a dev AS token for ${options.user}`);
      recordCredential(options.clientSecret, `the client secret of ${options.clientId}`);
      return body.access_token;
    }
    if (/\/interaction\/[^/]+$/.test(new URL(location, options.asUrl).pathname)) {
      const page = await go(location);
      const html = await page.text();
      // The login page asks for a login and password (any will do); the consent page for a click.
      const fields: Record<string, string> = html.includes('name="login"')
        ? { prompt: 'login', login: options.user, password: 'any' }
        : { prompt: 'consent' };
      res = await go(location, form(fields));
    } else {
      res = await go(location);
    }
  }
  throw new Error('authorization flow did not finish in 10 steps');
}
