// JSON.parse for request bodies, refusing numbers beyond ±2^53: OPA-Envoy keeps them exact, a double would silently round them.

/** A body that is not JSON, or holds a number that cannot be read exactly. */
export class JsonBodyError extends Error {}

const NUMBER = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** Parses JSON text; throws JsonBodyError when it is not JSON or a number's magnitude exceeds 2^53. */
export function parseJsonExactly(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (err) {
    throw new JsonBodyError(`not valid JSON (${(err as Error).message.split('\n')[0]})`);
  }
  // The text is valid JSON here, so every number token is outside a string.
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip a string: to its closing quote, escapes included.
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      NUMBER.lastIndex = i;
      const token = NUMBER.exec(text)?.[0] ?? '';
      if (Math.abs(Number(token)) > Number.MAX_SAFE_INTEGER) {
        throw new JsonBodyError(
          `the number ${token.slice(0, 40)} is beyond ±2^53 and cannot be read exactly`,
        );
      }
      i += token.length - 1;
    }
  }
  return value;
}
