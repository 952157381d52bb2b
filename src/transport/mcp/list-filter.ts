// Filters MCP list answers (tools, resources, resource templates, prompts) to what the policy lets this caller use.
import type { McpQuestion } from './methods.js';

/** Asks the pipeline one question for the caller; true only on an allow. Never rejects. */
export type Ask = (question: McpQuestion) => boolean | Promise<boolean>;

/** The members of a list result mandate filters, and the question each item stands for. */
const LISTS: Readonly<Record<string, (item: Record<string, unknown>) => McpQuestion | undefined>> =
  {
    tools: (item) => itemQuestion('tools/call', 'tool', item['name']),
    prompts: (item) => itemQuestion('prompts/get', 'prompt', item['name']),
    resources: (item) => itemQuestion('resources/read', 'resource', item['uri']),
    resourceTemplates: (item) => itemQuestion('resources/read', 'resource', item['uriTemplate']),
  };

/** The result members that hold a list mandate filters. */
export const LIST_KEYS: ReadonlySet<string> = new Set(Object.keys(LISTS));

function itemQuestion(method: string, type: string, id: unknown): McpQuestion | undefined {
  return typeof id === 'string' && id.length > 0
    ? { action: `mcp.${method}`, method, resource: { type, id } }
    : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether a parsed JSON-RPC message is a result holding a list mandate filters. */
export function isListAnswer(message: unknown): message is { result: Record<string, unknown> } {
  if (!isObject(message) || !isObject(message['result'])) return false;
  const result = message['result'];
  return Object.keys(LISTS).some((key) => Array.isArray(result[key]));
}

/**
 * The message with each list keeping only the items the caller may use: a tool it may call, a
 * prompt it may get, a resource it may read. An item without a name is dropped (it could not be
 * decided). Recognised by shape, so a list replayed on a resumed stream is filtered too.
 */
export async function filterListAnswer(
  message: { result: Record<string, unknown> },
  ask: Ask,
): Promise<{ result: Record<string, unknown> }> {
  const result: Record<string, unknown> = { ...message.result };
  for (const [key, questionOf] of Object.entries(LISTS)) {
    const items = result[key];
    if (!Array.isArray(items)) continue;
    const verdicts = await Promise.all(
      items.map((item) => {
        const question = isObject(item) ? questionOf(item) : undefined;
        return question === undefined ? false : ask(question);
      }),
    );
    result[key] = items.filter((_, i) => verdicts[i] === true);
  }
  return { ...message, result };
}

/** Server notifications about one resource: the caller sees them only if it may read the resource. */
const RESOURCE_NOTIFICATIONS: ReadonlySet<string> = new Set(['notifications/resources/updated']);

/**
 * Whether a message the server sends must be kept from the caller: a notification about a
 * resource it may not read (asked as `resources/read` of its `uri`, like a listed resource).
 * Everything else passes: server requests (sampling, elicitation, roots) are answered by the
 * client, and that answer is decided (`mcp.response`).
 */
export async function isHiddenFromCaller(message: unknown, ask: Ask): Promise<boolean> {
  if (!isObject(message) || typeof message['method'] !== 'string') return false;
  if (!RESOURCE_NOTIFICATIONS.has(message['method'])) return false;
  const params = message['params'];
  const question = isObject(params)
    ? itemQuestion('resources/read', 'resource', params['uri'])
    : undefined;
  return question === undefined ? true : !(await ask(question));
}
