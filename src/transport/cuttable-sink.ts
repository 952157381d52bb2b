// The end of a relay into an HTTP answer that can be cut cleanly: from the cut on nothing more is written, and the answer ends as if the stream had.
import type { ServerResponse } from 'node:http';
import { Writable } from 'node:stream';

export interface CuttableSink {
  /** Pipe the answer's body here (last stage of a pipeline) instead of into the response. */
  readonly sink: Writable;
  /**
   * Drops whatever has not reached the response yet, ends it (the terminating chunk goes out, so
   * the client sees the stream end, not a network failure) and destroys `source` (the upstream
   * answer), which makes the pipeline reject: {@link CuttableSink.isCut} tells that rejection
   * apart from a failure.
   */
  cut(source: { destroy(): unknown }): void;
  isCut(): boolean;
}

/**
 * A sink writing into `res` with its backpressure (a write waits for `drain`). A failure of the
 * pipeline before any cut still destroys `res`, as piping into it directly would: a broken stream
 * is never ended as if it were complete.
 */
export function createCuttableSink(res: ServerResponse): CuttableSink {
  let cut = false;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (cut || res.write(chunk)) {
        done();
        return;
      }
      const go = () => {
        res.off('drain', go);
        res.off('close', go);
        done();
      };
      res.on('drain', go);
      res.on('close', go);
    },
    final(done) {
      if (!cut) res.end();
      done();
    },
    destroy(err, done) {
      if (err !== null && !cut) res.destroy();
      done(err);
    },
  });
  return {
    sink,
    cut(source) {
      if (cut) return;
      cut = true;
      if (!res.writableEnded) res.end();
      source.destroy();
    },
    isCut: () => cut,
  };
}
