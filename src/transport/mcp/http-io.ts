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

/**
 * The request body as text, refusing more than `limit` bytes. Read with data events rather than an
 * async iterator, which costs a promise per chunk and an iterator per body on every message.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(header(req, 'content-length'));
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new BodyTooLarge());
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        stop();
        // As the iterator did when it was left: nothing more of this body is read.
        req.destroy();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      stop();
      resolve(
        chunks.length === 1
          ? (chunks[0] as Buffer).toString('utf8')
          : Buffer.concat(chunks).toString('utf8'),
      );
    };
    const onError = (err: Error) => {
      stop();
      reject(err);
    };
    const onClose = () => {
      stop();
      reject(new Error('the body ended before it was complete'));
    };
    function stop() {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    }
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
