// Streams an upstream answer that needs no filtering into the client's response with a plain pipe: the cost of a stream pipeline (an AbortController and an AbortError per answer) is not paid per message.
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';

/** The upstream answer stopped before its end (its connection closed or failed mid-answer). */
export class UpstreamAnswerCut extends Error {
  constructor(cause?: unknown) {
    super('the upstream answer ended before it was complete', { cause });
  }
}

/**
 * Pipes `answer` into `res`, with backpressure. Settles once `res` has finished or closed (the
 * client went away: the caller's close handler ends the upstream request). When the answer fails
 * or closes before its end, `res` is cut (never ended, so a client cannot take a partial answer
 * for a whole one) and the promise rejects with why.
 */
export function relayAnswer(answer: Readable, res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      res.destroy();
      answer.destroy();
      reject(err instanceof Error ? err : new UpstreamAnswerCut(err));
    };
    const done = () => {
      if (settled) return;
      settled = true;
      resolve();
    };
    answer.once('error', fail);
    answer.once('close', () => {
      if (!answer.readableEnded) fail(new UpstreamAnswerCut());
    });
    res.once('finish', done);
    res.once('close', done);
    answer.pipe(res);
  });
}
