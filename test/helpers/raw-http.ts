// HTTP requests with repeated header lines and an unnormalised target, which fetch cannot send.
import { request } from 'node:http';

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

/**
 * Sends `method target` with each header line as given (a name listed twice is sent twice) and
 * the path exactly as written (no URL parsing, so `\` and `..` stay).
 */
export function rawHttp(
  baseUrl: string,
  method: string,
  target: string,
  headers: readonly (readonly [string, string])[] = [],
  body?: string,
): Promise<RawResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path: target });
    const grouped = new Map<string, string[]>();
    for (const [name, value] of headers) {
      const key = name.toLowerCase();
      grouped.set(key, [...(grouped.get(key) ?? []), value]);
    }
    for (const [name, values] of grouped) req.setHeader(name, values);
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.end(body);
  });
}
