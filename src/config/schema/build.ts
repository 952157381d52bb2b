// Small builders for the config schema, so every key carries its type, bounds, default and description in one place.
import {
  Type,
  type SchemaOptions,
  type Static,
  type TObject,
  type TProperties,
  type TSchema,
  type TUnsafe,
} from '@sinclair/typebox';

/**
 * Extra annotations the schema may carry beyond JSON Schema: `errorMessage` (the message a
 * failing key gets, as a string or per keyword; `{value}` stands for the offending value) and
 * `x-default` (a default that depends on other keys, shown in the reference instead of `default`)
 * and `x-key` (how the reference names a map's keys).
 */
export interface Annotations extends SchemaOptions {
  readonly errorMessage?: string | Readonly<Record<string, string>>;
  readonly 'x-default'?: string;
  /** How the reference names a map's keys, e.g. `<unit>`. */
  readonly 'x-key'?: string;
}

/**
 * A mapping with a fixed set of keys (unknown keys are an error). Keys that have a `default`
 * are left out of `required`: the validator fills them in, so the resolved type may rely on them.
 */
export function section<P extends TProperties>(properties: P, options: Annotations): TObject<P> {
  const schema = Type.Object(properties, { additionalProperties: false, ...options });
  const raw = schema as { required?: string[] };
  const required = (raw.required ?? []).filter((k) => properties[k]?.default === undefined);
  if (required.length > 0) raw.required = required;
  else delete raw.required;
  return schema;
}

/** An integer in [min, max]. */
export function int(min: number, max: number, options: Annotations) {
  return Type.Integer({ minimum: min, maximum: max, ...options });
}

/** A non-empty string. */
export function str(options: Annotations) {
  return Type.String({ minLength: 1, ...options });
}

/** A list of non-empty strings. */
export function strList(options: Annotations, item: Annotations = {}) {
  return Type.Array(str(item), options);
}

/** One of a fixed set of strings. */
export function oneOf<const T extends readonly string[]>(
  values: T,
  options: Annotations,
): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

/** A boolean. */
export function bool(options: Annotations) {
  return Type.Boolean(options);
}

/** A mapping from names the user picks (checked by `names`, when given) to values of one schema. */
export function map<V extends TSchema>(
  value: V,
  options: Annotations & { readonly names?: Annotations & { readonly pattern?: string } },
): TUnsafe<Record<string, Static<V>>> {
  const { names, ...rest } = options;
  return Type.Unsafe<Record<string, Static<V>>>({
    type: 'object',
    additionalProperties: value,
    ...(names ? { propertyNames: { type: 'string', ...names } } : {}),
    ...rest,
  });
}

/** A key that is no longer accepted; the message says what replaced it. */
export function retired(message: string, description: string): TUnsafe<never> {
  return Type.Unsafe<never>({ not: {}, errorMessage: message, description, deprecated: true });
}
