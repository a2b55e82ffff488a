import { ConfigurationError } from '../errors.js';

// Checks shared by every option parser: each names the option and says what was expected.

export function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function integer(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigurationError(name, `expected a whole number from ${min} to ${max}, got ${describe(value)}`);
  }
  return value;
}

export function optionalInteger(name: string, value: unknown, min: number, max: number): number | undefined {
  return value === undefined ? undefined : integer(name, value, min, max);
}

export function booleanOption(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new ConfigurationError(name, `expected true or false, got ${describe(value)}`);
  return value;
}

export function optionalString(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new ConfigurationError(name, `expected a string, got ${describe(value)}`);
  return value;
}

export function plainObject(name: string, value: unknown): object {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new ConfigurationError(name, 'expected an object');
  return value;
}

export function clean<T extends object>(o: T): T {
  return withoutUndefined(o) as T;
}

/** A short, safe description of a rejected value for messages (never the value of a token). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return `a string of length ${value.length}`;
  return `a value of type ${typeof value}`;
}
