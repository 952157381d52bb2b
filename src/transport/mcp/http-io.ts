// Small HTTP helpers of the MCP proxy: header reads, whole answers, JSON-RPC error answers, bounded body reads.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorBody, type JsonRpcId } from './jsonrpc.js';

/** One value of a request header (the first, when repeated). */
export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A whole answer; on a response already started (a stream), the connection is cut instead. */
export function send(
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body: string,
) {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

/** A JSON-RPC error answer. */
export function sendError(
  res: ServerResponse,
  status: number,
  id: JsonRpcId | null,
  code: number,
  message: string,
) {
  send(res, status, { 'content-type': 'application/json' }, errorBody(id, code, message));
}

/** A body over its limit. */
export class BodyTooLarge extends Error {}

/** The request body as text, refusing more than `limit` bytes. */
export async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(header(req, 'content-length'));
  if (Number.isFinite(declared) && declared > limit) throw new BodyTooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new BodyTooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
