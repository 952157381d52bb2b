// Bounds how deeply request documents nest, measured without recursion, before anything walks them recursively.

/** Default bound on nesting (`limits.max_nesting_depth`): objects and arrays inside one another. */
export const DEFAULT_MAX_NESTING_DEPTH = 64;

/**
 * True when `value` nests objects or arrays more than `max` levels deep (`{}` and `[]` are one
 * level, a scalar none). Iterative with an explicit stack, and it stops at the first path past the
 * bound: the pipeline's own walks (cache keys, policy input serialisation, audit masking) recurse,
 * and a document thousands of levels deep would overflow the call stack in them.
 */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const values: unknown[] = [value];
  const depths: number[] = [1];
  while (values.length > 0) {
    const current = values.pop() as object;
    const depth = depths.pop() as number;
    if (depth > max) return true;
    const children = Array.isArray(current) ? current : Object.values(current);
    for (const child of children) {
      if (typeof child === 'object' && child !== null) {
        values.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return false;
}

/** The client-facing message for a field nested past the bound, naming the field. */
export function nestingMessage(field: string, max: number): string {
  return `${field}: nests deeper than ${max} levels`;
}

/**
 * The first of these named request fields that nests past `max`, as a message naming it; undefined
 * when all are within the bound.
 */
export function nestingFailureOf(
  fields: readonly (readonly [name: string, value: unknown])[],
  max: number,
): string | undefined {
  for (const [name, value] of fields) {
    if (nestsDeeperThan(value, max)) return nestingMessage(name, max);
  }
  return undefined;
}
