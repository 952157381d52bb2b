// Typed accessors over untrusted YAML that throw ConfigError naming the exact key path.
import { ConfigError } from './errors.js';

type Obj = Record<string, unknown>;

/** Walks one mapping of the YAML document; every getter knows its full key path for error messages. */
export class Section {
  constructor(
    readonly path: string,
    readonly value: Obj,
  ) {}

  static of(path: string, value: unknown): Section {
    if (value === undefined || value === null) return new Section(path, {});
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw new ConfigError(path || '(root)', 'must be a mapping');
    }
    return new Section(path, value as Obj);
  }

  key(name: string): string {
    return this.path ? `${this.path}.${name}` : name;
  }

  /** Rejects keys this section does not know, so a typo is an error instead of a silent default. */
  only(allowed: readonly string[]): this {
    for (const k of Object.keys(this.value)) {
      if (!allowed.includes(k)) {
        throw new ConfigError(this.key(k), `unknown key (expected one of: ${allowed.join(', ')})`);
      }
    }
    return this;
  }

  has(name: string): boolean {
    return this.value[name] !== undefined && this.value[name] !== null;
  }

  section(name: string): Section {
    return Section.of(this.key(name), this.value[name]);
  }

  string(name: string, fallback?: string): string {
    const v = this.value[name];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw new ConfigError(this.key(name), 'is required');
    }
    if (typeof v !== 'string' || v.length === 0) {
      throw new ConfigError(this.key(name), 'must be a non-empty string');
    }
    return v;
  }

  optionalString(name: string): string | undefined {
    return this.has(name) ? this.string(name) : undefined;
  }

  integer(name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.value[name];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new ConfigError(this.key(name), `must be an integer between ${min} and ${max}`);
    }
    return v;
  }

  boolean(name: string, fallback: boolean): boolean {
    const v = this.value[name];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') throw new ConfigError(this.key(name), 'must be true or false');
    return v;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const v = this.value[name];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      throw new ConfigError(this.key(name), `must be one of: ${allowed.join(', ')}`);
    }
    return v as T;
  }

  stringList(name: string, fallback?: readonly string[]): readonly string[] {
    const v = this.value[name];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw new ConfigError(this.key(name), 'is required');
    }
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || s.length === 0)) {
      throw new ConfigError(this.key(name), 'must be a list of non-empty strings');
    }
    return Object.freeze([...v] as string[]);
  }

  list(name: string): Section[] {
    const v = this.value[name];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw new ConfigError(this.key(name), 'must be a list');
    return v.map((item, i) => Section.of(`${this.key(name)}[${i}]`, item));
  }
}
