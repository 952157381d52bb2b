// The question key: what, besides the verified claims, a policy input depends on, as the decision cache's key.
import type { AuthzRequest } from './request.js';

/** Questions larger than this are evaluated without the decision cache (a key would cost more than it saves). */
const MAX_CACHE_KEY = 4096;

/** Separates the parts of a simple key; a part holding it takes the JSON form instead. */
const SEP = '\u0000';

function isEmpty(object: Readonly<Record<string, unknown>> | undefined): boolean {
  if (object === undefined) return true;
  for (const _ in object) return false;
  return true;
}

/** No resource attributes and no context: the question is its transport, action and resource. */
function isSimpleQuestion(request: AuthzRequest): boolean {
  const { resource } = request;
  return (resource === undefined || resource.attributes === undefined) && isEmpty(request.context);
}

function simpleKeyOf(request: AuthzRequest): string | undefined {
  const { action, resource } = request;
  const type = resource?.type ?? '';
  const id = resource?.id;
  if (action.includes(SEP) || type.includes(SEP) || (id !== undefined && id.includes(SEP))) {
    return jsonKeyOf(request);
  }
  const key = `s${request.transport}${SEP}${action}${SEP}${resource === undefined ? 'n' : 'r'}${SEP}${type}${SEP}${id === undefined ? 'n' : `i${id}`}`;
  return key.length <= MAX_CACHE_KEY ? key : undefined;
}

function jsonKeyOf(request: AuthzRequest): string | undefined {
  const { action, resource } = request;
  const key = `j${JSON.stringify([request.transport, action, resource ?? null, request.context ?? null])}`;
  return key.length <= MAX_CACHE_KEY ? key : undefined;
}

/** The simple question a token last asked, with its decision-cache key. */
interface LastQuestion {
  readonly transport: string;
  readonly action: string;
  readonly type: string | undefined;
  readonly id: string | undefined;
  readonly key: string;
}

export interface QuestionKeys {
  /**
   * What, besides the verified claims (`owner`), the policy input depends on, as an injective
   * string; undefined when too large to be worth caching. The common question (no attributes, no
   * context) is five separator-joined parts (the transport, the action, whether there is a
   * resource, its type, its id) none of which holds the separator; anything else is a JSON array,
   * so no choice of values makes two different questions look alike. An empty context equals none:
   * the input holds `{}` for both. Keys in a different order only make a miss, never a wrong hit.
   */
  keyOf(request: AuthzRequest, owner: object): string | undefined;
}

/**
 * Question keys that remember each token's last simple question (per interned claims, so the
 * memory goes with the token): a token asking it again gets the very key string it got then.
 * Comparing four short strings costs less than building, flattening and hashing a new key for the
 * decision cache's look-up (the kept key's hash is already computed).
 */
export function createQuestionKeys(): QuestionKeys {
  const lastQuestions = new WeakMap<object, LastQuestion>();
  return {
    keyOf(request, owner) {
      if (!isSimpleQuestion(request)) return jsonKeyOf(request);
      const { resource } = request;
      const type = resource?.type;
      const id = resource?.id;
      const last = lastQuestions.get(owner);
      if (
        last !== undefined &&
        last.action === request.action &&
        last.type === type &&
        last.id === id &&
        last.transport === request.transport
      ) {
        return last.key;
      }
      const key = simpleKeyOf(request);
      if (key !== undefined) {
        key.charCodeAt(0); // flattened once, here, rather than by every look-up
        lastQuestions.set(owner, {
          transport: request.transport,
          action: request.action,
          type,
          id,
          key,
        });
      }
      return key;
    },
  };
}
