// Reads an OPA-Envoy-style result (a boolean, or an object with `allowed` and response shaping) into a verdict.
import type { PolicyReason } from './types.js';

/** The verdict of a compatibility policy, with the value for the adapter to shape its answer from. */
export interface CompatVerdict {
  readonly allow: boolean;
  readonly reasons: readonly PolicyReason[];
  /**
   * The policy's value when it is usable (a boolean, or a well-formed object); undefined when the
   * policy gave none or an unusable one, so that nothing of it (headers, body, status, metadata)
   * reaches the answer.
   */
  readonly result: unknown;
  /** Set when the policy produced no usable result: what was wrong, for the operational log. */
  readonly problem?: string;
}

/**
 * The statuses Envoy's HttpStatus enum (envoy.type.v3.StatusCode) names: an answer can carry only
 * these (OPA-Envoy fails on any other, e.g. 418, as Envoy's enum does not know it); they are all
 * statuses Go's net/http names too. Kept here so policy does not depend on Envoy's wire types; a
 * test checks it against the generated enum.
 */
export const ENVOY_HTTP_STATUSES: ReadonlySet<number> = new Set([
  100, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 307, 308,
  400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421,
  422, 423, 424, 426, 428, 429, 431, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
]);

/** A status the answer can carry: one of Envoy's HttpStatus codes. */
function isEnvoyStatus(status: unknown): boolean {
  return typeof status === 'number' && ENVOY_HTTP_STATUSES.has(status);
}

const STRING_LIST_KEYS = ['request_headers_to_remove', 'query_parameters_to_remove'] as const;
const HEADER_KEYS = ['headers', 'response_headers_to_add'] as const;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isStringOrList(v: unknown): boolean {
  return typeof v === 'string' || (Array.isArray(v) && v.every((s) => typeof s === 'string'));
}

function headerMapProblem(key: string, v: unknown): string | undefined {
  const maps = Array.isArray(v) ? v : [v];
  for (const map of maps) {
    if (!isObject(map)) return `${key} must be an object (or a list of objects)`;
    for (const [name, value] of Object.entries(map)) {
      if (!isStringOrList(value)) return `${key}.${name} must be a string or a list of strings`;
    }
  }
  return undefined;
}

/** What is wrong with an object result, or undefined when OPA-Envoy would accept it. */
function objectProblem(result: Record<string, unknown>): string | undefined {
  if (typeof result['allowed'] !== 'boolean') return 'the result object has no boolean "allowed"';
  for (const key of HEADER_KEYS) {
    if (result[key] !== undefined) {
      const problem = headerMapProblem(key, result[key]);
      if (problem) return problem;
    }
  }
  for (const key of STRING_LIST_KEYS) {
    const v = result[key];
    if (v !== undefined && !(Array.isArray(v) && v.every((s) => typeof s === 'string'))) {
      return `${key} must be a list of strings`;
    }
  }
  const query = result['query_parameters_to_set'];
  if (query !== undefined) {
    if (!isObject(query)) return 'query_parameters_to_set must be an object';
    for (const [name, value] of Object.entries(query)) {
      if (!isStringOrList(value))
        return `query_parameters_to_set.${name} must be a string or a list of strings`;
    }
  }
  if (result['body'] !== undefined && typeof result['body'] !== 'string') {
    return 'body must be a string';
  }
  const status = result['http_status'];
  if (status !== undefined && !isEnvoyStatus(status)) {
    return `http_status must be an HTTP status code Envoy accepts (not ${JSON.stringify(status)})`;
  }
  if (result['dynamic_metadata'] !== undefined && !isObject(result['dynamic_metadata'])) {
    return 'dynamic_metadata must be an object';
  }
  return undefined;
}

/**
 * Reads `[{ "result": <value> }]` from the compatibility entrypoint. Only `true` or an object with
 * `allowed: true` (and otherwise well-formed) allows. Where OPA-Envoy fails the request (no
 * decision, another type, a malformed object), this is a deny whose reason says what was wrong,
 * with no result to shape the answer from and a `problem` to log; never a bare error.
 */
export function readCompatResult(resultSet: unknown, entrypoint: string): CompatVerdict {
  const first: unknown =
    Array.isArray(resultSet) && resultSet.length === 1 ? resultSet[0] : undefined;
  const result = isObject(first) ? first['result'] : undefined;
  const unusable = (message: string): CompatVerdict => ({
    allow: false,
    reasons: [{ code: 'policy_denied', message }],
    result: undefined,
    problem: message,
  });
  if (result === undefined) return unusable(`the policy produced no decision at ${entrypoint}`);
  const denied: CompatVerdict = {
    allow: false,
    reasons: [{ code: 'policy_denied', message: `denied by the policy at ${entrypoint}` }],
    result,
  };
  if (typeof result === 'boolean') return result ? { allow: true, reasons: [], result } : denied;
  if (!isObject(result)) {
    return unusable(`the policy result at ${entrypoint} is neither a boolean nor an object`);
  }
  const problem = objectProblem(result);
  if (problem) return unusable(`the policy result at ${entrypoint} is malformed: ${problem}`);
  return result['allowed'] === true ? { allow: true, reasons: [], result } : denied;
}
