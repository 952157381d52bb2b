// Reads a JSON-lines file (an audit log) into records.
import { readFileSync } from 'node:fs';

/** Each non-empty line of `text` parsed as a JSON object. */
export function parseJsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The records of the JSON-lines file at `path`; none when it has not been written yet. */
export function readJsonLines(path: string): Record<string, unknown>[] {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    // nothing written yet
  }
  return parseJsonLines(text);
}
